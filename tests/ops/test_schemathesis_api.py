"""A bounded schemathesis run over the WHOLE API of a real `dagy serve` (issue 21): generated
requests from the served OpenAPI document, fixed seed, and 0 failures of

- not_a_server_error: no 5xx;
- status_code_conformance: every status answered is declared for the operation;
- content_type_conformance: every content type answered is declared;
- response_schema_conformance: every body matches its declared schema (errors: ``Error``);
- positive_data_acceptance: a request valid per the document is not refused with a 400,
  except on the operations of ``SEMANTIC`` below, each with the reason no JSON schema can say
  what the service accepts there.

The caller is the server's own token (server.json: owner of the personal org and a super admin,
so /admin/* answer for real); POST /auth/logout is left out, it would end the run's session.
Stripe is a stand-in (tests/ops/support.py), so /billing/* answer as configured. A flow, a
secret, an environment, a draft and an AI studio session are made first (``seed``) and their ids
stand in for generated path parameters about every other time (tests/ops/schemathesis_hooks.py,
which also leaves out generated ``next_token`` cursors).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.ops.support import FakeStripe, serve

pytest.importorskip("schemathesis")

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
)
# Operations where a request valid per the document may still be a 400: what the service checks
# there depends on other data or on rules no JSON schema expresses. Every other operation must
# accept whatever its document calls valid.
SEMANTIC = {
    ("POST", "/v1/alert-rules"): "channel_ids must name channels that exist (400 otherwise)",
    ("POST", "/v1/channels"): "config_json's fields depend on channel_type (docs/notifications.md)",
    ("POST", "/v1/sensors"): "config_json's fields depend on sensor_type (docs/sensors.md)",
    ("POST", "/v1/schedules"): "fields depend on mode; timezone is an IANA zone name",
    ("PATCH", "/v1/schedules/{schedule_id}"): "cron, interval and times are checked per mode",
    ("POST", "/v1/runs"): "deployment or flow_name+flow_version; parameters per the flow",
    ("POST", "/v1/flows"): "flow_spec is a whole FlowSpec, checked task by task",
    ("POST", "/v1/flows/validate"): "the pipeline or spec is checked step by step",
    ("POST", "/v1/dag-drafts"): "canvas_json is a graph checked node by node",
    ("PUT", "/v1/dag-drafts/{draft_id}"): "canvas_json is a graph checked node by node",
    ("POST", "/v1/dag-drafts/{draft_id}/deploy"): "the version must follow the flow's versions",
    ("POST", "/v1/nodes/registry"): "a node definition is checked connector by connector",
    ("PUT", "/v1/nodes/registry/{node_type}"): "node_type must repeat the path's",
    ("POST", "/v1/nodes/validate-connection"): "both node types must be registered",
    ("PUT", "/v1/environments/reorder"): "order must name environments that exist",
    ("POST", "/v1/ai-studio/sessions"): "canvas_state is a graph checked node by node",
    ("POST", "/v1/ai-studio/sessions/{session_id}/bind-flow"): "the session must hold a workflow",
    ("POST", "/v1/auth/token"): "the code must be one the sign-in page issued (invalid_grant)",
    ("POST", "/v1/billing/portal"): "the org must have subscribed first (a Stripe customer)",
    ("POST", "/v1/billing/webhook"): "the body must carry Stripe's signature",
    ("GET", "/v1/usage/timeseries"): "the range is at most 366 days",
    ("GET", "/v1/usage/costs"): "the range is at most 366 days",
    ("PATCH", "/v1/ai-studio/sessions/{session_id}/canvas"): "canvas_state is a checked graph",
    ("POST", "/v1/ai-studio/sessions/{session_id}/messages"): "a turn that builds nothing is 422",
    ("POST", "/v1/ai-studio/sessions/{session_id}/messages/stream"): "the same turn, as SSE",
    ("POST", "/v1/ai-studio/sessions/{session_id}/attachments/initiate"): (
        "the file type is judged from file_name and content_type together"
    ),
    ("POST", "/v1/artifacts/initiate"): "the flow version and deployment are checked together",
}


FLOW = """
from dagy import flow


@flow(name="fuzzed", version="1.0.0")
def fuzzed(n: int = 1):
    return {"n": n}
"""


def seed(srv: ServerProcess, folder: Path) -> dict[str, str]:
    """A few real resources, so generated requests reach more than 404s: their ids replace a
    generated path parameter of the same name (schemathesis_hooks.py), about every other time."""
    from tests.server.flows_support import build_spec

    def make(method: str, path: str, body: object) -> dict[str, Any]:
        status, _, answer = srv.request(method, path, token=srv.local_token, body=body)
        assert status in (200, 201, 202), (path, answer)
        return answer

    (folder / "fuzzed.py").write_text(FLOW, encoding="utf-8")
    spec = build_spec(folder / "fuzzed.py", "fuzzed")
    make("POST", "/flows", {"flow_spec": spec, "deployment_name": "fuzzed"})
    make("POST", "/secrets", {"secret_name": "fuzzed", "value": "v"})
    make("POST", "/environments", {"env_name": "fuzzed"})
    draft = make("POST", "/dag-drafts", {"name": "fuzzed"})
    session = make("POST", "/ai-studio/sessions", {"title": "fuzzed"})
    # No run, schedule or sensor: retrying, triggering or testing them starts real runs, and
    # the run would spend its minutes executing them.
    return {
        "flow_name": "fuzzed",
        "flow_version": "1.0.0",
        "name": "fuzzed",
        "secret_name": "fuzzed",
        "env_name": "fuzzed",
        "draft_id": draft["draft_id"],
        "session_id": session["session_id"],
    }


def _config(path: Path) -> Path:
    """The checks live here, not on the command line: a CLI --checks would override the
    per-operation settings."""
    lines = [f'hooks = "{HOOKS}"', "", "[checks]", "enabled = false"]
    lines += [f"{check}.enabled = true" for check in CHECKS]
    lines.append("")
    for (method, route), reason in sorted(SEMANTIC.items()):
        lines += [
            f"# {reason}",
            "[[operations]]",
            f'include-path = "{route}"',
            f'include-method = "{method}"',
            "checks.positive_data_acceptance.enabled = false",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


@pytest.mark.timeout(300)  # one bounded run: 2.5 min at load 20 on 2 cores, ~1 min idle
def test_the_whole_api_answers_as_its_openapi_document_says(tmp_path: Path):
    st = shutil.which("st") or shutil.which("schemathesis")
    if st is None:
        pytest.skip("schemathesis's command is not on PATH")
    config = _config(tmp_path / "schemathesis.toml")
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
            known = json.dumps(seed(srv, tmp_path))
            done = subprocess.run(
                [
                    st, "--config-file", str(config), "run", f"{srv.url}/docs/openapi.json",
                    "--url", srv.url,
                    "--exclude-path", "/v1/auth/logout",
                    "--max-examples", "6", "--seed", "21", "--workers", "2",
                    "--phases", "examples,coverage,fuzzing",
                    "--generation-database", "none",
                    "--request-timeout", "30",
                    "--header", f"Authorization: Bearer {srv.local_token}",
                    "--no-color",
                ],
                capture_output=True, text=True, timeout=240, cwd=tmp_path,
                env={**os.environ, "DAGY_FUZZ_IDS": known},
            )  # fmt: skip
            log = srv.stderr_path.read_text()  # type: ignore[attr-defined]
        finally:
            srv.stop()
    report = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "Tested: " in done.stdout and "Traceback" not in log, report
