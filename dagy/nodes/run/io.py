"""Ingestion and output nodes: S3 (through boto3), local files, the local artifact store, HTTP.

Files are read and written by DuckDB (formats ``json`` — an array —, ``ndjson``, ``csv``,
``parquet``); an ``s3://`` object is downloaded to a temp file first and written through one. A
destination is replaced whole or not at all: the file is written beside it and renamed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagy import egress
from dagy.engine.context import current
from dagy.nodes.run import frames
from dagy.nodes.run.frames import NodeError, ident, quote
from dagy.sdk.task import task

FORMATS = ("json", "ndjson", "csv", "parquet")
_SUFFIXES = {
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 50_000_000
USER_AGENT = "dagy-node/1"
_CSV_TYPES = "['BOOLEAN', 'BIGINT', 'DOUBLE', 'VARCHAR']"


# -- locations ------------------------------------------------------------------------------------


def _uri(config: dict[str, Any], *, required: bool = True) -> str | None:
    uri = config.get("uri") or config.get("path")
    if not uri and config.get("bucket"):
        key = str(config.get("key") or config.get("prefix") or "").lstrip("/")
        if not key:
            raise NodeError("config.key is required with config.bucket")
        uri = f"s3://{config['bucket']}/{key}"
    if not uri:
        if required:
            raise NodeError("config.uri is required (s3://bucket/key, file:///path or a path)")
        return None
    if not isinstance(uri, str):
        raise NodeError(f"config.uri must be a string, got {frames.kind(uri)}")
    return uri


def _local_path(uri: str) -> Path:
    """The file a ``file://`` URI or a plain path names (relative: against the pipeline's folder)."""
    if uri.startswith("file://"):
        parts = urllib.parse.urlsplit(uri)
        return Path(urllib.parse.unquote(parts.netloc + parts.path))
    path = Path(uri).expanduser()
    if not path.is_absolute():
        ctx = current()
        base = ctx.base_dir if ctx is not None else None
        path = (base or Path.cwd()) / path
    return path


def _s3_parts(uri: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(uri)
    key = parts.path.lstrip("/")
    if not parts.netloc or not key:
        raise NodeError(f"an s3 URI needs a bucket and a key: {uri}")
    return parts.netloc, key


def _s3_client(config: dict[str, Any]) -> Any:
    try:
        import boto3
    except ImportError:
        raise NodeError("s3:// needs boto3: pip install boto3") from None
    endpoint = config.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint, region_name=config.get("region") or None)


def _s3_error(exc: Exception, uri: str, doing: str) -> NodeError:
    code = (
        getattr(exc, "response", {}).get("Error", {}).get("Code")
        if hasattr(exc, "response")
        else None
    )
    if not code:  # boto3's transfer errors carry the service's code only in their message
        found = re.search(r"An error occurred \((\w+)\)", str(exc))
        code = found.group(1) if found else None
    why = f"{code}" if code else f"{type(exc).__name__}: {exc}"
    if code in ("404", "NoSuchKey", "NotFound"):
        why = "no such object"
    elif code == "NoSuchBucket":
        why = "no such bucket"
    return NodeError(f"cannot {doing} {uri}: {why}")


def _format(config: dict[str, Any], uri: str, *, default: str | None = None) -> str:
    fmt = config.get("format") or "auto"
    if fmt != "auto":
        if fmt not in FORMATS:
            raise NodeError(f"config.format must be one of auto, {', '.join(FORMATS)}; got {fmt!r}")
        return str(fmt)
    name = urllib.parse.urlsplit(uri).path if "://" in uri else uri
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] in (".gz", ".zst"):
        suffixes.pop()
    found = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if found is None:
        if default:
            return default
        raise NodeError(
            f"cannot tell the format of {uri}: set config.format ({', '.join(FORMATS)})"
        )
    return found


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=".io-", dir=frames.output_dir()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- reading --------------------------------------------------------------------------------------


def _reader(con: Any, path: Path, fmt: str) -> str:
    p = quote(str(path))
    if fmt == "parquet":
        return f"read_parquet({p})"
    if fmt == "csv":
        # Dates and times stay text, as they were in the file.
        return f"read_csv({p}, header = true, auto_type_candidates = {_CSV_TYPES})"
    # format 'auto' would accept either layout; the declared one fails clearly on the other.
    return frames.read_json_sql(con, path, "array" if fmt == "json" else "newline_delimited")


