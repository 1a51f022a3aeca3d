"""Every ``DAGY_*`` environment variable Dagy reads, declared once: name, type, default, doc, user.

Code reads a variable through its declaration (``settings.API_URL.get()``), never ``os.environ``:
values are read at call time (a test that sets a variable sees it), a bad number is one
ConfigError naming the variable, and docs/cli.md's table is printed from here
(``python -m dagy.config --markdown``; a test keeps the two in step).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

T = TypeVar("T")
Environ = Mapping[str, str]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

# Every declaration, in the order of the table (module import order).
REGISTRY: dict[str, Setting[Any]] = {}


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One variable. ``shown`` is the default as the docs say it, when the value alone does not."""

    name: str
    default: T
    doc: str
    component: str
    shown: str | None = None
    secret: bool = False
    kind: ClassVar[str] = "text"

    def __post_init__(self) -> None:
        if not self.name.startswith("DAGY_") or self.name in REGISTRY:
            raise ValueError(f"bad or duplicate setting {self.name}")
        REGISTRY[self.name] = self

    def raw(self, environ: Environ | None = None) -> str | None:
        """The variable's text, stripped; None when it is unset or blank."""
        value = (os.environ if environ is None else environ).get(self.name)
        value = value.strip() if value is not None else None
        return value or None

    def is_set(self, environ: Environ | None = None) -> bool:
        return self.raw(environ) is not None

    def get(self, environ: Environ | None = None) -> T:
        raw = self.raw(environ)
        return self.default if raw is None else self.parse(raw)

    def parse(self, raw: str) -> T:
        return raw  # type: ignore[return-value]

    def default_text(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.default is None:
            return "–"
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, float):
            return f"{self.default:g}"
        return str(self.default)

    def _error(self, what: str, raw: str) -> Exception:
        from dagy.errors import ConfigError

        return ConfigError(f"{self.name} must be {what}, got {raw!r}")


class Text(Setting[T]):
    kind = "text"


class PathSetting(Setting[T]):
    kind = "path"


class Flag(Setting[bool]):
    """true/1/yes/on or false/0/no/off (any case); anything else keeps the default."""

    kind = "flag"

    def parse(self, raw: str) -> bool:
        word = raw.lower()
        return True if word in _TRUE else False if word in _FALSE else self.default


@dataclass(frozen=True)
class Number(Setting[T]):
    """A number no smaller than ``minimum``; anything else is a ConfigError naming the variable."""

    minimum: float = 0
    positive: bool = False  # the minimum itself is refused too (a poll interval of 0)

    def parse(self, raw: str) -> T:
        integer = self.kind == "int"
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            raise self._error("an integer" if integer else "a number", raw) from None
        if self.positive and not value > self.minimum:
            raise self._error(f"greater than {self.minimum:g}", raw)
        if not value >= self.minimum:  # also refuses NaN
            raise self._error(f"at least {self.minimum:g}", raw)
        return value  # type: ignore[return-value]


class Int(Number[int]):
    kind = "int"


class Float(Number[float]):
    kind = "float"


# --- the CLI, the TUI and every process: where things are --------------------------------------

