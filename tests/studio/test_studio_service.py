"""The AI studio's services on a store file: the org's feature flag, a turn stopped by its
client going away (SSE disconnect), and tier configuration from DAGY_STUDIO_TIERS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths
from dagy.errors import ConfigError, InvalidInputError
from dagy.services.accounts import credits
from dagy.services.accounts.audit import local_actor
from dagy.services.studio import sessions, tiers, turns
from dagy.services.studio.errors import FeatureDisabledError
from dagy.store import studio as sql
from dagy.store.duckdb_store import DuckDBStore
from tests.studio.studio_support import SPEC_MESSAGE, SPEC_TYPES, chain


@pytest.fixture
def store(paths: DagyPaths) -> DuckDBStore:
    return DuckDBStore(paths)


def test_a_turn_is_refused_403_when_the_orgs_ai_studio_flag_is_off(store: DuckDBStore):
    actor = local_actor()
    sid = sessions.create(store, actor, {"title": "x"}).session_id
    with store.transaction() as con:
        # what a super admin's PATCH /admin/customers/{org_id} sets (features.py reads it)
        con.execute(
            "UPDATE orgs SET feature_flags = ? WHERE org_id = 'personal'",
            [json.dumps({"ai_studio": False})],
        )
    with pytest.raises(FeatureDisabledError) as caught:
        turns.run_turn(store, actor, sid, {"message": SPEC_MESSAGE})
    assert (caught.value.status, caught.value.error) == (403, "feature_disabled")
    assert sql.turn_count(store, sid) == (0, 0)


class Gone(Exception):
    pass


@pytest.mark.parametrize("stop_at", [1, 2])
def test_a_turn_whose_client_left_stops_and_leaves_nothing(store: DuckDBStore, stop_at: int):
    """emit raises once the SSE client is gone: the turn stops, no credits are spent, the canvas
    and history stay, and the same turn_id may be sent again."""
    actor = local_actor()
    sid = sessions.create(store, actor, {}).session_id
    before = credits.balance(store, actor.org_id)
    calls: list[str] = []

    def emit(event: str, data: dict) -> None:
        calls.append(event)
        if len(calls) >= stop_at:
            raise Gone

    with pytest.raises(Gone):
        turns.run_turn(store, actor, sid, {"message": SPEC_MESSAGE, "turn_id": "t"}, emit=emit)
    assert len(calls) == stop_at  # nothing emitted after the failing call
    assert credits.balance(store, actor.org_id) == before
    assert sql.turn_count(store, sid) == (0, 0)
    assert sessions.get(store, actor, sid).canvas == {"nodes": [], "edges": []}
    done = turns.run_turn(store, actor, sid, {"message": SPEC_MESSAGE, "turn_id": "t"})
    assert chain(done["canvas_state"]) == SPEC_TYPES


def test_tiers_come_from_the_defaults_and_dagy_studio_tiers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    assert tiers.tier("standard").provider == "offline"
    monkeypatch.setenv(
        "DAGY_STUDIO_TIERS",
        json.dumps({"advanced": {"provider": "openai", "settings": {"model": "m"}}}),
    )
    changed = tiers.tier("advanced")
    assert (changed.provider, changed.settings, changed.credits_per_turn) == (
        "openai", {"model": "m"}, 4.0,
    )  # fmt: skip
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps({"team": {"credits_per_turn": 2}}))
    monkeypatch.setenv("DAGY_STUDIO_TIERS", f"@{path}")
    assert tiers.tier("team").credits_per_turn == 2.0 and tiers.tier("team").provider == "offline"
    with pytest.raises(InvalidInputError):
        tiers.tier("nope")
    monkeypatch.setenv("DAGY_STUDIO_TIERS", json.dumps({"team": {"credits_per_turn": -1}}))
    with pytest.raises(ConfigError, match=">= 0"):
        tiers.tiers()
    monkeypatch.setenv("DAGY_STUDIO_TIERS", "{not json")
    with pytest.raises(ConfigError, match="DAGY_STUDIO_TIERS"):
        tiers.tiers()


def test_a_free_tier_spends_no_credits(store: DuckDBStore, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGY_STUDIO_TIERS", json.dumps({"free": {"credits_per_turn": 0}}))
    actor = local_actor()
    sid = sessions.create(store, actor, {"tier": "free"}).session_id
    before = credits.balance(store, actor.org_id)
    done = turns.run_turn(store, actor, sid, {"message": SPEC_MESSAGE})
    assert done["credits_used"] == 0.0 and done["credits_balance"] == before
    assert credits.balance(store, actor.org_id) == before
