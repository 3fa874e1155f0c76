"""Dry-run channel: writes each alert as an RFC 5322 .eml file, exactly what would be sent.

The files are the owner's only (0600, in a 0700 folder flagbot makes) and never overwritten: a
later run's message about the same flag gets its own file.
"""

from __future__ import annotations

import os
import re

from flagbot.alerts import Alert, email_message
from flagbot.config import Settings
from flagbot.files import new_private_file, private_dir


def send(alert: Alert, subject: str, body: str, full: Settings, _wiki: object = None) -> None:
    settings = full.alerts
    directory = private_dir(settings.outbox)
    first = alert.items[0].flag_id if alert.items else "notice"
    name = f"{alert.wiki}-{first}-{len(alert.items)}-{alert.route}-{alert.address}"
    _, fd = new_private_file(directory, re.sub(r"[^A-Za-z0-9_.@-]+", "_", name), ".eml")
    with os.fdopen(fd, "wb") as f:
        f.write(bytes(email_message(alert, subject, body, settings)))
