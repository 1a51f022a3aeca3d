"""A problem found in a pipeline or a draft, named by where it is; and the error that carries them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagy.errors import InvalidInputError


@dataclass(frozen=True)
class Problem:
    """``path`` says where: ``steps[2].config.url`` in YAML, ``nodes.node_1.data.bucket`` in a
    canvas. ``node`` is the step or canvas node id, ``field`` the config field or key, when known."""

    path: str
    message: str
    node: str | None = None
    field: str | None = None

    def line(self) -> str:
        """The one line ``dagy validate`` prints."""
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_api(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "node": self.node, "field": self.field}


class PipelineError(InvalidInputError):
    """A pipeline or draft that cannot be compiled; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem], what: str = "Pipeline") -> None:
        self.problems = list(problems)
        first = self.problems[0].line() if self.problems else "invalid"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(
            f"{what} is invalid: {first}{more}",
            {"errors": [p.to_api() for p in self.problems]},
        )
