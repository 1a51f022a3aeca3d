"""``dagy serve``: the Dagy REST API on Litestar, over the same store the CLI uses."""
