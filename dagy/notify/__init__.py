"""Notification channels: one sender per channel type, the checks of their config, and the loop
the server delivers with. Nothing here touches the store: dagy/services/notifications/alerts.py does.

``TYPES`` maps each ``channel_type`` of the API to its sender module (``FIELDS`` and ``send``).
"""

from __future__ import annotations

from types import ModuleType

from dagy.notify import email, pagerduty, slack, webhook

TYPES: dict[str, ModuleType] = {
    "slack": slack,
    "email": email,
    "webhook": webhook,
    "pagerduty": pagerduty,
}
