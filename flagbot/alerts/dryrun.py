"""Dry-run channel: writes each alert as an RFC 5322 .eml file, exactly what would be sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flagbot.alerts import Alert
from flagbot.config import AlertSettings, Settings


def email(alert: Alert, subject: str, body: str, settings: AlertSettings) -> EmailMessage:
    """The alert as an email message (shared with the smtp channel)."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = alert.address
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="flagbot.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def send(alert: Alert, subject: str, body: str, full: Settings) -> None:
    settings = full.alerts
    directory = Path(settings.outbox)
    directory.mkdir(parents=True, exist_ok=True)
    first = alert.items[0]
    name = f"{first.wiki}-{first.flag_id}-{len(alert.items)}-{alert.route}-{alert.address}"
    name = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name)
    (directory / f"{name}.eml").write_bytes(bytes(email(alert, subject, body, settings)))
