"""The process environment of a run `dagy serve` executes: its deployment's environment
variables, ``DAGY_ENVIRONMENT``, and its secrets in a private file named by ``DAGY_SECRETS_FILE``.

Every server run gets a secrets file (those of no environment, plus its environment's own), so
``dagy.secret`` in a server run reads only what its org and environment may see. The file lives
in a 0700 temporary folder outside the Dagy home and is removed when the run ends.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from dagy.errors import RequestError
from dagy.sdk.secrets import ENVIRONMENT_VAR, FILE_VAR
from dagy.services.vault import environments, secrets
from dagy.store import flows as flows_sql
from dagy.store.duckdb_store import DuckDBStore
from dagy.store.records import RunRecord

log = logging.getLogger("dagy.server")


def environment_of(store: DuckDBStore, run: RunRecord) -> str | None:
    """The environment the run's deployment belongs to (None without one)."""
    if not run.deployment_name:
        return None
    deployment = flows_sql.get_deployment(store, run.org_id, run.deployment_name)
    return deployment.environment if deployment is not None else None


@contextlib.contextmanager
def for_run(
    store: DuckDBStore, run: RunRecord, base: Mapping[str, str]
) -> Iterator[dict[str, str]]:
    """``base`` with what the run gets, for the block that starts and waits for its child."""
    env_name = environment_of(store, run)
    env = {**base, **environments.variables_for(store, run.org_id, env_name)}
    if env_name:
        env[ENVIRONMENT_VAR] = env_name
    else:
        env.pop(ENVIRONMENT_VAR, None)
    folder = Path(tempfile.mkdtemp(prefix="dagy-run-"))  # 0700
    try:
        dest = folder / "secrets.json"
        try:
            secrets.materialize_for_run(store, run.org_id, env_name, dest)
        except RequestError as exc:  # e.g. no master key: the run starts, dagy.secret says why
            log.warning("run %s gets no secrets: %s", run.run_id, exc.message)
        env[FILE_VAR] = str(dest)
        yield env
    finally:
        shutil.rmtree(folder, ignore_errors=True)
