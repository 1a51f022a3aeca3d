"""A super admin's feature flags are what features read (dagy.services.accounts.features), and
quota overrides are what the quota check uses: the seams a PATCH must reach, on a store file."""

from __future__ import annotations

from dagy.services.accounts import features
from dagy.services.accounts.audit import local_actor
from dagy.services.admin import customers
from dagy.services.usage import quotas
from dagy.store.duckdb_store import DuckDBStore


def test_patched_flags_and_overrides_are_what_the_features_and_quotas_read(paths):
    store = DuckDBStore(paths)
    assert features.enabled(store, "personal", "ai_studio") is True  # the default
    customers.update(
        store,
        local_actor(),
        "personal",
        {
            "feature_flags": {"ai_studio": False, "beta_x": True},
            "quota_overrides": {"concurrent_runs": 7},
        },
    )
    assert features.enabled(store, "personal", "ai_studio") is False
    assert features.flags(store, "personal") == {"ai_studio": False, "beta_x": True}
    assert quotas.limits_of(store, "personal")[1].concurrent_runs == 7
    customers.update(store, local_actor(), "personal", {"feature_flags": {"ai_studio": None}})
    assert features.enabled(store, "personal", "ai_studio") is True  # unset: the default again
