"""AI studio benchmark: an offline build turn and the SSE stream's first event on a real server.

    python benchmarks/ai_studio.py            # 60 build turns, 60 streams
    python benchmarks/ai_studio.py --quick    # 10 of each: a smoke test
    python benchmarks/ai_studio.py --check    # exit 1 if a target is missed

A `dagy serve` on a temporary home (rate limiter off; a tier "bench" with the offline planner at
0.001 credits a turn, so the plan's grant lasts), called with its local token over one keep-alive
http.client connection:

1. build turn: POST /ai-studio/sessions/{id}/messages with the spec's S3 request (intent build),
   each in a new session, timed from the request to the whole 200 body (plan, checks, canvas round
   trip, YAML and Python, credits spent, stored). Target: p50 < 100 ms.
2. SSE first event: POST .../messages/stream, timed from the request to the first complete event
   (the stream is then read to its end). Target: p50 < 50 ms.
One warm-up of each is not counted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

SPEC_MESSAGE = (
    "Build a workflow that reads JSON from S3, validates schema, normalizes records, "
    "deduplicates, and writes back to S3."
)
TIERS = {
    "bench": {
        "provider": "offline",
        "credits_per_turn": 0.001,
        "max_turns_per_session": 1_000_000,
        "max_attachments_per_session": 10,
    }
}
TARGET_TURN_MS = 100.0
TARGET_FIRST_EVENT_MS = 50.0


def _dagy() -> list[str]:
    beside = Path(sys.executable).parent / "dagy"
    if beside.is_file():
        return [str(beside)]
    return [sys.executable, "-c", "from dagy.cli.main import main; main()"]


class Server:
    def __init__(self, home: Path) -> None:
        env = {
            **os.environ,
            "DAGY_LOCAL_DIR": str(home),
            "DAGY_RATE_LIMIT_PER_MINUTE": "0",
            "DAGY_STUDIO_TIERS": json.dumps(TIERS),
        }
        home.mkdir(parents=True)
        self.log = open(home.parent / "serve.log", "wb")  # noqa: SIM115 - the child's for its life
        self.proc = subprocess.Popen(
            [*_dagy(), "serve", "--port", "0", "--log-level", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                info = json.loads((home / "server.json").read_text())
                if info.get("pid") == self.proc.pid:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                log = (home.parent / "serve.log").read_text()
                raise SystemExit(f"dagy serve did not start: {log}")
            time.sleep(0.05)
        api = urllib.parse.urlsplit(info["api_url"])
        self.host, self.port, self.base = str(api.hostname), int(api.port or 80), api.path
        self.token = info["token"]
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.conn.request(method, self.base + path, json.dumps(body or {}), headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None

    def stop(self) -> None:
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def session(server: Server) -> str:
    status, body = server.call("POST", "/ai-studio/sessions", {"tier": "bench"})
    assert status == 201, body
    return str(body["session_id"])


def build_turn(server: Server) -> float:
    sid = session(server)
    started = time.perf_counter()
    status, body = server.call(
        "POST", f"/ai-studio/sessions/{sid}/messages", {"message": SPEC_MESSAGE, "intent": "build"}
    )
    elapsed = time.perf_counter() - started
    if status != 200 or not body["validation"]["valid"]:
        raise SystemExit(f"build turn failed: {status} {body}")
    return elapsed * 1000


def first_event(server: Server) -> float:
    sid = session(server)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    headers = {
        "Authorization": f"Bearer {server.token}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
    }
    body = json.dumps({"message": SPEC_MESSAGE, "intent": "build"})
    started = time.perf_counter()
    conn.request("POST", f"{server.base}/ai-studio/sessions/{sid}/messages/stream", body, headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"stream refused: {resp.status} {resp.read()!r}")
    first: float | None = None
    last_event = ""
    while True:
        line = resp.fp.readline()
        if not line:
            break
        text = line.decode().rstrip("\r\n")
        if text.startswith("event:"):
            last_event = text.split(":", 1)[1].strip()
        if text == "" and first is None:
            first = time.perf_counter() - started
        if text == "" and last_event in ("result", "error"):
            break
    conn.close()
    if first is None or last_event != "result":
        raise SystemExit(f"the stream ended without a result (last event {last_event!r})")
    return first * 1000


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 of each: a smoke test")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("-n", type=int, default=None, help="turns and streams to time")
    args = parser.parse_args()
    n = args.n or (10 if args.quick else 60)
    tmp = Path(tempfile.mkdtemp(prefix="dagy-bench-studio-"))
    server = Server(tmp / "home")
    try:
        build_turn(server)
        first_event(server)
        turns = [build_turn(server) for _ in range(n)]
        firsts = [first_event(server) for _ in range(n)]
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    turn_p50, first_p50 = statistics.median(turns), statistics.median(firsts)
    print(f"AI studio, offline planner, {n} of each (ms)")
    print(
        f"  build turn (POST messages)  p50 {turn_p50:7.1f}  p90 {p(turns, 0.9):7.1f}  "
        f"max {max(turns):7.1f}   target p50 < {TARGET_TURN_MS:g}"
    )
    print(
        f"  SSE first event             p50 {first_p50:7.1f}  p90 {p(firsts, 0.9):7.1f}  "
        f"max {max(firsts):7.1f}   target p50 < {TARGET_FIRST_EVENT_MS:g}"
    )
    missed = turn_p50 >= TARGET_TURN_MS or first_p50 >= TARGET_FIRST_EVENT_MS
    if args.check and missed:
        print("target missed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