def _read(path: Path, fmt: str, config: dict[str, Any], uri: str) -> Any:
    output = _output_kind(config)
    with frames.connect() as con:
        try:
            sql = f"SELECT * FROM {_reader(con, path, fmt)}"
            if output == "json":
                return frames.fetch_records(con, sql, result_of=uri)
            return frames.write(con, sql, "ingest")
        except NodeError:
            raise
        except Exception as exc:  # duckdb.Error: a file that is not the format it claims
            raise NodeError(f"cannot read {uri} as {fmt}: {_first_line(exc)}") from None


def _output_kind(config: dict[str, Any]) -> str:
    output = config.get("output") or "json"
    if output == "records":
        output = "json"
    if output not in ("json", "dataframe"):
        raise NodeError(f"config.output must be json or dataframe, got {output!r}")
    return str(output)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _ingest(config: dict[str, Any]) -> Any:
    uri = _uri(config)
    assert uri is not None
    fmt = _format(config, uri)
    if uri.startswith("s3://"):
        bucket, key = _s3_parts(uri)
        client = _s3_client(config)
        with _scratch() as folder:
            local = folder / ("object" + "".join(Path(key).suffixes[-2:]))
            try:
                client.download_file(bucket, key, str(local))
            except Exception as exc:  # botocore's ClientError and transport errors
                raise _s3_error(exc, uri, "read") from None
            return _read(local, fmt, config, uri)
    if "://" in uri and not uri.startswith("file://"):
        raise NodeError(f"unsupported URI scheme: {uri} (use s3://, file:// or a path)")
    path = _local_path(uri)
    if not path.is_file():
        raise NodeError(f"no such file: {path}")
    return _read(path, fmt, config, uri)


