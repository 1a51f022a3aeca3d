"""``Backend``: every resource group a front end can reach, in one of three modes.

Each group is a Protocol in its own module (``runs``, ``catalog``, ``triggers``, ``vault``,
``accounts``) with two implementations: ``Local*`` (the services over the store file) and
``Http*`` (the REST API through DagyClient). Both take typed arguments and return the same typed
records, so a command prints the same thing whichever mode it runs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from dagy.backend.accounts import UsersBackend
    from dagy.backend.catalog import CatalogBackend
    from dagy.backend.context import HttpContext, LocalContext
    from dagy.backend.runs import RunsBackend
    from dagy.backend.triggers import SchedulesBackend, SensorsBackend
    from dagy.backend.vault import EnvironmentsBackend, SecretsBackend
    from dagy.config.paths import DagyPaths

Mode = Literal["store", "server", "api"]


@dataclass(frozen=True)
class Backend:
    mode: Mode
    label: str  # what a header names: the profile and the store or server looked at
    paths: DagyPaths
    profile: str | None
    table_format: str
    runs: RunsBackend
    catalog: CatalogBackend
    schedules: SchedulesBackend
    sensors: SensorsBackend
    secrets: SecretsBackend
    environments: EnvironmentsBackend
    users: UsersBackend

    @property
    def local(self) -> bool:
        """True when this home's store is looked at (the file, or its live server)."""
        return self.mode != "api"

    @classmethod
    def over_store(
        cls, ctx: LocalContext, label: str, profile: str | None, table_format: str
    ) -> Backend:
        from dagy.backend import accounts, catalog, runs, triggers, vault

        return cls(
            "store",
            label,
            ctx.paths,
            profile,
            table_format,
            runs=runs.LocalRuns(ctx),
            catalog=catalog.LocalCatalog(ctx),
            schedules=triggers.LocalSchedules(ctx),
            sensors=triggers.LocalSensors(ctx),
            secrets=vault.LocalSecrets(ctx),
            environments=vault.LocalEnvironments(ctx),
            users=accounts.LocalUsers(ctx),
        )

    @classmethod
    def over_http(
        cls, ctx: HttpContext, mode: Mode, label: str, profile: str | None, table_format: str
    ) -> Backend:
        from dagy.backend import accounts, catalog, runs, triggers, vault

        return cls(
            mode,
            label,
            ctx.paths,
            profile,
            table_format,
            runs=runs.HttpRuns(ctx),
            catalog=catalog.HttpCatalog(ctx),
            schedules=triggers.HttpSchedules(ctx),
            sensors=triggers.HttpSensors(ctx),
            secrets=vault.HttpSecrets(ctx),
            environments=vault.HttpEnvironments(ctx),
            users=accounts.HttpUsers(ctx),
        )
