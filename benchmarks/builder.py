"""Visual-builder benchmarks: records through the executable nodes (and, later, draft compiles).

    python benchmarks/builder.py            # 1,000,000 records (~15 s on 2 cores)
    python benchmarks/builder.py --quick    # 100,000 records: a smoke test
    python benchmarks/builder.py --check    # exit 1 if a target is missed

1. Records: an NDJSON file of realistic orders (about 5% repeated orders, about 3% invalid rows) goes
   through s3_ingest(file://) -> schema_validator(drop) -> data_normalizer -> deduplicator ->
   s3_write(file://), the node functions called in sequence inside a TaskContext, in a fresh child
   process that reports its wall time and peak RSS. The input is made (by DuckDB) before the clock
   starts. Targets: < 15 s and < 1.5 GB peak.
2. Draft compile: a 500-node canvas (100 lanes of file_ingest -> schema_validator ->
   data_normalizer -> deduplicator -> file_write) through the path a deploy takes: the shape check,
   canvas -> Pipeline, the checker (registry lookups, connections, config forms, cycles) and the
   compiler to a FlowSpec; then, apart, the YAML text a deploy writes. Medians of 7 after one warm-up,
   in this process. Target: < 200 ms for draft -> FlowSpec.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FULL_RECORDS = 1_000_000
QUICK_RECORDS = 100_000
TARGET_SECONDS = 15.0
TARGET_PEAK_MB = 1536.0

SCHEMA = {
    "type": "object",
    "required": ["order_id", "Email", "amount", "status", "created_at"],
    "properties": {
        "order_id": {"type": "integer", "minimum": 1},
        "Customer_ID": {"type": "integer", "minimum": 0},
        "Email": {"type": "string", "pattern": "^\\s*[^@\\s]+@[^@\\s]+\\s*$", "maxLength": 120},
        "name": {"type": "string", "minLength": 1},
        "amount": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
        "status": {"enum": ["new", "paid", "shipped", "cancelled"]},
        "items": {"type": "integer", "minimum": 1, "maximum": 10},
        "Country": {"type": "string", "minLength": 2, "maxLength": 2},
        "created_at": {"type": "string", "minLength": 10},
        "note": {"type": "string"},
    },
}

# Every field is a function of the order id, so a repeated order is the very same record: one row
# in 20 repeats the order before it. One in 97 has an email without "@", one in 89 a negative
# amount, one in 83 an unknown status, one in 211 no email at all.
GENERATE = """
COPY (
  WITH o AS (SELECT CASE WHEN i % 20 = 19 THEN i ELSE i + 1 END AS id FROM range({n}) t(i)),
  r AS (SELECT id, hash(id) AS h, (hash(id) % 50000)::INTEGER AS cid FROM o)
  SELECT
    id AS order_id,
    cid AS "Customer_ID",
    CASE WHEN id % 211 = 0 THEN NULL
         WHEN id % 97 = 0 THEN 'user' || cid || '.example.com'
         ELSE '  User' || cid || '@Example.COM ' END AS "Email",
    ' Customer ' || cid || ' ' AS name,
    CASE WHEN id % 89 = 0 THEN -1 ELSE 1 END * ((h % 100000) / 100.0)::DOUBLE AS amount,
    ['EUR', 'USD', 'GBP'][(h % 3)::INTEGER + 1] AS currency,
    CASE WHEN id % 83 = 0 THEN 'unknown'
         ELSE ['new', 'paid', 'shipped', 'cancelled'][((h >> 8) % 4)::INTEGER + 1] END AS status,
    (1 + (h >> 16) % 5)::INTEGER AS items,
    ['DE', 'FR', 'US', 'GB', 'NL', 'ES'][((h >> 24) % 6)::INTEGER + 1] AS "Country",
    strftime(TIMESTAMP '2026-01-01' + to_seconds((id % 5000000)::BIGINT), '%Y-%m-%dT%H:%M:%SZ')
      AS created_at,
    CASE WHEN id % 7 = 0 THEN '' ELSE 'gift wrap' END AS note
  FROM r
  ORDER BY id
) TO '{path}' (FORMAT json)
"""


def make_input(path: Path, n: int) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(GENERATE.format(n=n, path=str(path).replace("'", "''")))
    finally:
        con.close()


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_records(source: Path, work: Path) -> dict[str, Any]:
    """The five nodes in sequence inside a TaskContext (in the child process)."""
    from dagy.engine.context import TaskContext, bound
    from dagy.nodes.run import io, transform

    context = TaskContext(
        run_id="bench",
        task_run_id="records",
        attempt=1,
        artifact_dir=work / "artifacts",
        task_dir=work / "task",
        entrypoint=None,
    )
    steps: dict[str, tuple[float, float]] = {}
    started, cpu_started = time.perf_counter(), time.process_time()

    def timed(name: str, fn: Any, config: dict[str, Any], data: Any = None) -> Any:
        at, cpu = time.perf_counter(), time.process_time()
        out = fn(config, None if data is None else {"data_in": data})
        steps[name] = (time.perf_counter() - at, time.process_time() - cpu)
        return out

    with bound(context):
        df = timed(
            "s3_ingest",
            io.s3_ingest,
            {"uri": source.as_uri(), "format": "ndjson", "output": "dataframe"},
        )
        valid = timed(
            "schema_validator",
            transform.schema_validator,
            {"schema": SCHEMA, "on_invalid": "drop"},
            df,
        )
        clean = timed(
            "data_normalizer",
            transform.data_normalizer,
            {"lowercase_keys": True, "trim_strings": True, "empty_as_null": True,
             "lowercase_values": ["email"]},
            valid,
        )  # fmt: skip
        unique = timed("deduplicator", transform.deduplicator, {"keys": ["order_id"]}, clean)
        written = timed("s3_write", io.s3_write, {"uri": (work / "out.ndjson").as_uri()}, unique)
    wall = time.perf_counter() - started
    return {
        "wall_seconds": wall,
        "cpu_seconds": time.process_time() - cpu_started,
        "peak_rss_mb": peak_rss_mb(),
        "steps": steps,
        "rows_in": df["$dataframe"]["rows"],
        "rows_valid": valid["$dataframe"]["rows"],
        "rows_out": unique["$dataframe"]["rows"],
        "written": written,
    }


COMPILE_NODES = 500
COMPILE_TARGET_MS = 200.0
_LANE = ("file_ingest", "schema_validator", "data_normalizer", "deduplicator", "file_write")


def big_canvas(nodes: int = COMPILE_NODES) -> dict[str, Any]:
    """``nodes`` canvas nodes in lanes of five, each lane a real ingest-to-write pipeline."""
    config = {
        "file_ingest": lambda lane: {"uri": f"in/{lane}.ndjson", "format": "ndjson"},
        "schema_validator": lambda lane: {"schema": SCHEMA, "on_invalid": "drop"},
        "data_normalizer": lambda lane: {"lowercase_keys": True, "trim_strings": True},
        "deduplicator": lambda lane: {"keys": ["order_id"]},
        "file_write": lambda lane: {"uri": f"out/{lane}.ndjson", "format": "ndjson"},
    }
    canvas_nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for i in range(nodes):
        lane, stage = divmod(i, len(_LANE))
        node_type = _LANE[stage]
        canvas_nodes.append(
            {
                "id": f"n{i}",
                "type": node_type,
                "position": [stage * 250, lane * 120],
                "data": config[node_type](lane),
            }
        )
        if stage:
            edges.append({"id": f"e{i}", "source": f"n{i - 1}", "target": f"n{i}"})
    return {"nodes": canvas_nodes, "edges": edges}


def draft_compile(quick: bool) -> dict[str, Any]:
    """Milliseconds (medians) of a 500-node draft: to a FlowSpec, and to its YAML text."""
    from statistics import median

    from dagy.nodes import registry
    from dagy.pipelines import canvas as canvas_mod
    from dagy.pipelines.check import check_pipeline
    from dagy.pipelines.compile import to_flow_spec
    from dagy.pipelines.yaml_format import dump_pipeline

    canvas = big_canvas()
    lookup = registry.lookup

    def to_spec() -> tuple[Any, Any]:
        assert not canvas_mod.check_shape(canvas)
        pipeline, problems = canvas_mod.to_pipeline(
            "big_draft", canvas, lookup, version="1.0.0", description=""
        )
        problems += check_pipeline(pipeline, lookup)
        assert not problems, problems[:3]
        return pipeline, to_flow_spec(pipeline, {}, lookup=lookup)

    at = time.perf_counter()
    pipeline, spec = to_spec()  # also the warm-up
    cold = (time.perf_counter() - at) * 1000
    assert len(spec.task_runs) == COMPILE_NODES
    spec_ms, yaml_ms = [], []
    for _ in range(3 if quick else 7):
        at = time.perf_counter()
        pipeline, spec = to_spec()
        spec_ms.append((time.perf_counter() - at) * 1000)
        at = time.perf_counter()
        dump_pipeline(pipeline)
        yaml_ms.append((time.perf_counter() - at) * 1000)
    return {"cold_ms": cold, "spec_ms": median(spec_ms), "yaml_ms": median(yaml_ms)}


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    target: float | None = None

    def row(self) -> str:
        verdict = (
            "info" if self.target is None else ("PASS" if self.value < self.target else "FAIL")
        )
        target = "-"
        if self.target is not None:
            shown = f"{self.target:,.0f}" if self.target >= 100 else f"{self.target:.1f}"
            target = f"< {shown} {self.unit}"
        return f"{self.name:<34} {self.value:>10,.2f} {self.unit:<4} {target:<12} {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--records", type=int, help="how many records (default 1,000,000)")
    parser.add_argument("--tmpdir", help="where the scratch folder goes ($TMPDIR by default)")
    parser.add_argument(
        "--child-records", nargs=2, metavar=("SOURCE", "WORK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child_records:
        result = run_records(Path(args.child_records[0]), Path(args.child_records[1]))
        print(json.dumps(result))
        return 0

    n = args.records or (QUICK_RECORDS if args.quick else FULL_RECORDS)
    scratch = Path(tempfile.mkdtemp(prefix="dagy-bench-builder-", dir=args.tmpdir))
    metrics: list[Metric] = []
    try:
        print(
            f"== records: {n:,} JSON records, ingest -> validate -> normalize -> dedupe -> write =="
        )
        source = scratch / "orders.ndjson"
        at = time.perf_counter()
        make_input(source, n)
        size_mb = source.stat().st_size / 1e6
        print(f"input: {source.name}, {size_mb:,.0f} MB, made in {time.perf_counter() - at:.1f}s")
        env = {**os.environ, "DAGY_LOCAL_DIR": str(scratch / "home")}
        work = scratch / "work"
        work.mkdir()
        done = subprocess.run(
            [sys.executable, __file__, "--child-records", str(source), str(work)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
            raise SystemExit("the records benchmark failed")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        for step, (seconds, cpu) in result["steps"].items():
            print(f"  {step:<18} {seconds:6.2f} s wall {cpu:6.2f} s CPU")
        print(
            f"rows: {result['rows_in']:,} in, {result['rows_valid']:,} valid, "
            f"{result['rows_out']:,} after dedupe; wrote {result['written']['bytes'] / 1e6:,.0f} MB"
        )
        scale = FULL_RECORDS / n  # the targets are for a million records
        metrics.append(Metric(f"records: wall ({n:,})", result["wall_seconds"], "s",
                              TARGET_SECONDS / scale))  # fmt: skip
        metrics.append(Metric(f"records: peak RSS ({n:,})", result["peak_rss_mb"], "MB",
                              TARGET_PEAK_MB))  # fmt: skip
        metrics.append(Metric("records: CPU, all threads", result["cpu_seconds"], "s"))
        metrics.append(
            Metric("records: per 1,000 records", result["wall_seconds"] / n * 1000 * 1000, "ms")
        )

        print(f"\n== draft compile: {COMPILE_NODES} nodes, draft -> FlowSpec, and its YAML ==")
        compiled = draft_compile(args.quick)
        metrics.append(Metric(f"compile: draft -> FlowSpec ({COMPILE_NODES})",
                              compiled["spec_ms"], "ms", COMPILE_TARGET_MS))  # fmt: skip
        metrics.append(Metric("compile: first call (imports warm)", compiled["cold_ms"], "ms"))
        metrics.append(Metric("compile: + YAML text for deploy", compiled["yaml_ms"], "ms"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print("\n" + "\n".join(m.row() for m in metrics))
    missed = [m for m in metrics if m.target is not None and m.value >= m.target]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
