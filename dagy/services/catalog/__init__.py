"""Flows and deployments: registered flow versions, artifacts, builds and deploys."""
