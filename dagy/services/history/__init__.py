"""Run history as data: read-only SQL over documented views (docs/sql.md), and saved queries."""
