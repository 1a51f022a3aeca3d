"""Start `dagy serve`: own the store, publish server.json, serve until SIGINT/SIGTERM, clean up."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

from dagy.config import server_file, settings
from dagy.config.paths import DagyPaths
from dagy.config.processes import process_start_time
from dagy.errors import ConfigError, StoreBusyError
from dagy.store.records import iso_z, utcnow

log = logging.getLogger("dagy.server")
RECOVERY_INTERVAL = 5.0
LOCAL_USER = "local@localhost"


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    base_path: str = "/v1"
    local: bool = False
    local_email: str = LOCAL_USER
    log_level: str = "info"


def normalize_base_path(raw: str) -> str:
    path = "/" + raw.strip().strip("/")
    if path != "/" and not all(
        part.replace("-", "").replace("_", "").isalnum() for part in path[1:].split("/")
    ):
        raise ConfigError(f"Invalid --base-path {raw!r}: use letters, digits, '-', '_' and '/'")
    return "" if path == "/" else path


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def serve(options: ServeOptions, paths: DagyPaths | None = None) -> None:
    import uvicorn

    from dagy.auth.jwt import JWTSettings
    from dagy.scheduler import loop as scheduler_loop
    from dagy.server import sensor_loop
    from dagy.server import workers as run_workers
    from dagy.server.app import create_asgi
    from dagy.server.state import RateLimitSettings, ServerState
    from dagy.services.accounts import users as accounts
    from dagy.services.notifications import alerts
    from dagy.store.duckdb_store import DuckDBStore

    paths = paths or DagyPaths.from_env()
    base = normalize_base_path(options.base_path)
    if options.local and not is_loopback(options.host):
        raise ConfigError(
            "--local serves a single user without passwords: it binds to loopback only"
        )
    running = server_file.read(paths)
    if running is not None:
        raise StoreBusyError(
            f"A Dagy server is already running for {paths.home} (pid {running.pid}, {running.url})"
        )
    jwt_settings = JWTSettings.from_env()
    sock = _bind(options.host, options.port)
    store = DuckDBStore(paths)
    try:
        store.hold()
    except BaseException:
        sock.close()
        raise
    store.enforce_quotas = not options.local  # plans and quotas are for a multi-user server
    state = ServerState(
        store,
        paths,
        base_path=base,
        local_mode=options.local,
        jwt=jwt_settings,
        rate_limit=RateLimitSettings(
            settings.RATE_LIMIT_PER_MINUTE.get(), settings.RATE_LIMIT_BURST.get()
        ),
    )
    port = sock.getsockname()[1]
    root = f"http://{_url_host(options.host)}:{port}"
    state.api_url = root + base
    stop = threading.Event()
    scheduler = None
    sensors = None
    notifier = None
    try:
        if options.local and not accounts.has_users(store):
            accounts.create_user(store, options.local_email, None, role="owner")
        elif not accounts.has_users(store) and jwt_settings is None:
            print(
                "No accounts yet. Create the first owner in another terminal with:\n"
                "  dagy users create --email you@example.com --role owner\n"
                "(it asks for a password, or reads one line from stdin with --password-stdin).",
                file=sys.stderr,
            )
        info = server_file.ServerInfo(
            pid=os.getpid(),
            pid_started=process_start_time(os.getpid()),
            url=root,
            api_url=root + base,
            token=state.local_token,
            started_at=iso_z(utcnow()),
            local_mode=options.local,
        )
        server_file.write(paths, info)
        state.workers = run_workers.from_env(store, paths)
        state.workers.start(info.api_url, state.local_token)
        scheduler = scheduler_loop.from_env(store, state.workers.wake)
        scheduler.start()
        sensors = sensor_loop.from_env(store, paths, state.workers.wake)
        sensors.start()
        notifier = alerts.notifier(store)
        notifier.start()
        sweeper = threading.Thread(target=_sweep, args=(store, stop), daemon=True, name="recover")
        sweeper.start()
        mode = "local mode (single user, no passwords)" if options.local else "multi-user mode"
        print(f"Dagy server listening on {root} (API at {root}{base}; {mode})", file=sys.stderr)
        config = uvicorn.Config(
            create_asgi(state),
            log_level=options.log_level,
            timeout_graceful_shutdown=30,
            lifespan="on",
            access_log=options.log_level == "debug",
        )
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler
        # that was there before it: make that one end the process through our cleanup below.
        previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            _uvicorn_server(config, state.workers.stop).run(sockets=[sock])
        except _Stopped:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        stop.set()
        if scheduler is not None:
            scheduler.stop()
        if sensors is not None:
            sensors.stop()
        if state.workers is not None:  # already stopped after a graceful shutdown; then a no-op
            state.workers.stop()
        if notifier is not None:  # unmatched events and pending jobs wait in the store
            notifier.stop()
        server_file.remove(paths, pid=os.getpid())
        store.release()
        sock.close()
        print("Dagy server stopped; the store is released.", file=sys.stderr)


class _Stopped(Exception):
    pass


def _uvicorn_server(config: Any, before_shutdown: Any) -> Any:
    """uvicorn's Server, stopping the run workers first on shutdown: their children send their
    last writes (a cancelled run's final state) while the server still answers."""
    import asyncio

    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            await asyncio.to_thread(before_shutdown)
            await super().shutdown(sockets)

    return Server(config)


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped()


def _sweep(store: object, stop: threading.Event) -> None:
    """Fail the runs of CLI processes that died while the server owned the store."""
    while not stop.wait(RECOVERY_INTERVAL):
        try:
            store.recover()  # type: ignore[attr-defined]
        except Exception:  # keep sweeping; a transient error must not stop recovery
            log.exception("recovery sweep failed")
