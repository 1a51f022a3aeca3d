"""Development sessions: ``nox`` runs tests and lint; ``nox -s bench`` runs the benchmarks."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
# Plugin packages installed beside the core for tests, lint and benchmarks.
PLUGINS = ["./plugins/dagy-s3", "./plugins/dagy-lambda", "./plugins/dagy-dask"]


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, in parallel: ``nox -s tests -- -k retries`` passes arguments to pytest."""
    session.install(".[dev]", *PLUGINS)
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy."""
    session.install(".[dev]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "dagy")
    session.run("mypy", "plugins/dagy-dask/dagy_dask")


@nox.session
def bench(session: nox.Session) -> None:
    """Engine, executor, store, start-up, API, usage, TUI, builder, AI studio and web UI benchmarks: ``-- --quick`` or ``-- --check``.

    ``-- --peers``: benchmarks/peers.py also runs Prefect and Dagster (in virtualenvs of its own).
    """
    session.install(".[server,tui]", "playwright>=1.40", *PLUGINS)
    # --peers is peers.py's alone: taken out of posargs so the other scripts never see it.
    peers = ["--peers"] if "--peers" in session.posargs else []
    session.posargs[:] = [a for a in session.posargs if a != "--peers"]
    session.run("python", "benchmarks/engine.py", *session.posargs)
    session.run("python", "benchmarks/peers.py", *peers, *session.posargs)
    session.run("python", "benchmarks/executors.py", *session.posargs)
    session.run("python", "benchmarks/api.py", *session.posargs)
    session.run("python", "benchmarks/runs.py", *session.posargs)
    session.run("python", "benchmarks/scheduler.py", *session.posargs)
    session.run("python", "benchmarks/usage.py", *session.posargs)
    session.run("python", "benchmarks/sql.py", *session.posargs)
    session.run("python", "benchmarks/tui.py", *session.posargs)
    session.run("python", "benchmarks/builder.py", *session.posargs)
    session.run("python", "benchmarks/ai_studio.py", *session.posargs)
    session.run("python", "benchmarks/web.py", *session.posargs)
