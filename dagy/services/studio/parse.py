"""An attachment's text, as a provider sees it: PDF (pypdf), DOCX (python-docx), PPTX
(python-pptx), and CSV, TXT, MD, JSON, YAML as text (JSON and YAML must parse). The three
libraries are the optional extra ``studio`` (``pip install 'dagy[studio]'``), imported here only."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from dagy.errors import InvalidInputError, ServiceUnavailableError

# kind -> (extensions, content types)
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "pdf": ((".pdf",), ("application/pdf",)),
    "docx": (
        (".docx",),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    ),
    "pptx": (
        (".pptx",),
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    ),
    "csv": ((".csv",), ("text/csv", "application/csv")),
    "txt": ((".txt", ".text", ".log"), ("text/plain",)),
    "md": ((".md", ".markdown"), ("text/markdown", "text/x-markdown")),
    "json": ((".json",), ("application/json",)),
    "yaml": ((".yaml", ".yml"), ("application/yaml", "application/x-yaml", "text/yaml")),
}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic")
SUPPORTED = "PDF, DOCX, PPTX, CSV, TXT, MD, JSON, YAML"


def kind_of(file_name: str, content_type: str | None) -> str:
    """The attachment's kind from its name (and declared type); images and anything else 400."""
    ext = Path(file_name).suffix.lower()
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype.startswith("image/") or ext in IMAGE_EXTENSIONS:
        raise InvalidInputError(
            "Images are not supported (no OCR): attach " + SUPPORTED,
            {"content_type": "images are refused", "supported": SUPPORTED},
        )
    for kind, (exts, _types) in KINDS.items():
        if ext in exts:
            return kind
    for kind, (_, types) in KINDS.items():
        if ctype in types:
            return kind
    raise InvalidInputError(
        f"Unsupported attachment type: {file_name!r} ({ctype or 'no content type'})",
        {"file_name": f"one of {SUPPORTED}"},
    )


def _library(name: str) -> None:
    raise ServiceUnavailableError(
        f"{name} is not installed: pip install 'dagy[studio]'", {"package": name}
    )


def text_of(kind: str, data: bytes) -> str:
    """The text of a file of ``kind``; a file that is not what it says is a 400."""
    try:
        if kind == "pdf":
            return _pdf(data)
        if kind == "docx":
            return _docx(data)
        if kind == "pptx":
            return _pptx(data)
        text = data.decode("utf-8-sig")
        if kind == "json":
            json.loads(text)
        elif kind == "yaml":
            yaml.safe_load(text)
        return text
    except (InvalidInputError, ServiceUnavailableError):
        raise
    except Exception as exc:
        raise InvalidInputError(
            f"The file is not a readable {kind.upper()}: {exc}", {"file": f"not a valid {kind}"}
        ) from None


def _pdf(data: bytes) -> str:
    if not data.startswith(b"%PDF"):
        raise ValueError("no %PDF header")
    try:
        from pypdf import PdfReader
    except ImportError:
        _library("pypdf")
    reader = PdfReader(io.BytesIO(data))
    return "\n".join((page.extract_text() or "") for page in reader.pages).strip()


def _docx(data: bytes) -> str:
    try:
        import docx
    except ImportError:
        _library("python-docx")
    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(line for line in lines if line).strip()


def _pptx(data: bytes) -> str:
    try:
        from pptx import Presentation
    except ImportError:
        _library("python-pptx")
    deck = Presentation(io.BytesIO(data))
    lines = []
    for number, slide in enumerate(deck.slides, 1):
        lines.append(f"# Slide {number}")
        for shape in slide.shapes:
            if getattr(shape, "has_text_frame", False) and shape.text_frame.text:
                lines.append(shape.text_frame.text)
    return "\n".join(lines).strip()