LOCAL_DIR = PathSetting[str](
    "DAGY_LOCAL_DIR", "~/.dagy", "base directory for all local state", "all"
)
PROFILE = Text[str | None](
    "DAGY_PROFILE", None, "active profile (overrides `default_profile`)", "cli, tui"
)
API_URL = Text[str | None](
    "DAGY_API_URL", None, "API URL (overrides the profile's `api_url`)", "cli, tui"
)
APP_URL = Text[str | None](
    "DAGY_APP_URL", None, "web app URL for browser login", "cli",
    shown="the profile's `app_url`, then `https://dagy.io`",
)  # fmt: skip
TOKEN = Text[str | None](
    "DAGY_TOKEN", None,
    "bearer token every command and the TUI send (before `DAGY_API_KEY` and the stored login)",
    "cli, tui", secret=True,
)  # fmt: skip
API_KEY = Text[str | None](
    "DAGY_API_KEY", None,
    "`dagy_sk_…` API key every command and the TUI send when `DAGY_TOKEN` is unset",
    "cli, tui", secret=True,
)  # fmt: skip
DEBUG = Flag("DAGY_DEBUG", False, "`1`: show the full traceback of an error (as `--debug`)", "cli")
KEYRING = Flag(
    "DAGY_KEYRING", True,
    "`0` keeps the login token and the master key out of the OS keyring (files, 0600)", "cli, server",
)  # fmt: skip
LOGIN_TIMEOUT = Int("DAGY_LOGIN_TIMEOUT", 120, "seconds `dagy login` waits for the browser", "cli")

# --- local runs and the store -------------------------------------------------------------------

LOCAL_VERBOSE = Flag(
    "DAGY_LOCAL_VERBOSE", False,
    "`true/1/yes/on`: echo the run log to stderr while a run executes", "engine",
)  # fmt: skip
LOCAL_ARTIFACT_MAX_BYTES = Int(
    "DAGY_LOCAL_ARTIFACT_MAX_BYTES", 5 * 1024 * 1024,
    "largest task result stored as an artifact (`0`: no limit)", "engine",
)  # fmt: skip
LOCAL_KEEP_RUNS = Int(
    "DAGY_LOCAL_KEEP_RUNS", 20,
    "runs whose log and artifact files are kept (rows are always kept); `0` keeps all", "engine",
)  # fmt: skip
NODE_MEMORY_LIMIT = Text[str](
    "DAGY_NODE_MEMORY_LIMIT", "1GB",
    "DuckDB working memory of one builder node call (`512MB`, `2GB`); the rest spills to disk",
    "engine",
)  # fmt: skip
STORE_LOCK_TIMEOUT = Float(
    "DAGY_STORE_LOCK_TIMEOUT", 30.0,
    "seconds to wait for another process's hold on `dagy.duckdb`", "store",
)  # fmt: skip
SQL_MAX_ROWS = Int(
    "DAGY_SQL_MAX_ROWS", 100_000,
    "most rows `dagy sql` / `POST /v1/sql` return (a larger `limit` is refused)", "cli, server",
    minimum=1,
)  # fmt: skip
SQL_TIMEOUT = Float(
    "DAGY_SQL_TIMEOUT", 30.0,
    "seconds a `dagy sql` / `POST /v1/sql` query may run before it is interrupted", "cli, server",
    positive=True,
)  # fmt: skip
SQL_MEMORY_LIMIT = Text[str](
    "DAGY_SQL_MEMORY_LIMIT", "1GB",
    "DuckDB working memory of one `dagy sql` / `POST /v1/sql` query (`512MB`, `4GB`)",
    "cli, server",
)  # fmt: skip

# --- secrets, environments, and what a run is given ---------------------------------------------

MASTER_KEY = Text[str | None](
    "DAGY_MASTER_KEY", None,
    "base64 of the 32-byte master key that seals secrets (before the keyring and `master.key`)",
    "secrets", secret=True,
)  # fmt: skip
ENVIRONMENT = Text[str | None](
    "DAGY_ENVIRONMENT", None,
    "a run's environment (set by `dagy run --env`): `dagy.secret()` prefers its secrets", "sdk",
)  # fmt: skip
SECRETS_FILE = PathSetting[str | None](
    "DAGY_SECRETS_FILE", None,
    "a run's secrets (0600 JSON), set by the server for the run it starts", "sdk",
)  # fmt: skip
ARTIFACT_URI = Text[str | None](
    "DAGY_ARTIFACT_URI", None, "the deployed code a server-run child runs (set for it)", "executors"
)
ARTIFACT_CODE_HASH = Text[str | None](
    "DAGY_ARTIFACT_CODE_HASH", None, "that code's hash (set for a server-run child)", "executors"
)
FLOW_NAME = Text[str](
    "DAGY_FLOW_NAME", "flow", "the run's flow (set for a server-run child)", "executors"
)
FLOW_VERSION = Text[str](
    "DAGY_FLOW_VERSION", "0", "the run's flow version (set for a server-run child)", "executors"
)

