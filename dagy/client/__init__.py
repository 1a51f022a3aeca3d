"""Remote access: the HTTP client the CLI and TUI use to talk to a Dagy API."""
