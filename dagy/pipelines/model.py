"""The one in-memory form of a pipeline, whether it came from YAML or from a draft's canvas.

Values in ``config`` and ``with_`` are plain YAML data in which strings may hold references:
``${params.day}`` (a parameter), ``${fetch}`` (step ``fetch``'s result: an edge), ``${item}`` or
``${item.id}`` (the element a ``for_each`` step runs for). A string that is exactly one reference is
replaced by the value; a reference inside a longer string is formatted into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STEP_KINDS = ("node", "python", "command")


@dataclass
class Step:
    id: str
    kind: str  # node | python | command
    node: str | None = None  # node type (kind "node")
    python: str | None = None  # "module:function" or "path.py:function" (kind "python")
    command: str | None = None  # a shell command line (kind "command")
    config: dict[str, Any] = field(default_factory=dict)
    with_: dict[str, Any] = field(default_factory=dict)  # YAML key "with"
    depends: list[str] = field(default_factory=list)  # ordering edges without data
    # Runs only when this condition step took the branch: {"step": "check", "branch": True};
    # YAML: ``when: ${check}`` (true branch) or ``when: "not ${check}"``.
    when: dict[str, Any] | None = None
    # One task run per element: a reference string ("${fetch}"), a list, or "${params.x}".
    for_each: Any = None
    retries: int = 0
    retry_delay_seconds: float = 0.0
    timeout_seconds: float | None = None
    executor: str | None = None
    import_path: str | None = None  # a custom node's code, carried so the YAML stands alone
    label: str | None = None
    # Canvas-only facts a round trip keeps: position [x, y], and connector ids of edges as
    # {"<with key>": {"source_connector": .., "target_connector": ..}}; YAML key "ui".
    ui: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pipeline:
    name: str
    version: str = "1.0.0"
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    # The folder relative ``python: file.py:fn`` paths are found in (the YAML file's folder).
    base_dir: str | None = None
    source: str | None = None  # the file it was read from, for messages

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)