# --- artifacts and deploys ----------------------------------------------------------------------

ARTIFACT_STORE = Text[str](
    "DAGY_ARTIFACT_STORE", "local", "artifact store for deployed code (`local`, or a plugin's: `s3`)",
    "deploy, server",
)  # fmt: skip
ARTIFACT_BUCKET = Text[str | None](
    "DAGY_ARTIFACT_BUCKET", None, "bucket of a bucket artifact store (S3)", "deploy, server",
    shown="`dagy-artifacts-<account>-<region>`",
)  # fmt: skip
ARTIFACT_URL_TTL = Int(
    "DAGY_ARTIFACT_URL_TTL", 3600, "seconds an artifact part's upload URL stays valid", "server"
)
PUBLIC_API_URL = Text[str | None](
    "DAGY_PUBLIC_API_URL", None, "the server's API URL as clients reach it (upload URLs)", "server",
    shown="the URL it listens on",
)  # fmt: skip

# --- `dagy serve` ----------------------------------------------------------------------------------

EXCEPTION_URL_TTL = Int(
    "DAGY_EXCEPTION_URL_TTL", 300, "seconds an exception trace's download URL stays valid",
    "server", minimum=1,
)  # fmt: skip
TEST_FAULTS = Flag(
    "DAGY_TEST_FAULTS", False, "`true`: mount `POST /_test/fault`, a route that fails on purpose "
    "(tests only)", "server",
)  # fmt: skip

