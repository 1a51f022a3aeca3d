from __future__ import annotations

import json

import pytest

import dagy
from dagy import RetryConfigurationError, flow, task
from dagy.sdk.flow import FlowBuildError
from dagy.sdk.spec import FlowSpec


@task(retries=2, retry_delay_seconds=1, retry_jitter_factor=0.5, timeout_seconds=30)
def extract(date: str) -> list[dict]:
    return [{"date": date}]


@task
def transform(rows: list[dict]) -> list[dict]:
    return rows


@task
def noop(i: int) -> int:
    return i


@task
def total(values: list[int], extra: dict | None = None) -> int:
    return sum(values)


@flow(name="daily_etl", version="1.0.0")
def daily_etl(date: str = "2026-03-04"):
    return transform(extract(date))


@flow
def fan(n: int = 3):
    return total([noop(i) for i in range(n)], extra={"first": noop(99)})


def test_public_surface_is_pinned():
    assert sorted(dagy.__all__) == sorted(
        [
            "APIError",
            "ArtifactSerializationError",
            "DagyError",
            "DependencyCycleError",
            "Flow",
            "FlowSpec",
            "LocalExecutionError",
            "ParameterTypeError",
            "RetryConfigurationError",
            "Task",
            "TaskFailedError",
            "TaskTimeoutError",
            "__version__",
            "flow",
            "get_run_logger",
            "secret",
            "task",
        ]
    )


def test_build_records_task_runs_edges_and_outputs():
    spec = daily_etl.build(date="2026-03-05")
    data = json.loads(spec.to_json())
    assert data["flow_name"] == "daily_etl" and data["flow_version"] == "1.0.0"
    assert [tr["task_run_id"] for tr in data["task_runs"]] == ["extract-1", "transform-1"]
    assert data["task_runs"][0]["args"] == ["2026-03-05"]
    assert data["task_runs"][1]["args"] == [{"$ref": "extract-1"}]
    assert data["edges"] == [["extract-1", "transform-1"]]
    assert data["outputs"] == {"$ref": "transform-1"}
    assert data["tasks"]["extract"]["retries"] == 2
    assert data["tasks"]["extract"]["timeout_seconds"] == 30
    assert FlowSpec.from_json(spec.to_json()).to_dict() == spec.to_dict()


def test_refs_nested_in_lists_and_dicts_are_a_fan_in():
    spec = fan.build(n=3)
    last = spec.task_runs[-1]
    assert last.task_run_id == "total-1"
    assert last.args == [[{"$ref": "noop-1"}, {"$ref": "noop-2"}, {"$ref": "noop-3"}]]
    assert last.kwargs == {"extra": {"first": {"$ref": "noop-4"}}}
    assert sorted(last.upstream) == ["noop-1", "noop-2", "noop-3", "noop-4"]


def test_task_called_outside_a_flow_just_runs():
    assert transform([{"a": 1}]) == [{"a": 1}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be a non-negative integer"),
        ({"retries": 1.5}, "retries must be a non-negative integer"),
        ({"retry_delay_seconds": -2}, "retry_delay_seconds must be a non-negative number"),
        ({"retry_jitter_factor": "x"}, "retry_jitter_factor must be a non-negative number"),
        ({"timeout_seconds": 0}, "timeout_seconds must be a positive number"),
        ({"retrys": 2}, "Unknown task option"),
    ],
)
def test_bad_retry_options_fail_at_decoration_time(options, message):
    with pytest.raises(RetryConfigurationError, match=message):
        task(**options)


def test_using_a_result_in_the_flow_body_is_a_clear_build_error():
    @flow
    def peeks():
        if noop(1):
            return None
        return None

    with pytest.raises(FlowBuildError, match="is a reference while the flow is built"):
        peeks.build()


def test_wrong_task_arguments_are_a_build_error():
    @flow
    def wrong():
        return noop(1, 2)

    with pytest.raises(FlowBuildError, match="Task 'noop' called with wrong arguments"):
        wrong.build()


def test_unserialisable_literal_input_is_a_build_error():
    @flow
    def odd():
        return noop(object())

    with pytest.raises(FlowBuildError, match="cannot be stored in a FlowSpec"):
        odd.build()
