"""Email over SMTP: optional STARTTLS, and a login whose password is a Dagy secret named by
``password_secret`` (read when sending, never stored in the channel)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from dagy.notify.base import Context, Field, Outcome, summary

FIELDS = (
    Field("smtp_host", "text", required=True),
    Field("smtp_port", "port", default=25),
    Field("from_address", "email", required=True),
    Field("to_addresses", "emails", required=True),
    Field("starttls", "bool", default=False),
    Field("username", "text"),
    Field("password_secret", "secret_name"),
)


def message(config: dict[str, Any], notification: dict[str, Any]) -> EmailMessage:
    run = notification.get("run") or {}
    msg = EmailMessage()
    msg["Subject"] = f"[Dagy] {summary(notification)}"
    msg["From"] = config["from_address"]
    msg["To"] = ", ".join(config["to_addresses"])
    lines = [summary(notification), ""]
    if notification.get("body"):  # a message of its own (the email_send node's)
        lines = [str(notification["body"]).rstrip("\n"), ""]
    for key in ("flow_name", "run_id", "status", "started_at", "ended_at", "error", "retry_of"):
        if run.get(key) is not None:
            lines.append(f"{key}: {run[key]}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send(config: dict[str, Any], notification: dict[str, Any], context: Context) -> Outcome:
    try:
        with smtplib.SMTP(config["smtp_host"], config["smtp_port"], timeout=context.timeout) as s:
            if config.get("starttls"):
                s.starttls(context=ssl.create_default_context())
            if config.get("username"):
                s.login(config["username"], context.secret(config["password_secret"]))
            s.send_message(message(config, notification))
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return Outcome(False, exc.smtp_code, f"SMTP {exc.smtp_code}: {text}")
    except smtplib.SMTPRecipientsRefused as exc:
        return Outcome(False, None, f"SMTP refused recipients: {', '.join(exc.recipients)}")
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}")
    return Outcome(True, 250)


def check(public: dict[str, Any]) -> None:
    """A login needs both its user name and the secret holding its password."""
    from dagy.errors import InvalidInputError

    if bool(public.get("username")) != bool(public.get("password_secret")):
        field = "password_secret" if public.get("username") else "username"
        raise InvalidInputError(
            f"Invalid channel configuration: {field} is required with "
            f"{'username' if field == 'password_secret' else 'password_secret'}",
            {f"config_json.{field}": "username and password_secret go together"},
        )
