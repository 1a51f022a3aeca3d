"""Code nodes: a Python function (``module:function`` or ``path.py:function``), a shell command, and
an org's custom node (its ``import_path``)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagy.engine.context import current
from dagy.nodes.run import frames
from dagy.nodes.run.frames import NodeError
from dagy.sdk.task import Task, task


def base_dir() -> Path:
    """Where a relative path is found: the pipeline or flow file's folder, else the cwd."""
    ctx = current()
    return (ctx.base_dir if ctx is not None else None) or Path.cwd()


def _load_file(path: Path) -> Any:
    """The module for a ``.py`` file, loaded once per process under a name made from its path."""
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    name = f"dagy_node_{resolved.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise NodeError(f"cannot load {resolved}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(resolved.parent)
    added = folder not in sys.path
    if added:  # the file's own imports of its neighbours work, as they do for a flow file
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def resolve(target: Any, what: str = "config.function") -> Any:
    """The object ``module:attr`` or ``path.py:attr`` names (``attr`` may be dotted)."""
    if not isinstance(target, str) or ":" not in target:
        raise NodeError(f"{what} must be 'module:function' or 'path.py:function', got {target!r}")
    where, _, attr = target.rpartition(":")
    if not where or not attr:
        raise NodeError(f"{what} must be 'module:function' or 'path.py:function', got {target!r}")
    try:
        if where.endswith(".py") or "/" in where or os.sep in where:
            path = Path(where).expanduser()
            if not path.is_absolute():
                path = base_dir() / path
            if not path.is_file():
                raise NodeError(f"{what}: no such file {path}")
            module = _load_file(path)
        else:
            module = importlib.import_module(where)
    except NodeError:
        raise
    except ImportError as exc:
        raise NodeError(f"{what}: cannot import {where}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise NodeError(f"{what}: {where} has no attribute {attr}") from None
    return obj


def _plain(fn: Any) -> Callable[..., Any]:
    """A ``@task`` object's function (called directly, not added to a flow being built)."""
    return fn.fn if isinstance(fn, Task) else fn


@task
def python_function(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Call ``config.function`` with the inputs as keyword arguments; its return value is the result.

    Dataframe inputs arrive as lists of records unless ``materialize: false``.
    """
    fn = resolve(config.get("function"))
    if not callable(fn):
        raise NodeError(f"config.function: {config.get('function')} is not callable")
    kwargs = dict(inputs or {})
    if config.get("materialize", True):
        kwargs = {k: frames.to_records(v) for k, v in kwargs.items()}
    return _plain(fn)(**kwargs)


@task
def custom_node(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """An org's node: ``import_path`` names a function ``fn(config, inputs)`` or a class whose
    instance's ``run(config, inputs)`` is called."""
    target = config.get("import_path")
    obj = resolve(target, "import_path")
    node_config = {k: v for k, v in config.items() if k != "import_path"}
    if inspect.isclass(obj):
        instance = obj()
        run = getattr(instance, "run", None)
        if not callable(run):
            raise NodeError(
                f"import_path: {target} is a class without a run(config, inputs) method"
            )
        return run(node_config, inputs or {})
    if not callable(obj):
        raise NodeError(f"import_path: {target} is neither a function nor a class")
    return _plain(obj)(node_config, inputs or {})


def _pump(stream: Any, name: str, lines: queue.SimpleQueue[tuple[str, str | None]]) -> None:
    for line in iter(stream.readline, ""):
        lines.put((name, line))
    lines.put((name, None))


@task
def shell_command(config: dict[str, Any], inputs: dict[str, Any] | None = None) -> Any:
    """Run ``config.command`` in a shell; its output goes to the task log as it comes.

    The result is the last line of stdout; a nonzero exit fails with the code and the last stderr line.
    """
    command = config.get("command")
    if not isinstance(command, str) or not command.strip():
        raise NodeError("config.command is required")
    extra = config.get("env") or {}
    if not isinstance(extra, dict):
        raise NodeError("config.env must be an object of NAME: value")
    env = {**os.environ, **{str(k): str(v) for k, v in extra.items()}}
    cwd = config.get("cwd")
    folder = base_dir() if cwd is None else (base_dir() / Path(str(cwd)).expanduser())
    proc = subprocess.Popen(  # noqa: S602 - a shell command is what this node is for
        command,
        shell=True,
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        bufsize=1,
    )
    # Reader threads only queue lines: this thread prints them, so they land in *this* task's log
    # (the output routing is per thread).
    lines: queue.SimpleQueue[tuple[str, str | None]] = queue.SimpleQueue()
    for stream, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
        threading.Thread(target=_pump, args=(stream, name, lines), daemon=True).start()
    last = {"stdout": "", "stderr": ""}
    open_streams = 2
    try:
        while open_streams:
            name, line = lines.get()
            if line is None:
                open_streams -= 1
                continue
            target = sys.stdout if name == "stdout" else sys.stderr
            target.write(line if line.endswith("\n") else line + "\n")
            if line.strip():
                last[name] = line.rstrip("\n")
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if code != 0:
        detail = f": {last['stderr']}" if last["stderr"] else ""
        raise NodeError(f"command exited with code {code}{detail}")
    return last["stdout"]
