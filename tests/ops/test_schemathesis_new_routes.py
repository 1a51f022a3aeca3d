"""A bounded schemathesis run (issue 18: "no 5xx") against a real `dagy serve` over the routes
issue 18 added or changed: /ui/*, /admin/* (customers and exceptions) and /billing/*, as a super
admin, with Stripe configured against a stand-in of its API so that the billing routes answer
what they answer in production rather than the 503 of an unconfigured server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ops.support import ROOT, FakeStripe, serve

pytest.importorskip("schemathesis")

ROUTES = r"^/v1/(ui/|admin/|admin$|billing/)"


def test_no_new_route_answers_5xx_to_generated_requests(tmp_path: Path):
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        pytest.skip("schemathesis's command is not on PATH")
    with FakeStripe() as stripe_api:
        env = {
            "STRIPE_API_KEY": "sk_test_schemathesis_0000",
            "STRIPE_WEBHOOK_SECRET": "whsec_schemathesis_0000",
            "DAGY_STRIPE_API_BASE": stripe_api.url,
            "DAGY_STRIPE_PRICE_PROFESSIONAL": "price_pro",
            "DAGY_STRIPE_PRICE_ENTERPRISE": "price_ent",
        }
        srv = serve(tmp_path / "home", env=env)
        try:
            token = srv.login(ROOT)
            done = subprocess.run(
                [
                    st, "run", f"{srv.url}/docs/openapi.json", "--url", srv.url,
                    "--include-path-regex", ROUTES,
                    "--checks", "not_a_server_error",
                    "--max-examples", "5", "--seed", "18", "--workers", "1",
                    "--phases", "examples,coverage,fuzzing",
                    "--generation-database", "none",
                    "--header", f"Authorization: Bearer {token}",
                    "--no-color",
                ],
                capture_output=True, text=True, timeout=120, cwd=tmp_path,
            )  # fmt: skip
            log = srv.stderr_path.read_text()  # type: ignore[attr-defined]
        finally:
            srv.stop()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Tested: " in done.stdout and "Traceback" not in log
