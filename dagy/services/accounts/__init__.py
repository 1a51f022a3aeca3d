"""Accounts: users, orgs, logins, tokens and API keys, and the audit trail."""
