"""``python -m dagy.config --markdown``: print docs/cli.md's environment table (``--update FILE``
rewrites the generated block of FILE)."""

from __future__ import annotations

from dagy.config.settings import main

raise SystemExit(main())
