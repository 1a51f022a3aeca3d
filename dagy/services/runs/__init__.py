"""Runs: starting, executing, queueing, controlling and reading runs and their logs."""
