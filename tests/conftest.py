"""Fixtures that build real things: a temporary DAGY_LOCAL_DIR, flow files, the real `dagy` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths

REPO = Path(__file__).resolve().parent.parent
DAGY = shutil.which("dagy") or ""

# The tests' receivers (webhooks, polled URLs, http_fetch targets) listen on loopback, which the
# egress policy refuses by default: allowed here, in one place, for this process and every
# `dagy serve` / `dagy` child it starts (they inherit os.environ). tests/test_egress.py checks
# the default without it.
TEST_EGRESS_ALLOW = "127.0.0.1,::1"
os.environ["DAGY_EGRESS_ALLOW"] = TEST_EGRESS_ALLOW


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: two workers per core. A test spends about a quarter of its time waiting on
    child processes (`dagy` commands, `dagy serve` start-up and shutdown), sockets and Chromium;
    with one worker per core those waits leave the cores idle. PYTEST_XDIST_AUTO_NUM_WORKERS
    still decides when set (xdist reads it when this returns None)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return 2 * cores


def pytest_sessionstart(session: pytest.Session) -> None:
    """Byte-compile the code the suite's ~1200 `dagy` child processes import, once, before they
    start. Python writes .pyc files on first import, unless PYTHONDONTWRITEBYTECODE is set (as in
    many containers and CI images): then every child compiled each changed module from source,
    ~0.05 s CPU per command and ~0.17 s per `dagy serve`. compileall writes them regardless, and
    only for files whose .pyc is missing or stale (a stat each otherwise)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the controller did it
        return
    import compileall

    import dagy

    for folder in (Path(dagy.__file__).parent, REPO / "plugins"):
        if folder.is_dir():
            compileall.compile_dir(folder, quiet=2, workers=1)