@task
def s3_ingest(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Read an S3 object (or a local file) as JSON records, or as a dataframe with ``output: dataframe``."""
    return _ingest(config)


@task
def file_ingest(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Read a local file as JSON records, or as a dataframe with ``output: dataframe``."""
    return _ingest(config)


# -- writing --------------------------------------------------------------------------------------


def data_of(inputs: dict[str, Any] | None) -> Any:
    """The node's data input: ``data_in`` (canvas), ``data`` (YAML), or the only input there is."""
    inputs = inputs or {}
    for key in ("data_in", "data"):
        if key in inputs:
            return inputs[key]
    if len(inputs) == 1:
        return next(iter(inputs.values()))
    if not inputs:
        raise NodeError("no input: connect data_in (or give `with: {data: ...}`)")
    raise NodeError(f"which input is the data? got {', '.join(sorted(inputs))}; name one data_in")


def _write_file(data: Any, fmt: str, target: Path) -> int:
    """Write ``data`` (a dataframe or JSON) to ``target`` as ``fmt`` (gzipped when ``target`` ends
    in ``.gz``); the number of records."""
    if not frames.is_frame(data) and fmt in ("json", "ndjson"):
        # JSON stays exactly as the upstream node made it: no detour through a table.
        opener: Any = gzip.open if target.suffix == ".gz" else open
        with opener(target, "wt", encoding="utf-8") as fh:
            if fmt == "json":
                fh.write(json.dumps(data))
            else:
                for record in data if isinstance(data, list) else [data]:
                    fh.write(json.dumps(record))
                    fh.write("\n")
        return len(data) if isinstance(data, list) else 1
    options = {
        "parquet": "FORMAT parquet",
        "csv": "FORMAT csv, HEADER true",
        "json": "FORMAT json, ARRAY true",
        "ndjson": "FORMAT json",
    }[fmt]
    with frames.connect() as con:
        frames.load(con, data, "input")
        row = con.execute(
            f"COPY (SELECT * FROM {ident('input')}) TO {quote(str(target))} ({options})"
        ).fetchone()
    return int(row[0]) if row else 0


def _default_key(fmt: str) -> str:
    ctx = current()
    where = f"{ctx.run_id}/{ctx.task_run_id}" if ctx is not None else "adhoc"
    return f"nodes/{where}/output.{fmt}"


def _write(config: dict[str, Any], inputs: dict[str, Any] | None, *, store_default: bool) -> Any:
    data = data_of(inputs)
    if data is None:
        raise NodeError("nothing to write: the input is null")
    uri = _uri(config, required=not store_default)
    fmt = _format(config, uri, default="json") if uri else (config.get("format") or "json")
    if fmt not in FORMATS:
        raise NodeError(f"config.format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    with _scratch() as folder:
        # DuckDB compresses by the file's extension: the temp file keeps the target's ".gz".
        gz = ".gz" if uri and uri.lower().endswith(".gz") and fmt != "parquet" else ""
        local = folder / f"output.{fmt}{gz}"
        rows = _write_file(data, fmt, local)
        size = local.stat().st_size
        if uri is None:
            from dagy.artifacts import get_store

            written = get_store("local").put_file(_default_key(fmt), local)
        elif uri.startswith("s3://"):
            bucket, key = _s3_parts(uri)
            try:
                _s3_client(config).upload_file(str(local), bucket, key)
            except Exception as exc:  # botocore's ClientError and transport errors
                raise _s3_error(exc, uri, "write") from None
            written = uri
        elif "://" in uri and not uri.startswith("file://"):
            raise NodeError(f"unsupported URI scheme: {uri} (use s3://, file:// or a path)")
        else:
            target = _local_path(uri)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(local, target) if _same_device(local, target) else shutil.move(local, target)
            written = uri if uri.startswith("file://") else str(target)
    return {"uri": written, "format": fmt, "rows": rows, "bytes": size}


def _same_device(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.parent.stat().st_dev
    except OSError:
        return False


@task
def s3_write(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Write the input to S3, a file, or (no ``uri``) the local artifact store; where it went."""
    return _write(config, inputs, store_default=True)


@task
def file_write(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Write the input to a local file as json, ndjson, csv or parquet; where it went."""
    return _write(config, inputs, store_default=False)


# -- HTTP -----------------------------------------------------------------------------------------


def _positive(config: dict[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise NodeError(f"config.{name} must be a positive number, got {value!r}")
    return float(value)


@task
def http_fetch(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """GET (or ``method``) a URL: a JSON response parsed, anything else as text.

    Stops reading at ``max_bytes`` and fails; a non-2xx status fails with the status and reason.
    """
    url = config.get("url")
    if not isinstance(url, str) or not url:
        raise NodeError("config.url is required")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise NodeError(f"config.url must be an http:// or https:// URL, got {url}")
    method = str(config.get("method") or "GET").upper()
    output = _output_kind(config)
    timeout = _positive(config, "timeout_seconds", DEFAULT_TIMEOUT)
    limit = int(_positive(config, "max_bytes", DEFAULT_MAX_BYTES))
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json, */*"}
    extra = config.get("headers") or {}
    if not isinstance(extra, dict):
        raise NodeError("config.headers must be an object of Header: value")
    headers.update({str(k): str(v) for k, v in extra.items()})
    body = config.get("body")
    data: bytes | None = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with egress.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise NodeError(
                    f"response from {url} is {declared} bytes, more than max_bytes={limit}"
                )
            raw = response.read(limit + 1)
            if len(raw) > limit:
                raise NodeError(f"response from {url} is larger than max_bytes={limit}")
            ctype = response.headers.get_content_type()
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        raise NodeError(f"{method} {url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise NodeError(f"{method} {url} timed out after {timeout:g}s") from None
        raise NodeError(f"cannot connect to {url}: {reason}") from None
    except TimeoutError:
        raise NodeError(f"{method} {url} timed out after {timeout:g}s") from None
    except OSError as exc:  # a connection reset while reading
        raise NodeError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from None
    if output == "json":
        frames.check_json_size(len(raw), f"the response from {url}")
    text = raw.decode(charset, errors="replace")
    value: Any = text
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise NodeError(f"{url} sent invalid JSON: {exc}") from None
    if output == "dataframe":
        if isinstance(value, str):
            raise NodeError(f"{url} sent {ctype}, not JSON records: cannot make a dataframe")
        with frames.connect() as con:
            frames.load(con, frames.records_of(value, "the response"), "input")
            return frames.write(con, "SELECT * FROM input", "fetch")
    return value
