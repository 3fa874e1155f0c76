"""Dry-run notifier: writes each alert as an RFC 5322 .eml file, exactly what would be sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from flagbot.alerts import Alert


def render(alert: Alert, sender: str = "flagbot@localhost") -> EmailMessage:
    """The message for an alert: links and metadata only, never the flagged text."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = alert.recipient
    message["Subject"] = f"[flagbot] {alert.wiki}: {', '.join(alert.categories)} on {alert.title}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="flagbot.invalid")
    when = datetime.fromtimestamp(alert.edit_time, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "flagbot flagged an edit for your review.",
        "",
        f"Wiki:       {alert.wiki}",
        f"Page:       {alert.title}",
        f"User:       {alert.user}",
        f"Time:       {when}",
        f"Categories: {', '.join(alert.categories)}",
        f"Score:      {alert.score:.2f}",
        f"Rules:      {', '.join(alert.rule_ids) or '-'}",
        f"Diff:       {alert.diff_url}",
    ]
    if alert.review_url:
        lines.append(f"Review:     {alert.review_url}")
    lines += ["", "The text of the edit is not included in this message on purpose."]
    message.set_content("\n".join(lines))
    return message


def send(alert: Alert, config: Mapping[str, Any]) -> None:
    directory = Path(config.get("outbox", "outbox"))
    directory.mkdir(parents=True, exist_ok=True)
    message = render(alert, config.get("sender", "flagbot@localhost"))
    rev = alert.diff_url.split("diff=")[-1].split("&")[0].split("oldid=")[-1]
    name = re.sub(r"[^A-Za-z0-9_.@-]+", "_", f"{alert.wiki}-{rev}-{alert.route}-{alert.recipient}")
    (directory / f"{name}.eml").write_bytes(bytes(message))
