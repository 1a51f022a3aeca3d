"""Notification channels, alert rules and their delivery."""
