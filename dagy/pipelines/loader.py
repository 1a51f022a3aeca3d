"""A YAML pipeline file loads like a flow file: ``dagy.sdk.loader.load_flow`` and ``load_module``
hand ``.yaml``/``.yml`` paths here, so ``dagy run``, ``dagy runs retry``, the process executor's
child and a server's run of a deployment all work unchanged. The entry point of a pipeline is
``/abs/pipeline.yaml:<pipeline name>``; ``build(**params)`` compiles it to its FlowSpec."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

from dagy.pipelines.model import Pipeline
from dagy.sdk.flow import Flow
from dagy.sdk.spec import FlowSpec

SUFFIXES = (".yaml", ".yml")


def is_pipeline_file(path: str | Path) -> bool:
    return str(path).lower().endswith(SUFFIXES)


def is_pipeline_target(target: str) -> bool:
    """``x.yaml`` or ``x.yaml:<name>``."""
    return is_pipeline_file(target) or is_pipeline_file(target.rpartition(":")[0])


class PipelineFlow(Flow):
    """A pipeline as a Flow: its name and version; ``build`` compiles it with the parameters."""

    def __init__(self, pipeline: Pipeline, file: Path | None = None) -> None:
        self.pipeline = pipeline
        self.name = pipeline.name
        self.version = pipeline.version
        self.description = pipeline.description
        self.file = file
        self.entrypoint = f"{file}:{pipeline.name}" if file is not None else None
        self.fn = self._no_body

    def _no_body(self, **params: Any) -> Any:
        raise TypeError(f"Pipeline '{self.name}' has no Python body; build() compiles it")

    def coerce(self, params: dict[str, Any]) -> dict[str, Any]:
        from dagy.pipelines.compile import coerce_params

        return coerce_params(self.pipeline, params)

    def build(self, **params: Any) -> FlowSpec:
        from dagy.pipelines.compile import to_flow_spec

        return to_flow_spec(self.pipeline, params, entrypoint=self.entrypoint)

    def __repr__(self) -> str:
        return f"<PipelineFlow {self.name}:{self.version}>"


def read_pipeline(path: str | Path) -> Pipeline:
    """Parse a pipeline file (PipelineError naming every problem of its shape)."""
    from dagy.pipelines.yaml_format import parse_pipeline

    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise FileNotFoundError(f"Pipeline file not found: {file}")
    text = file.read_text(encoding="utf-8")
    return parse_pipeline(text, source=str(file), base_dir=str(file.parent))


def load_module(path: str | Path) -> types.ModuleType:
    """The pipeline file as a module holding its PipelineFlow under the pipeline's name. Read
    afresh each time (it is data, and cheap); its folder goes on sys.path, so a step's
    ``python: module:function`` finds a module beside the YAML as a flow's sibling import would."""
    from dagy.sdk.loader import module_name_for

    file = Path(path).expanduser().resolve()
    pipeline = read_pipeline(file)
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = types.ModuleType(module_name_for(file))
    module.__file__ = str(file)
    setattr(module, pipeline.name, PipelineFlow(pipeline, file))
    return module


def load_flow(target: str) -> PipelineFlow:
    """The PipelineFlow of ``x.yaml`` or ``x.yaml:<name>`` (the name must be the pipeline's)."""
    path, name = (target, "") if is_pipeline_file(target) else target.rsplit(":", 1)
    module = load_module(path)
    flow = next(v for v in vars(module).values() if isinstance(v, PipelineFlow))
    if name and name != flow.name:
        raise AttributeError(
            f"Pipeline '{name}' not found in {module.__file__} (it is '{flow.name}')"
        )
    return flow
