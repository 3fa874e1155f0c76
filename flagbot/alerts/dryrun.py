"""Dry-run channel: writes each alert as an RFC 5322 .eml file, exactly what would be sent."""

from __future__ import annotations

import re
from pathlib import Path

from flagbot.alerts import Alert, email_message
from flagbot.config import Settings


def send(alert: Alert, subject: str, body: str, full: Settings, _wiki: object = None) -> None:
    settings = full.alerts
    directory = Path(settings.outbox)
    directory.mkdir(parents=True, exist_ok=True)
    first = alert.items[0].flag_id if alert.items else "notice"
    name = f"{alert.wiki}-{first}-{len(alert.items)}-{alert.route}-{alert.address}"
    name = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name)
    (directory / f"{name}.eml").write_bytes(bytes(email_message(alert, subject, body, settings)))
