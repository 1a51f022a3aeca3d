"""The store: run history and (later) every API resource, in one DuckDB file."""
