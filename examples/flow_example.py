"""A small ETL flow: extract each region's orders for a date in parallel, summarise them, load a report.

dagy run examples/flow_example.py:example_flow --param date=2026-03-04 --max-workers 4
"""

from __future__ import annotations

from dagy import flow, get_run_logger, task


@task(retries=2, retry_delay_seconds=0.5, retry_jitter_factor=0.5, timeout_seconds=30)
def extract(date: str, region: str) -> list[dict]:
    get_run_logger().info("extracting %s orders for %s", region, date)
    return [{"region": region, "date": date, "amount": n * 10} for n in range(1, len(region) + 2)]


@task
def summarise(rows: list[dict]) -> dict:
    return {
        "region": rows[0]["region"],
        "orders": len(rows),
        "total": sum(r["amount"] for r in rows),
    }


@task
def load(summaries: list[dict]) -> dict:
    total = sum(s["total"] for s in summaries)
    print(f"loaded {len(summaries)} regions, total={total}")
    return {"regions": len(summaries), "total": total}


@flow(name="example_flow", version="1.0.0")
def example_flow(date: str = "2026-03-04", regions: str = "eu,us,apac"):
    summaries = [summarise(extract(date, region)) for region in regions.split(",")]
    return load(summaries)
