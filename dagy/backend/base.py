"""``Backend``: every resource group a front end can reach, in one of three modes.

Each group is a Protocol in its own module (``runs``, ``catalog``, ``triggers``, ``vault``,
``environments``, ``accounts``) with two implementations: ``Local*`` (the services over the store
file) and ``Http*`` (the REST API through DagyClient). Both take typed arguments and return the
same typed records, so a command prints the same thing whichever mode it runs in.

A group is built, and its module imported, the first time a front end asks for it: a command
pays only for the group it uses (``dagy runs list`` never imports the environments group).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from dagy.backend.accounts import UsersBackend
    from dagy.backend.admin import AdminBackend
    from dagy.backend.catalog import CatalogBackend
    from dagy.backend.context import HttpContext, LocalContext
    from dagy.backend.environments import EnvironmentsBackend
    from dagy.backend.history import HistoryBackend
    from dagy.backend.runs import RunsBackend
    from dagy.backend.studio import StudioBackend
    from dagy.backend.triggers import SchedulesBackend, SensorsBackend
    from dagy.backend.vault import SecretsBackend
    from dagy.config.paths import DagyPaths

Mode = Literal["store", "server", "api"]


class Backend:
    def __init__(
        self,
        mode: Mode,
        label: str,
        ctx: LocalContext | HttpContext,
        profile: str | None,
        table_format: str,
    ) -> None:
        self.mode = mode
        self.label = label  # what a header names: the profile and the store or server looked at
        self.ctx = ctx
        self.profile = profile
        self.table_format = table_format

    @classmethod
    def over_store(
        cls, ctx: LocalContext, label: str, profile: str | None, table_format: str
    ) -> Backend:
        return cls("store", label, ctx, profile, table_format)

    @classmethod
    def over_http(
        cls, ctx: HttpContext, mode: Mode, label: str, profile: str | None, table_format: str
    ) -> Backend:
        return cls(mode, label, ctx, profile, table_format)

    @property
    def paths(self) -> DagyPaths:
        return self.ctx.paths

    @property
    def local(self) -> bool:
        """True when this home's store is looked at (the file, or its live server)."""
        return self.mode != "api"

    def _pick(self, module: str, name: str) -> object:
        """The group ``name`` of ``dagy.backend.<module>``: ``Local<name>`` on the store file,
        ``Http<name>`` through an API."""
        import importlib

        found = importlib.import_module(f"dagy.backend.{module}")
        kind = "Local" if self.mode == "store" else "Http"
        return getattr(found, f"{kind}{name}")(self.ctx)

    @cached_property
    def runs(self) -> RunsBackend:
        return self._pick("runs", "Runs")  # type: ignore[return-value]

    @cached_property
    def catalog(self) -> CatalogBackend:
        return self._pick("catalog", "Catalog")  # type: ignore[return-value]

    @cached_property
    def schedules(self) -> SchedulesBackend:
        return self._pick("triggers", "Schedules")  # type: ignore[return-value]

    @cached_property
    def sensors(self) -> SensorsBackend:
        return self._pick("triggers", "Sensors")  # type: ignore[return-value]

    @cached_property
    def secrets(self) -> SecretsBackend:
        return self._pick("vault", "Secrets")  # type: ignore[return-value]

    @cached_property
    def environments(self) -> EnvironmentsBackend:
        return self._pick("environments", "Environments")  # type: ignore[return-value]

    @cached_property
    def users(self) -> UsersBackend:
        return self._pick("accounts", "Users")  # type: ignore[return-value]

    @cached_property
    def admin(self) -> AdminBackend:
        return self._pick("admin", "Admin")  # type: ignore[return-value]

    @cached_property
    def studio(self) -> StudioBackend:
        return self._pick("studio", "Studio")  # type: ignore[return-value]

    @cached_property
    def history(self) -> HistoryBackend:
        """``dagy sql``: read-only queries over the run history, and saved queries."""
        return self._pick("history", "History")  # type: ignore[return-value]
