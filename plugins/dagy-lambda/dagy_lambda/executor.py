"""The ``lambda`` executor (execution mode ``task-isolated``): one Lambda invocation per task
attempt, inputs and result through S3.

Each attempt's inputs go to ``s3://<bucket>/<prefix>/runs/<run_id>/<task_run_id>/<n>/inputs.json``;
the function (dagy_lambda.handler) loads the task from the run's artifact, runs it and writes
``output.json`` beside them, which becomes the task's artifact here. What the task printed comes
back in the answer and goes to its task.log. The run's artifact is the one its server fetched
(``DAGY_ARTIFACT_URI``, set for server-run children), so only deployed flows run on Lambda.

Timeouts: the engine abandons an attempt past its ``timeout_seconds`` (its result is ignored);
Lambda itself stops the invocation at the tier's timeout. A cancel abandons it likewise.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from dagy.config import settings
from dagy.engine import artifacts
from dagy.engine.executors import Attempt, Outcome
from dagy.sdk import _codec
from dagy.store.records import utcnow
from dagy_lambda.functions import LambdaError, invoke

NOT_DEPLOYED = "the lambda executor runs deployed flows (no artifact for this run)"


class LambdaExecutor:
    name = "lambda"
    capabilities: tuple[str, ...] = ("cpu", "remote", "task_isolated", "memory_isolated")
    max_concurrent_runs: int | None = 1000  # Lambda's default account concurrency
    max_timeout_seconds: int | None = 900

    def __init__(self, completions: queue.SimpleQueue[Outcome], max_workers: int) -> None:
        self._completions = completions
        self._slots = threading.BoundedSemaphore(max(1, max_workers))
        self._store: Any = None

    def _s3(self) -> Any:
        if self._store is None:
            from dagy.artifacts import get_store

            self._store = get_store("s3")
        return self._store

    @staticmethod
    def run_flow(*, run: Any, code: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        """Execution mode ``in-process``: the whole run in one invocation (handler mode ``flow``);
        `dagy serve` records its answer as the run's status, output and error."""
        if not code.get("artifact_uri"):
            return {"ok": False, "error": f"LambdaError: {NOT_DEPLOYED}"}
        return invoke(
            {
                "mode": "flow",
                "artifact_uri": code["artifact_uri"],
                "code_hash": code.get("code_hash"),
                "entrypoint": code.get("entrypoint"),
                "flow_name": run.flow_name,
                "flow_version": run.flow_version,
                "parameters": parameters,
                "max_workers": run.max_workers,
            }
        )

    def submit(self, attempt: Attempt) -> None:
        threading.Thread(target=self._run, args=(attempt,), daemon=True).start()

    def cancel(self, attempt: Attempt) -> None:
        attempt.abandoned = True  # an invocation cannot be recalled; its answer is ignored

    def shutdown(self) -> None:
        pass

    def _run(self, attempt: Attempt) -> None:
        with self._slots:
            outcome = self._attempt(attempt)
        if not attempt.abandoned:
            self._completions.put(outcome)

    def _attempt(self, attempt: Attempt) -> Outcome:
        started = utcnow()
        artifact_uri = settings.ARTIFACT_URI.get()
        if not artifact_uri:
            return Outcome.failed(
                attempt,
                started,
                f"LambdaError: {NOT_DEPLOYED}",
                retryable=False,
            )
        store = self._s3()
        base = store.uri(
            f"{settings.LAMBDA_PREFIX.get()}/runs/{attempt.run_id}/"
            f"{attempt.task_run_id}/{attempt.number}"
        )
        event = {
            "mode": "task",
            "artifact_uri": artifact_uri,
            "code_hash": settings.ARTIFACT_CODE_HASH.get(),
            "entrypoint": attempt.entrypoint,
            "flow_name": settings.FLOW_NAME.get(),
            "flow_version": settings.FLOW_VERSION.get(),
            "task_name": attempt.task_name,
            "module": attempt.module,
            "qualname": attempt.qualname,
            "inputs_uri": base + "/inputs.json",
            "output_uri": base + "/output.json",
            "max_bytes": attempt.max_bytes,
        }
        try:
            store.write(
                event["inputs_uri"],
                _codec.dumps({"args": attempt.args, "kwargs": attempt.kwargs}).encode(),
            )
            answer = invoke(event)
        except (LambdaError, TypeError, ValueError) as exc:
            return Outcome.failed(attempt, started, f"{type(exc).__name__}: {exc}")
        artifacts.make_dir(attempt.task_dir)
        with open(attempt.task_dir / "task.log", "a", encoding="utf-8") as log:
            log.write(str(answer.get("log") or ""))
        if not answer.get("ok"):
            return Outcome.failed(attempt, started, str(answer.get("error") or "LambdaError"))
        data = store.read(str(answer["output_uri"]))
        value = _codec.loads(data)
        path = artifacts.write(attempt.artifact_dir, data)
        return Outcome.succeeded(attempt, started, value, str(path))
