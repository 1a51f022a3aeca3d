"""Source hashes: what identifies a task's code, so a replay can tell an unchanged step from an
edited one (docs/replay.md). A hash is a hex sha256; equal hashes mean the same code and config.

- a Python task: its function's source (``inspect.getsource``), or, when that is unavailable
  (a lambda in a REPL, a compiled module), its qualified name and its module file's bytes;
- a pipeline step: its kind, implementation, raw config, ``with``, ``for_each``, ``when``, and the
  source of the Python code it names (``python:``, a custom node's ``import_path``) when that code
  can be found without importing anything new.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _sha(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _file_sha(path: str | None) -> str:
    if not path:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def of_function(fn: Callable[..., Any]) -> str:
    """The hash of a task function's code."""
    try:
        return _sha("py", inspect.getsource(fn))
    except (OSError, TypeError):
        module = sys.modules.get(getattr(fn, "__module__", "") or "")
        file = getattr(module, "__file__", None)
        return _sha("py-name", getattr(fn, "__qualname__", repr(fn)), _file_sha(file))


def _defined_in(file: Path, qualname: str) -> str:
    """The source of the top-level function or class ``qualname`` starts with in a Python file,
    read without importing it; the whole file's hash when it is not found there."""
    import ast

    try:
        text = file.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return _file_sha(str(file))
    name = qualname.split(".")[0]
    for node in tree.body:
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        if isinstance(node, kinds) and node.name == name:
            return ast.get_source_segment(text, node) or ""
    return _file_sha(str(file))


def _code_of(target: str | None, base_dir: str | None = None) -> str:
    """The source behind ``module:function`` or ``path.py:function``, or "" when it cannot be found
    without importing code that is not loaded yet (compiling a pipeline must not run user code)."""
    if not target or ":" not in target:
        return ""
    where, _, qualname = target.rpartition(":")
    if where.endswith(".py") or "/" in where:
        file = Path(where).expanduser()
        if not file.is_absolute():
            file = Path(base_dir or ".") / file
        return _defined_in(file, qualname)
    module = sys.modules.get(where)
    if module is not None:
        obj: Any = module
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            try:
                return inspect.getsource(obj)
            except (OSError, TypeError):
                pass
        return _file_sha(getattr(module, "__file__", None))
    if "." in where:  # find_spec would import the parent packages
        return ""
    try:
        spec = importlib.util.find_spec(where)
    except (ImportError, ValueError):
        return ""
    return _file_sha(spec.origin if spec is not None else None)


def of_step(
    kind: str, impl: str, config: dict[str, Any], step: Any, base_dir: str | None = None
) -> str:
    """The hash of a pipeline step (``step``: dagy.pipelines.model.Step) running ``impl``;
    ``base_dir``: the pipeline file's folder, where relative ``path.py`` targets are."""
    body = {
        "kind": kind,
        "impl": impl,
        "config": config,
        "with": step.with_,
        "for_each": step.for_each,
        "when": step.when,
    }
    text = json.dumps(body, sort_keys=True, default=repr)
    base = base_dir
    target = step.python if kind == "python" else config.get("import_path")
    code = _code_of(target, base)
    return _sha("step", text, code)
