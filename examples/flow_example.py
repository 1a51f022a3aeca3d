"""A small ETL flow: extract rows for a date, transform them in parallel, load a summary."""

from __future__ import annotations

from dagy import flow, get_run_logger, task


@task(retries=2, retry_delay_seconds=0.1)
def extract(date: str) -> list[dict]:
    get_run_logger().info("extracting rows for %s", date)
    return [{"id": i, "date": date, "amount": i * 10} for i in range(1, 6)]


@task
def double(row: dict) -> dict:
    return {**row, "amount": row["amount"] * 2}


@task
def load(rows: list[dict]) -> dict:
    total = sum(r["amount"] for r in rows)
    print(f"loaded {len(rows)} rows, total={total}")
    return {"rows": len(rows), "total": total}


@flow(name="example_flow", version="1.0.0")
def example_flow(date: str = "2026-03-04", partitions: int = 3):
    rows = extract(date)
    doubled = [double(rows_part) for rows_part in _split(rows, partitions)]
    return load(doubled)


def _split(rows, partitions):  # wiring helper: picks elements by reference
    return [pick(rows, i) for i in range(partitions)]


@task
def pick(rows: list[dict], index: int) -> dict:
    return rows[index]
