"""Load a ``<path>:<flow_fn>`` target: import the file as a module and find the ``@flow``."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from dagy.sdk.flow import Flow


def split_target(target: str) -> tuple[str, str]:
    path, sep, attr = target.rpartition(":")
    if not sep or not path or not attr:
        raise ValueError("Flow target must be in <path>:<flow_fn> format")
    return path, attr


def _is_pipeline_file(path: str) -> bool:
    return path.lower().endswith((".yaml", ".yml"))


def module_name_for(path: Path) -> str:
    """A stable module name for a flow file, the same in every process that loads it."""
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    return f"dagy_flow_{stem}_{digest}"


def load_module(path: str | Path) -> ModuleType:
    """Import a flow file once per process (its folder goes on sys.path for sibling imports).
    A ``.yaml``/``.yml`` pipeline file loads as a module holding its PipelineFlow."""
    if _is_pipeline_file(str(path)):
        from dagy.pipelines import loader as pipelines

        return pipelines.load_module(path)
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise FileNotFoundError(f"Flow file not found: {file}")
    name = module_name_for(file)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"Unable to load module from {file}")
    module = importlib.util.module_from_spec(spec)
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        # The real cause in the one line the CLI prints (a missing package, a syntax error, ...).
        raise ImportError(
            f"Unable to load module from {file}: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def load_flow(target: str) -> Flow:
    """The Flow named by ``<path>:<flow_fn>``; errors carry the spec's exact messages. A YAML
    pipeline (``pipeline.yaml`` or ``pipeline.yaml:<name>``) loads as a PipelineFlow."""
    if _is_pipeline_file(target) or _is_pipeline_file(target.rpartition(":")[0]):
        from dagy.pipelines import loader as pipelines

        return pipelines.load_flow(target)
    path, attr = split_target(target)
    module = load_module(path)
    file = Path(module.__file__ or path).resolve()
    obj = getattr(module, attr, None)
    if obj is None:
        raise AttributeError(f"Flow '{attr}' not found in {file}")
    if not isinstance(obj, Flow):
        raise TypeError(f"'{attr}' in {file} is not a @flow-decorated function")
    obj.entrypoint = f"{file}:{attr}"
    return obj