SERVER_WORKERS = Int(
    "DAGY_SERVER_WORKERS", 4, "runs the server executes at once", "server", minimum=1
)
SERVER_POLL = Float(
    "DAGY_SERVER_POLL", 0.5,
    "seconds between the run workers' looks at the queue when no queued run woke them", "server",
    minimum=0.01,
)  # fmt: skip
SERVER_CANCEL_GRACE = Float(
    "DAGY_SERVER_CANCEL_GRACE", 10.0, "seconds between SIGTERM and SIGKILL of a cancelled run",
    "server",
)  # fmt: skip
RATE_LIMIT_PER_MINUTE = Int(
    "DAGY_RATE_LIMIT_PER_MINUTE",
    120,
    "API requests per minute per client (`0`: no limit)",
    "server",
)
RATE_LIMIT_BURST = Int("DAGY_RATE_LIMIT_BURST", 200, "API requests a client may burst", "server")
WEBHOOK_RATE_PER_MINUTE = Int(
    "DAGY_WEBHOOK_RATE_PER_MINUTE",
    60,
    "webhook calls per minute per token (`0`: no limit)",
    "server",
)
WEBHOOK_BURST = Int(
    "DAGY_WEBHOOK_BURST", 20, "webhook calls a token may burst (at least 1 is used)", "server"
)
EGRESS_ALLOW = Text[str](
    "DAGY_EGRESS_ALLOW", "",
    "addresses or CIDR ranges server-side HTTP may reach though private, loopback or link-local "
    "(comma-separated: `127.0.0.1,10.0.0.0/8`; docs/security.md)", "server",
)  # fmt: skip
RETENTION_DAYS = Float(
    "DAGY_RETENTION_DAYS", 30.0,
    "days `dagy serve` keeps sensor seen keys, webhook deliveries and notification jobs and "
    "deliveries (`0`: kept forever)", "server",
)  # fmt: skip
API_CALLS_FLUSH_SECONDS = Float(
    "DAGY_API_CALLS_FLUSH_SECONDS", 10.0,
    "seconds between writes of the API call counts (at least 0.1 is used)", "server",
)  # fmt: skip
TOKEN_TTL_SECONDS = Int(
    "DAGY_TOKEN_TTL_SECONDS", 12 * 3600, "seconds a token from `POST /auth/login` lives", "server"
)
JWT_REQUIRED = Flag(
    "DAGY_JWT_REQUIRED", False, "`true`: user bearer tokens must be JWTs from `DAGY_JWKS_URL`",
    "server",
)  # fmt: skip
JWKS_URL = Text[str | None]("DAGY_JWKS_URL", None, "the JWKS that verifies JWTs", "server")
JWT_AUDIENCE = Text[str | None]("DAGY_JWT_AUDIENCE", None, "the JWTs' required `aud`", "server")
JWT_ISSUER = Text[str | None]("DAGY_JWT_ISSUER", None, "the JWTs' required `iss`", "server")
SCHEDULER_TICK = Float(
    "DAGY_SCHEDULER_TICK", 1.0, "seconds between scheduler ticks", "scheduler", minimum=0.01
)
SCHEDULER_GRACE = Float(
    "DAGY_SCHEDULER_GRACE", 60.0, "seconds after which a due time counts as missed", "scheduler"
)
SCHEDULER_MAX_CATCHUP = Int(
    "DAGY_SCHEDULER_MAX_CATCHUP", 100, "runs one schedule queues for missed times", "scheduler",
    minimum=1,
)  # fmt: skip
SENSOR_TICK_SECONDS = Float(
    "DAGY_SENSOR_TICK_SECONDS", 1.0, "seconds between sensor evaluations", "sensors", minimum=0.05
)
SENSOR_STORE = Text[str | None](
    "DAGY_SENSOR_STORE", None, "store an s3 sensor lists", "sensors",
    shown="`DAGY_ARTIFACT_STORE`, then `local`",
)  # fmt: skip
SENSOR_BUCKETS_ROOT = PathSetting[str | None](
    "DAGY_SENSOR_BUCKETS_ROOT", None, "folder of the local store's buckets (one folder each)",
    "sensors", shown="`<DAGY_LOCAL_DIR>/buckets`",
)  # fmt: skip
NOTIFY_MAX_ATTEMPTS = Int(
    "DAGY_NOTIFY_MAX_ATTEMPTS", 5, "deliveries tried per notification", "notify", minimum=1
)
NOTIFY_BACKOFF_SECONDS = Float(
    "DAGY_NOTIFY_BACKOFF_SECONDS", 2.0, "first wait before a retry (doubles each time)", "notify"
)
NOTIFY_BACKOFF_MAX_SECONDS = Float(
    "DAGY_NOTIFY_BACKOFF_MAX_SECONDS", 300.0, "longest wait between retries", "notify"
)
NOTIFY_POLL_SECONDS = Float(
    "DAGY_NOTIFY_POLL_SECONDS", 1.0, "seconds between looks for work", "notify", positive=True
)
NOTIFY_TIMEOUT_SECONDS = Float(
    "DAGY_NOTIFY_TIMEOUT_SECONDS", 10.0, "seconds one delivery may take", "notify", positive=True
)
AI_OPENAI_BASE_URL = Text[str](
    "DAGY_AI_OPENAI_BASE_URL", "https://api.openai.com/v1",
    "the AI studio's `openai` provider: an OpenAI-compatible API (Ollama, vLLM, llama.cpp)",
    "server",
)  # fmt: skip
AI_OPENAI_MODEL = Text[str](
    "DAGY_AI_OPENAI_MODEL", "gpt-4o-mini", "the model the `openai` provider asks", "server"
)
AI_OPENAI_API_KEY = Text[str | None](
    "DAGY_AI_OPENAI_API_KEY", None, "the `openai` provider's API key (sent as a bearer token)",
    "server", secret=True,
)  # fmt: skip
STRIPE_API_BASE = Text[str | None](
    "DAGY_STRIPE_API_BASE", None, "another Stripe API base (a local stand-in)", "billing",
    shown="`https://api.stripe.com`",
)  # fmt: skip
STRIPE_PRICE_PROFESSIONAL = Text[str | None](
    "DAGY_STRIPE_PRICE_PROFESSIONAL", None, "Stripe price id of the Professional plan", "billing"
)
STRIPE_PRICE_ENTERPRISE = Text[str | None](
    "DAGY_STRIPE_PRICE_ENTERPRISE", None, "Stripe price id of the Enterprise plan", "billing"
)