# Longest first (mean seconds per test, measured on the whole suite): xdist hands tests out in
# collection order, so a slow directory collected last (plugins/, tests/web) ran alone at the end
# while the other workers sat idle. Paths not named keep their place after these, in their order.
SLOW_FIRST = (
    "tests/ops/test_schemathesis_api.py",  # one test of ~30 s
    "tests/browser",
    "tests/web",
    "tests/tui",
    "tests/e2e",
    "plugins",
    "tests/replay",
    "tests/ops",
    "tests/admin",
    "tests/engine",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        for index, prefix in enumerate(SLOW_FIRST):
            if path == prefix or path.startswith(prefix + "/"):
                return index
        return len(SLOW_FIRST)

    items.sort(key=rank)  # stable: a module's tests stay together and in order


@pytest.fixture
def dagy_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DAGY_LOCAL_DIR for this test (never the user's ~/.dagy)."""
    home = tmp_path / "dagy-home"
    monkeypatch.setenv("DAGY_LOCAL_DIR", str(home))
    for name in (
        "DAGY_PROFILE",
        "DAGY_API_URL",
        "DAGY_APP_URL",
        "DAGY_LOCAL_VERBOSE",
        "DAGY_LOCAL_ARTIFACT_MAX_BYTES",
        "DAGY_LOCAL_KEEP_RUNS",
        "DAGY_DEBUG",
        "DAGY_TOKEN",
        "DAGY_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def paths(dagy_home: Path) -> DagyPaths:
    return DagyPaths(dagy_home)


@pytest.fixture
def write_flow(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a flow module (dedented source) to tmp_path/<name>.py and return its path."""

    def write(source: str, name: str = "flows") -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return write


def dagy_cmd() -> list[str]:
    return [DAGY] if DAGY else [sys.executable, "-c", "from dagy.cli.main import main; main()"]


@pytest.fixture
def run_dagy(dagy_home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `dagy` command as a subprocess against the temporary home."""

    def run(
        *args: str, input: str | None = None, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [*dagy_cmd(), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            cwd=str(REPO),
        )

    return run


def _default_sigint() -> None:
    """In the child: Ctrl+C's default, whatever the suite inherited. A suite started as a
    background job of a non-interactive shell has SIGINT ignored, and an ignored signal stays
    ignored across exec, so a test's SIGINT would never reach the command."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_dagy(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*dagy_cmd(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=str(REPO),
        preexec_fn=_default_sigint,  # noqa: PLW1509 - one call, no locks taken
    )


def pid_alive(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


# -- a real `dagy serve` process --------------------------------------------------------------------


class ServerProcess:
    """A `dagy serve --port 0` child process on loopback, and how to talk to it."""

    def __init__(self, proc: subprocess.Popen[str], home: Path, info: dict[str, object]) -> None:
        self.proc = proc
        self.home = home
        self.info = info
        self.url = str(info["url"])
        self.api_url = str(info["api_url"])
        self.local_token = str(info["token"])

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: object = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], object]:
        """One HTTP request to the API: (status, lower-cased headers, decoded JSON or None)."""
        import json
        import urllib.error
        import urllib.request

        all_headers = {"Accept": "application/json", **(headers or {})}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else self.api_url + path
        req = urllib.request.Request(url, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, hdrs, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            status, hdrs, payload = exc.code, exc.headers, exc.read()
        try:
            decoded = json.loads(payload) if payload else None
        except ValueError:
            decoded = payload.decode("utf-8", "replace")
        return status, {k.lower(): v for k, v in hdrs.items()}, decoded

    def create_user(self, email: str, role: str = "owner", password: str = "password-123") -> None:
        """A user of the personal org, through the route `dagy users create` itself calls while
        a server owns the store (POST /_local/users with the local token): the same row and
        audit row, without a `dagy` process per user (the CLI has its own tests)."""
        status, _, body = self.request(
            "POST",
            "/_local/users",
            token=self.local_token,
            body={"email": email, "password": password, "role": role, "org_id": "personal"},
        )
        assert status == 201, body

    def login(self, email: str, password: str = "password-123") -> str:
        status, _, body = self.request(
            "POST", "/auth/login", body={"email": email, "password": password}
        )
        assert status == 200, body
        assert isinstance(body, dict)
        return str(body["access_token"])

    def stop(self, sig: int = 15, timeout: float = 45) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)


def start_server(
    home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> ServerProcess:
    """Start `dagy serve --port 0` for ``home`` and wait until server.json names it and it answers."""
    import json
    import time
    import urllib.request

    server_json = home / "server.json"
    # The run workers' fallback look at the queue every 5 s rather than 0.5 s: queueing a run wakes
    # them (tests/server/test_run_wakeup.py proves it with an hour), and four threads' idle polls
    # were ~2% of a core per live server. A test (or the caller's environment) may still set it.
    full_env = {
        "DAGY_SERVER_POLL": "5",
        **os.environ,
        "DAGY_LOCAL_DIR": str(home),
        **(env or {}),
    }
    stderr_path = home.parent / f"serve-{time.monotonic_ns()}.log"
    home.mkdir(parents=True, exist_ok=True)
    err = open(stderr_path, "w")  # noqa: SIM115 - the child writes to it for its whole life
    proc = subprocess.Popen(
        [*dagy_cmd(), "serve", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=err,
        text=True,
        env=full_env,
        cwd=str(REPO),
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dagy serve exited {proc.returncode}: {stderr_path.read_text()}")
        try:
            info = json.loads(server_json.read_text())
            if info.get("pid") == proc.pid:
                with urllib.request.urlopen(info["api_url"] + "/health", timeout=5) as resp:
                    if resp.status == 200:
                        server = ServerProcess(proc, home, info)
                        server.stderr_path = stderr_path  # type: ignore[attr-defined]
                        return server
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"dagy serve did not come up: {stderr_path.read_text()}")


@pytest.fixture
def server_factory(tmp_path: Path, dagy_home: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start real servers (each in its own home unless ``home`` is given); all stopped at the end."""
    started: list[ServerProcess] = []

    def factory(*args: str, home: Path | None = None, env: dict[str, str] | None = None):
        server = start_server(home or dagy_home, *args, env=env)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A multi-user server on the test's DAGY_LOCAL_DIR, with owner@example.com as first owner."""
    srv = server_factory()
    srv.create_user("owner@example.com", "owner")
    return srv


# -- headless Chromium (Debian's chromium + chromium-driver) ----------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def ensure_chromium() -> None:
    """Debian's chromium and chromium-driver, which `.ci/run` installs before pytest (tests never
    install system packages). Missing: a skip that says how, or a failure under CI, where a
    skipped browser test would hide that the browser never ran."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    message = (
        "headless Chromium is missing: `apt-get install chromium chromium-driver` "
        "(.ci/run does it before the tests)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """A headless Chromium driven by Selenium through Debian's chromedriver."""
    ensure_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        # This machine has no network: without these Chromium keeps dialing out at start.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
