"""dagy.services.vault.environments on a real store: what a run gets, `dagy run --env`, the rules."""

from __future__ import annotations

import pytest

from dagy.auth.identity import Identity
from dagy.backend import open_backend
from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from dagy.services.accounts.audit import Actor
from dagy.services.vault import environments
from dagy.store.duckdb_store import DuckDBStore

ORG = "personal"


def as_role(role: str | None, org: str = ORG) -> Actor:
    """Someone of ``role`` in ``org``, as a route's ``actor_of(request)`` would give."""
    return Actor(Identity("someone@example.com", org, role or "", frozenset(), "token"))


OWNER = as_role("owner")


@pytest.fixture
def store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def test_variables_for_gives_a_runs_environment_variables(store: DuckDBStore):
    environments.create(store, OWNER, env_name="staging")
    environments.set_variables(
        store, OWNER, "staging", {"LOG_LEVEL": "debug", "DB": "pg://x"}, replace=True
    )
    assert environments.variables_for(store, ORG, "staging") == {
        "DB": "pg://x",
        "LOG_LEVEL": "debug",
    }
    assert environments.variables_for(store, ORG, None) == {}
    assert environments.variables_for(store, ORG, "gone") == {}
    assert environments.variables_for(store, "another-org", "staging") == {}


def test_resolve_for_run_on_the_store_file_gives_what_dagy_run_env_applies(
    store: DuckDBStore, paths: DagyPaths
):
    environments.create(store, OWNER, env_name="staging")
    environments.set_variables(store, OWNER, "staging", {"API_URL": "http://s"}, replace=True)
    backend = open_backend(paths)
    assert backend.mode == "store"
    found = backend.environments.resolve_for_run("staging")
    assert found.variables == {"API_URL": "http://s"}
    environ: dict[str, str] = {"KEEP": "1", "API_URL": "old"}
    found.apply(environ)
    assert environ == {"KEEP": "1", "API_URL": "http://s", "DAGY_ENVIRONMENT": "staging"}
    with pytest.raises(NotFoundError, match="nowhere"):
        backend.environments.resolve_for_run("nowhere")


def test_merge_keeps_others_and_replace_drops_them(store: DuckDBStore):
    environments.create(store, OWNER, env_name="dev")
    environments.set_variables(store, OWNER, "dev", {"A": "1", "B": "2"}, replace=True)
    _, before, after = environments.set_variables(
        store, OWNER, "dev", {"B": "3", "C": "4"}, replace=False
    )
    assert after == {"A": "1", "B": "3", "C": "4"}
    assert environments.variable_changes(before, after) == {
        "added": ["C"],
        "changed": ["B"],
        "removed": [],
    }
    _, _, after = environments.set_variables(store, OWNER, "dev", {"Z": "9"}, replace=True)
    assert after == {"Z": "9"}


@pytest.mark.parametrize(
    "variables, field",
    [
        ({"DAGY_LOCAL_DIR": "/tmp"}, "variables"),
        ({"dagy_secrets_file": "/tmp"}, "variables"),
        ({"1ABC": "x"}, "variables"),
        ({"A-B": "x"}, "variables"),
        ({"A": 5}, "variables.A"),
        ({"A": "nul\x00"}, "variables.A"),
        ({"A": "lone \ud800"}, "variables.A"),
        (["A"], "variables"),
        (None, "variables"),
    ],
)
def test_bad_variables_are_400_naming_the_field(store: DuckDBStore, variables, field):
    environments.create(store, OWNER, env_name="dev")
    with pytest.raises(InvalidInputError) as caught:
        environments.set_variables(store, OWNER, "dev", variables, replace=False)
    assert field in caught.value.details


@pytest.mark.parametrize("role", ["developer", "viewer", None, "", "superuser"])
def test_a_protected_environment_changes_only_for_owner_or_admin(store: DuckDBStore, role):
    environments.create(store, OWNER, env_name="production", is_protected=True)
    with pytest.raises(PermissionDeniedError):
        environments.set_variables(store, as_role(role), "production", {"A": "1"}, replace=False)
    with pytest.raises(PermissionDeniedError):
        environments.update(store, as_role(role), "production", {"is_protected": False})
    for allowed in ("owner", "admin"):
        environments.set_variables(store, as_role(allowed), "production", {"A": "1"}, replace=False)


@pytest.mark.parametrize("name", ["reorder", "promote", "", "-x", "a/b", "x" * 65, 7])
def test_invalid_environment_names(store: DuckDBStore, name):
    with pytest.raises(InvalidInputError) as caught:
        environments.create(store, OWNER, env_name=name)
    assert "env_name" in caught.value.details


def test_reorder_puts_the_named_first_and_keeps_the_rest_after(store: DuckDBStore):
    for name in ("a", "b", "c", "d"):
        environments.create(store, OWNER, env_name=name)
    ordered, before = environments.reorder(store, OWNER, ["c", "a"])
    assert before == ["a", "b", "c", "d"]
    assert [(e.env_name, e.promotion_order) for e in ordered] == [
        ("c", 0),
        ("a", 1),
        ("b", 2),
        ("d", 3),
    ]
    for bad in (["c", "c"], ["zz"], "c", [1]):
        with pytest.raises(InvalidInputError):
            environments.reorder(store, OWNER, bad)
