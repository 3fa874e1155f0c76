"""Private alerts: routing of flags to recipients and the message (the
channels are dryrun, smtp and wikimail; `sender.notifiers` picks one).

The pipeline's seam is `make_enqueue`: outbox rows are written in the same transaction as the
flag, one per (route, recipient). `flagbot.alerts.sender.deliver` drains them later. An Alert
carries diff links and metadata, never the flagged text: `render` has no way to reach it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import Connection

from flagbot.config import AlertSettings, Settings
from flagbot.messages import message
from flagbot.store import REPORT_KEY_BASE, REPORT_KIND, STATUS_ROUTE, Flag, Outcome, Store


@dataclass(frozen=True)
class FlagRef:
    """One flagged edit as an alert shows it: where to look, not what was written."""

    flag_id: int
    wiki: str
    diff_url: str
    title: str
    user: str
    edit_time: int
    categories: tuple[str, ...]
    score: float
    rule_ids: tuple[str, ...]
    review_url: str
    names_flagged: bool = False  # the title or user name is the flagged text: never shown
    report: bool = False  # a confidential report: what the reporter named is not shown either
    report_id: int = 0  # its reference number, R-<id>

    @classmethod
    def of(cls, flag: Flag, review_url: str) -> FlagRef:
        review = review_url.rstrip("/")
        return cls(
            flag_id=flag.id,
            wiki=flag.wiki,
            diff_url=flag.diff_url,
            title=flag.title,
            user=flag.user,
            edit_time=flag.edit_time,
            categories=flag.categories,
            score=flag.score,
            rule_ids=flag.rule_ids,
            review_url=f"{review}/flag/{flag.id}" if review else "",
            names_flagged=flag.names_flagged or flag.kind == REPORT_KIND,
            report=flag.kind == REPORT_KIND,
            report_id=-flag.rev_id - REPORT_KEY_BASE if flag.kind == REPORT_KIND else 0,
        )


@dataclass(frozen=True)
class Alert:
    channel: str
    address: str
    route: str
    items: tuple[FlagRef, ...]  # none in an operator notice
    digest: bool = False  # folded because the recipient reached its daily limit
    wiki: str = ""  # the wiki a wikimail goes through: the first item's, or the first configured

    @property
    def recipient(self) -> str:
        return f"{self.channel}:{self.address}"


# alert, subject, body, settings, the wiki client (wikimail sends through it)
Notifier = Callable[[Alert, str, str, Settings, Any], None]


def one_line(value: str) -> str:
    """Whitespace and control characters folded to single spaces: a title or user name from a
    bad event must not add mail headers or fake lines (a second "Diff:") to an alert."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def render(alert: Alert, language: str = "en") -> tuple[str, str]:
    """Subject and plain-text body: links and metadata only, neutral wording, in `language`
    (the wiki's: flagbot.messages)."""
    if alert.route.startswith(STATUS_ROUTE):
        return _status_notice(alert, language)

    def say(key: str, *params: object) -> str:
        return message(language, f"flagbot-alert-{key}", *params)

    first = alert.items[0]
    if len(alert.items) == 1:
        where = (
            say("a-report")
            if first.report
            else say("a-name")
            if first.names_flagged
            else one_line(first.title)
        )
        subject = say("subject", first.wiki, ", ".join(first.categories), where)
        intro = say("intro")
    else:
        kind = say("digest") if alert.digest else say("one-user-or-page")
        subject = say("subject-many", first.wiki, len(alert.items), kind)
        intro = say("intro-many", len(alert.items))
    fields = ("wiki", "page", "user", "time", "categories", "score", "rules", "diff", "review")
    labels = {field: say(field) for field in fields}
    width = max(len(label) for label in labels.values()) + 2

    def line(key: str, value: str) -> str:
        return f"{labels[key] + ':':<{width}}{value}"

    withheld = say("withheld")
    blocks = [intro]
    for item in alert.items:
        when = datetime.fromtimestamp(item.edit_time, UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            line("wiki", item.wiki),
            line("page", withheld if item.names_flagged else one_line(item.title)),
            line("user", withheld if item.names_flagged else one_line(item.user)),
            line("time", when),
            line("categories", ", ".join(item.categories)),
            line("score", f"{item.score:.2f}"),
            line("rules", ", ".join(item.rule_ids) or "-"),
            # a report's links are the reporter's own text (anything can follow the base URL)
            line("diff", say("report-links") if item.report else item.diff_url),
        ]
        if item.review_url:
            lines.append(line("review", item.review_url))
        blocks.append("\n".join(lines))
    blocks.append(say("footer", alert.route))
    return subject, "\n\n".join(blocks) + "\n"


def _status_notice(alert: Alert, language: str) -> tuple[str, str]:
    """To a reporter who asked: their report's new status, and nothing else — not what was
    reported, not who reviewed it."""
    key = "flagbot-status-" + alert.route.removeprefix(STATUS_ROUTE).replace(" ", "-")
    status = message(language, key)
    references = ", ".join(f"R-{item.report_id}" for item in alert.items)
    first = alert.items[0]
    subject = message(language, "flagbot-notice-subject", references, status)
    lines = [message(language, "flagbot-notice-body", references, first.wiki, status)]
    if first.review_url:
        mine = f"{first.review_url.rsplit('/flag/', 1)[0]}/my-reports?uselang={language}"
        lines.append(message(language, "flagbot-notice-myreports", mine))
    lines.append(message(language, "flagbot-notice-privacy"))
    return subject, "\n\n".join(lines) + "\n"


def dry_run(settings: Settings) -> Settings:
    """The same routing with every recipient on the dryrun channel (`flagbot replay`)."""
    alerts = settings.alerts

    def dry(routes: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
        return {r: tuple(f"dryrun:{x.partition(':')[2]}" for x in xs) for r, xs in routes.items()}

    return dataclasses.replace(
        settings,
        alerts=dataclasses.replace(
            alerts,
            recipients=dry(alerts.recipients),
            wiki_recipients={w: dry(r) for w, r in alerts.wiki_recipients.items()},
            stale_check=False,
            kill_switch_page="",
            operator="",
        ),
    )


def email_message(alert: Alert, subject: str, body: str, settings: AlertSettings) -> EmailMessage:
    """The alert as an email message (the dryrun file and the smtp channel)."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = alert.address
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="flagbot.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


def deliveries(settings: Settings, wiki: str, routes: Iterable[str]) -> list[tuple[str, str]]:
    """(route, recipient) for every recipient of each route on a wiki."""
    return [(r, x) for r in routes for x in settings.alerts.recipients_for(wiki, r)]


def make_enqueue(settings: Settings) -> Callable[[Connection, int, Outcome], None]:
    """The pipeline's on_flag hook: one outbox row per route and recipient of a new flag."""

    def enqueue(conn: Connection, flag_id: int, item: Outcome) -> None:
        wiki = settings.wiki(item.change.wiki)
        if ((wiki.alerts_mode if wiki else "") or settings.alerts.mode) == "log-only":
            return  # stored and reviewable; nobody is mailed (a community trying flagbot out)
        routes = item.verdict.routes if item.verdict else ()
        Store.queue_alerts(conn, flag_id, deliveries(settings, item.change.wiki, routes))

    return enqueue
