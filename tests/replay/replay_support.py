"""A flow and a pipeline whose steps leave a line in a tally file each time they execute, and
whose extract step fails once a ``forbid-extract`` file is next to the tally: a replay that
calls it (the "live system") fails."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

FLOW = """
    from pathlib import Path

    from dagy import flow, task


    def _mark(tally: str, name: str) -> None:
        with open(tally, "a") as fh:
            fh.write(name + "\\n")


    @task
    def extract(tally: str) -> list:
        _mark(tally, "extract")
        if (Path(tally).parent / "forbid-extract").exists():
            raise RuntimeError("the live system was called")
        return [1, 2, 3]


    @task
    def transform(rows: list, tally: str) -> list:
        _mark(tally, "transform")
        return [r * FACTOR for r in rows]


    @task
    def load(rows: list, tally: str) -> str:
        _mark(tally, "load")
        return "stored"

    EXTRA
    @flow(name="etl", version="1.0.0")
    def etl(tally: str):
        out = load(transform(extract(tally), tally), tally)
        CALL
        return out
"""

AUDIT = """
    @task
    def audit(tally: str) -> str:
        _mark(tally, "audit")
        return "audited"
"""

STEPS = """
    from pathlib import Path


    def _mark(tally, name):
        with open(tally, "a") as fh:
            fh.write(name + "\\n")


    def extract(tally):
        _mark(tally, "extract")
        if (Path(tally).parent / "forbid-extract").exists():
            raise RuntimeError("the live system was called")
        return [1, 2, 3]


    def scale(rows, tally):
        _mark(tally, "scale")
        return [r * FACTOR for r in rows]


    def inc(item, tally):
        _mark(tally, "inc")
        return item + 1
"""

PIPELINE = """
    name: etl_yaml
    version: 1.0.0
    params:
      tally: tally.txt
    steps:
      - id: extract
        python: steps.py:extract
        with: {tally: "${params.tally}"}
      - id: scale
        python: steps.py:scale
        with: {rows: "${extract}", tally: "${params.tally}"}
      - id: bump
        python: steps.py:inc
        with: {item: "${item}", tally: "${params.tally}"}
        for_each: ${extract}
"""


def write_flow(folder: Path, factor: int = 10, audit: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(FLOW).replace("FACTOR", str(factor))
    text = text.replace("EXTRA", textwrap.dedent(AUDIT) if audit else "")
    text = text.replace("CALL", "audit(tally)" if audit else "")
    path = folder / "etl.py"
    path.write_text(text, encoding="utf-8")
    return path


def write_pipeline(folder: Path, factor: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "steps.py").write_text(
        textwrap.dedent(STEPS).replace("FACTOR", str(factor)), encoding="utf-8"
    )
    path = folder / "etl.yaml"
    path.write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
    return path


def tally(folder: Path) -> list[str]:
    path = folder / "tally.txt"
    return path.read_text().splitlines() if path.exists() else []


def forbid_extract(folder: Path) -> None:
    (folder / "forbid-extract").write_text("")


def run_id_of(done: subprocess.CompletedProcess[str]) -> str:
    """The id in `Run completed: <run_id> status=<STATUS>`."""
    assert "Run completed: " in done.stdout, (done.stdout, done.stderr)
    return done.stdout.split("Run completed: ")[1].split()[0]


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, (done.stdout, done.stderr)
    return json.loads(done.stdout)


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["task_run_id"]: i for i in items}
