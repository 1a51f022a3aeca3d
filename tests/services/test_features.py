"""dagy.services.accounts.features: an org's flags, defaults filled in, what features read."""

from __future__ import annotations

from dagy.config.paths import DagyPaths
from dagy.services.accounts import features
from dagy.store.duckdb_store import DuckDBStore


def test_flags_default_until_the_org_sets_them(paths: DagyPaths):
    store = DuckDBStore(paths)
    assert features.enabled(store, "personal", "ai_studio") is True
    assert features.enabled(store, "personal", "beta_thing") is False
    assert features.enabled(store, "personal", "beta_thing", default=True) is True
    with store.transaction() as con:
        con.execute(
            "UPDATE orgs SET feature_flags = ? WHERE org_id = 'personal'",
            ['{"ai_studio": false, "beta_thing": true}'],
        )
    assert features.enabled(store, "personal", "ai_studio") is False
    assert features.flags(store, "personal") == {"ai_studio": False, "beta_thing": True}
