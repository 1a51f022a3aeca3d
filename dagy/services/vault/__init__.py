"""Secrets and environments: sealed values and where deployments run."""