STUDIO_TIERS = Text[str | None](
    "DAGY_STUDIO_TIERS", None,
    "JSON (or `@file`) changing the AI studio's tiers: provider, settings, credits, limits "
    "(docs/ai-studio.md)", "server",
)  # fmt: skip

# --- plugins --------------------------------------------------------------------------------------

DASK_SCHEDULER = Text[str | None](
    "DAGY_DASK_SCHEDULER", None, "address of the dask scheduler (`tcp://host:8786`)", "dagy-dask"
)
LAMBDA_FUNCTION = Text[str](
    "DAGY_LAMBDA_FUNCTION",
    "dagy-flow-executor",
    "the Lambda function that runs tasks",
    "dagy-lambda",
)
LAMBDA_INVOKE = Text[str | None](
    "DAGY_LAMBDA_INVOKE", None, "`subprocess`: run the handler in a local process (tests)",
    "dagy-lambda", shown="AWS Lambda",
)  # fmt: skip
LAMBDA_HOME = PathSetting[str](
    "DAGY_LAMBDA_HOME", "/tmp/dagy", "`DAGY_LOCAL_DIR` of a `subprocess` invocation", "dagy-lambda"
)
LAMBDA_LAYERS = Text[str](
    "DAGY_LAMBDA_LAYERS", "{}", "JSON object: dependency-package slug → Lambda layer ARN",
    "dagy-lambda",
)  # fmt: skip
LAMBDA_PREFIX = Text[str](
    "DAGY_LAMBDA_PREFIX", "dagy", "key prefix of Lambda run payloads in the bucket", "dagy-lambda"
)


def declared(name: str) -> Setting[Any]:
    """The declaration of ``name``; KeyError for a variable nobody declared."""
    return REGISTRY[name]


def local_dir(environ: Environ | None = None) -> Path:
    """``DAGY_LOCAL_DIR`` (else ``~/.dagy``), expanded and absolute."""
    return Path(LOCAL_DIR.get(environ)).expanduser().resolve()


def markdown() -> str:
    """docs/cli.md's environment table."""
    lines = ["| variable | type | meaning | default | read by |", "|---|---|---|---|---|"]
    for setting in REGISTRY.values():
        default = setting.default_text()
        if setting.shown is None and setting.default is not None:
            default = f"`{default}`" if setting.kind in {"text", "path"} else default
        lines.append(
            f"| `{setting.name}` | {setting.kind} | {setting.doc} | {default} | {setting.component} |"
        )
    return "\n".join(lines) + "\n"


BEGIN = "<!-- settings table: begin (generated) -->\n"
END = "<!-- settings table: end -->"


def table_in(text: str) -> str:
    """The generated block of a document (between BEGIN and END); ValueError when it has none."""
    start = text.index(BEGIN) + len(BEGIN)
    return text[start : text.index(END, start)]


def main(argv: list[str] | None = None) -> int:
    """``--markdown`` prints the table; ``--update FILE`` rewrites FILE's generated block."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--markdown"]:
        sys.stdout.write(markdown())
        return 0
    if len(args) == 2 and args[0] == "--update":
        path = Path(args[1])
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(table_in(text), markdown(), 1), encoding="utf-8")
        return 0
    print("usage: python -m dagy.config --markdown | --update docs/cli.md", file=sys.stderr)
    return 2
