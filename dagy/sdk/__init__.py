"""The Python SDK: ``@flow``, ``@task`` and the FlowSpec they build."""

from dagy.sdk.flow import Flow, flow
from dagy.sdk.spec import FlowSpec, TaskDef, TaskRunSpec
from dagy.sdk.task import Task, task

__all__ = ["Flow", "FlowSpec", "Task", "TaskDef", "TaskRunSpec", "flow", "task"]
