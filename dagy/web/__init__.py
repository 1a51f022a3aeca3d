"""The web UI: static ES modules served by `dagy serve` at ``/`` beside the API.

Everything the pages show comes from the public API (under the base path) with the signed-in
user's token; nothing here reads the store. The files are plain ES modules, CSS and SVG built by
the browser; no build step and no third-party front-end code. Every response carries a
Content-Security-Policy without ``unsafe-inline``: scripts and styles load only from this origin's
files, and the pages render user strings as text (``ui.js``'s ``h`` never sets ``innerHTML``).
"""

from __future__ import annotations

import html
import json
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, get

from dagy.auth import rbac
from dagy.errors import NotFoundError

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}


@lru_cache(maxsize=4)
def _index(base_path: str) -> str:
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    api = base_path.rstrip("/")
    roles = html.escape(json.dumps(rbac.MATRIX, separators=(",", ":")), quote=True)
    pages = ",".join(sorted(f.stem for f in (STATIC / "pages").glob("*.js")))
    # Every module up front, fetched in parallel with app.js (no waterfall of imports).
    modules = sorted(f.relative_to(STATIC).as_posix() for f in STATIC.rglob("*.js"))
    preload = "\n".join(
        f'<link rel="modulepreload" href="/static/{html.escape(m, quote=True)}">' for m in modules
    )
    return (
        text.replace("{{API_BASE}}", html.escape(api, quote=True))
        .replace("{{ROLES}}", roles)
        .replace("{{PAGES}}", html.escape(pages, quote=True))
        .replace("{{PRELOAD}}", preload)
    )


@get("/", sync_to_thread=False, include_in_schema=False, opt={"permission": rbac.PUBLIC})
def index(request: Request[Any, Any, Any]) -> Response[str]:
    base = request.app.state.dagy.base_path or "/"
    return Response(
        _index(base),
        media_type=MediaType.HTML,
        headers={**HEADERS, "Cache-Control": "no-cache"},
    )


def resolve(path: str) -> Path:
    """The file under ``static/`` for a request path; anything outside it is a 404."""
    root = STATIC.resolve()
    candidate = (root / path.lstrip("/")).resolve()
    if root not in candidate.parents or not candidate.is_file():
        raise NotFoundError(f"No such file: {path}")
    return candidate


@lru_cache(maxsize=256)
def _read(file: Path, mtime_ns: int) -> bytes:
    return file.read_bytes()


@get(
    "/static/{path:path}",
    sync_to_thread=False,  # small files, read once per change and then served from memory
    include_in_schema=False,
    opt={"permission": rbac.PUBLIC},
)
def static(path: str) -> Response[bytes]:
    file = resolve(path)
    media = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "text/plain"
    return Response(
        _read(file, file.stat().st_mtime_ns),
        media_type=media,
        headers={**HEADERS, "Cache-Control": "no-cache"},
    )


ROUTES = [index, static]
