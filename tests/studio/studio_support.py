"""Shared by the AI studio API tests: the tiers the test server runs with, a streaming SSE
reader (http.client, line by line), uploads to a signed URL, and small files of each attachment
type made with the same libraries the server parses them with (a hand-written PDF)."""

from __future__ import annotations

import http.client
import io
import json
import time
import urllib.parse
import urllib.request
from typing import Any

from tests.server.flows_support import Api

SPEC_MESSAGE = (
    "Build a workflow that reads JSON from S3, validates schema, normalizes records, "
    "deduplicates, and writes back to S3."
)
SPEC_TYPES = ["s3_ingest", "schema_validator", "data_normalizer", "deduplicator", "s3_write"]

# The tiers of the test server: the defaults plus small ones for the limits and credits tests.
TIERS = {
    "tiny": {
        "provider": "offline",
        "credits_per_turn": 1,
        "max_turns_per_session": 2,
        "max_attachments_per_session": 1,
    },
    "half": {
        "provider": "offline",
        "credits_per_turn": 50,
        "max_turns_per_session": 10,
        "max_attachments_per_session": 1,
    },
}


def node_types(canvas: dict[str, Any]) -> list[str]:
    return [n["type"] for n in canvas["nodes"]]


def chain(canvas: dict[str, Any]) -> list[str]:
    """The node types along the canvas's edges, from the node nothing feeds."""
    by_id = {n["id"]: n["type"] for n in canvas["nodes"]}
    nexts = {e["source"]: e["target"] for e in canvas["edges"]}
    fed = {e["target"] for e in canvas["edges"]}
    current = next(n for n in by_id if n not in fed)
    out = [by_id[current]]
    while current in nexts:
        current = nexts[current]
        out.append(by_id[current])
    return out


def new_session(api: Api, **body: Any) -> dict[str, Any]:
    return api.ok("POST", "/ai-studio/sessions", body, status=201)  # type: ignore[no-any-return]


def send(
    api: Api, session_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    status, _, answer = api.server.request(
        "POST",
        f"/ai-studio/sessions/{session_id}/messages",
        token=api.token,
        body=body,
        headers={**api.headers, **(headers or {})},
    )
    return status, answer


def stream(
    api: Api, session_id: str, body: dict[str, Any]
) -> tuple[int, dict[str, str], list[tuple[str, Any]], float]:
    """POST .../messages/stream read line by line as it arrives: (status, headers, events as
    (event, data), seconds until the first event)."""
    url = urllib.parse.urlsplit(api.server.api_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {
        "Authorization": f"Bearer {api.token}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        **api.headers,
    }
    started = time.perf_counter()
    conn.request(
        "POST", f"{url.path}/ai-studio/sessions/{session_id}/messages/stream",
        json.dumps(body), headers,
    )  # fmt: skip
    resp = conn.getresponse()
    got = {k.lower(): v for k, v in resp.getheaders()}
    if resp.status != 200:
        payload = json.loads(resp.read() or b"null")
        conn.close()
        return resp.status, got, [("http", payload)], 0.0
    events: list[tuple[str, Any]] = []
    first = 0.0
    event, data = "message", []
    while True:
        raw = resp.fp.readline()
        if not raw:
            break
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if data:
                if not events:
                    first = time.perf_counter() - started
                events.append((event, json.loads("\n".join(data))))
            event, data = "message", []
            if events and events[-1][0] in ("result", "error"):
                break
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    conn.close()
    return resp.status, got, events, first


def upload(url: str, data: bytes, content_type: str) -> int:
    req = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


# -- small files of each type -----------------------------------------------------------------------


def pdf_bytes(text: str) -> bytes:
    """A one-page PDF showing ``text`` (Helvetica), written by hand with a correct xref."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes(text: str) -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Requirements"
    slide.placeholders[1].text = text
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()
