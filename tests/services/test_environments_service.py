"""dagy.services.vault.environments on a real store: what a run gets, `dagy run --env`, the rules."""

from __future__ import annotations

import pytest

from dagy.config.paths import DagyPaths
from dagy.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from dagy.services.vault import environments
from dagy.store.duckdb_store import DuckDBStore

ORG = "personal"


@pytest.fixture
def store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def test_variables_for_gives_a_runs_environment_variables(store: DuckDBStore):
    environments.create(store, ORG, env_name="staging")
    environments.set_variables(
        store, ORG, "owner", "staging", {"LOG_LEVEL": "debug", "DB": "pg://x"}, replace=True
    )
    assert environments.variables_for(store, ORG, "staging") == {
        "DB": "pg://x",
        "LOG_LEVEL": "debug",
    }
    assert environments.variables_for(store, ORG, None) == {}
    assert environments.variables_for(store, ORG, "gone") == {}
    assert environments.variables_for(store, "another-org", "staging") == {}


def test_apply_to_environ_without_a_server_reads_the_file(store: DuckDBStore, paths: DagyPaths):
    environments.create(store, ORG, env_name="staging")
    environments.set_variables(
        store, ORG, "owner", "staging", {"API_URL": "http://s"}, replace=True
    )
    environ: dict[str, str] = {"KEEP": "1", "API_URL": "old"}
    applied = environments.apply_to_environ(paths, "staging", environ=environ)
    assert applied == {"API_URL": "http://s"}
    assert environ == {"KEEP": "1", "API_URL": "http://s", "DAGY_ENVIRONMENT": "staging"}
    with pytest.raises(NotFoundError, match="nowhere"):
        environments.apply_to_environ(paths, "nowhere", environ={})


def test_merge_keeps_others_and_replace_drops_them(store: DuckDBStore):
    environments.create(store, ORG, env_name="dev")
    environments.set_variables(store, ORG, "owner", "dev", {"A": "1", "B": "2"}, replace=True)
    _, before, after = environments.set_variables(
        store, ORG, "owner", "dev", {"B": "3", "C": "4"}, replace=False
    )
    assert after == {"A": "1", "B": "3", "C": "4"}
    assert environments.variable_changes(before, after) == {
        "added": ["C"],
        "changed": ["B"],
        "removed": [],
    }
    _, _, after = environments.set_variables(store, ORG, "owner", "dev", {"Z": "9"}, replace=True)
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
    environments.create(store, ORG, env_name="dev")
    with pytest.raises(InvalidInputError) as caught:
        environments.set_variables(store, ORG, "owner", "dev", variables, replace=False)
    assert field in caught.value.details


@pytest.mark.parametrize("role", ["developer", "viewer", None, "", "superuser"])
def test_a_protected_environment_changes_only_for_owner_or_admin(store: DuckDBStore, role):
    environments.create(store, ORG, env_name="production", is_protected=True)
    with pytest.raises(PermissionDeniedError):
        environments.set_variables(store, ORG, role, "production", {"A": "1"}, replace=False)
    with pytest.raises(PermissionDeniedError):
        environments.update(store, ORG, role, "production", {"is_protected": False})
    for allowed in ("owner", "admin"):
        environments.set_variables(store, ORG, allowed, "production", {"A": "1"}, replace=False)


@pytest.mark.parametrize("name", ["reorder", "promote", "", "-x", "a/b", "x" * 65, 7])
def test_invalid_environment_names(store: DuckDBStore, name):
    with pytest.raises(InvalidInputError) as caught:
        environments.create(store, ORG, env_name=name)
    assert "env_name" in caught.value.details


def test_reorder_puts_the_named_first_and_keeps_the_rest_after(store: DuckDBStore):
    for name in ("a", "b", "c", "d"):
        environments.create(store, ORG, env_name=name)
    ordered, before = environments.reorder(store, ORG, ["c", "a"])
    assert before == ["a", "b", "c", "d"]
    assert [(e.env_name, e.promotion_order) for e in ordered] == [
        ("c", 0),
        ("a", 1),
        ("b", 2),
        ("d", 3),
    ]
    for bad in (["c", "c"], ["zz"], "c", [1]):
        with pytest.raises(InvalidInputError):
            environments.reorder(store, ORG, bad)
