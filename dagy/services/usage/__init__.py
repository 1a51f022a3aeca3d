"""Usage, quotas, billing and metrics of an org."""
