"""Schedules and sensors through the backend."""

from __future__ import annotations

from typing import Protocol

from dagy.backend.context import HttpContext, LocalContext


class SchedulesBackend(Protocol): ...


class SensorsBackend(Protocol): ...


class LocalSchedules:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx


class LocalSensors:
    def __init__(self, ctx: LocalContext) -> None:
        self.ctx = ctx


class HttpSchedules:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx


class HttpSensors:
    def __init__(self, ctx: HttpContext) -> None:
        self.ctx = ctx
