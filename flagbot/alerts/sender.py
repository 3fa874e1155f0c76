"""Drain the outbox: kill switch, auto-throttle, stale check, per-recipient limits, bursts.

Order of a pass: (1) a hold by the auto-throttle or an "off" kill switch keeps everything queued;
(2) a surge far above the recent rate sets the hold and tells the operator once; (3) revisions
already hidden or reverted on the wiki are recorded as handled and not sent (routes in
`always_send` still go out); (4) per recipient, follow-ups on a user or page alerted within
`burst_seconds` wait and go out together, and when more messages are due than the daily limit
allows, everything due is folded into one digest. Rows are marked sent only after the channel
returns, so a crash in between repeats at most that one message; nothing is ever dropped.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import distinct, func, select, update

from flagbot.alerts import Alert, DeliveryError, FlagRef, notifiers, render
from flagbot.config import Settings
from flagbot.errors import FetchError
from flagbot.store import NAME_KIND, Store, flags, outbox
from flagbot.wiki import page_text, revision_states

log = logging.getLogger(__name__)
HOLD_KEY = "alerts_hold"
RELEASED_KEY = "alerts_released_at"
DAY = 86400.0
MAX_RETRY_DELAY = 3600.0
CLAIM_TIMEOUT = 300.0  # a row "sending" this long belonged to a sender that died: send again
_switch_cache: dict[tuple[str, str], tuple[float, bool]] = {}


@dataclass
class DeliveryReport:
    messages: int = 0  # messages handed to a channel
    delivered: int = 0  # outbox rows they carried
    retrying: int = 0
    failed: int = 0
    handled_before_alert: int = 0
    waiting: int = 0  # over a recipient's limit or inside a burst window
    held: str = ""  # why nothing went out at all
    errors: list[str] = field(default_factory=list)


def release(store: Store) -> bool:
    """`flagbot alerts release`: lift an auto-throttle hold; returns whether one was set."""
    held = store.get_control(HOLD_KEY) is not None
    store.set_control(HOLD_KEY, None)
    store.set_control(RELEASED_KEY, str(time.time()))
    return held


def run_sender(store: Store, settings: Settings, stop: threading.Event) -> None:
    """`flagbot run`'s sender thread: drain every `interval` seconds until stopped, and check
    for revisions the wiki has hidden every `purge_interval` seconds."""
    from flagbot.purge import purge_hidden

    next_purge = time.monotonic() + min(settings.purge_interval, 60.0)
    online = settings.source.type != "replay"  # a replayed file has no wiki to ask
    while not stop.wait(settings.alerts.interval):
        try:
            deliver(store, settings)
            if online and time.monotonic() >= next_purge:
                purge_hidden(store, settings)
                next_purge = time.monotonic() + settings.purge_interval
        except Exception:  # noqa: BLE001 - the pipeline must go on; the rows are kept
            log.exception(
                "alert delivery pass failed; retrying in %.0f s", settings.alerts.interval
            )


def deliver(store: Store, settings: Settings, now: float | None = None) -> DeliveryReport:
    """One pass over the due outbox rows."""
    now = time.time() if now is None else now
    report = DeliveryReport()
    hold = store.get_control(HOLD_KEY)
    if hold is not None:
        reason = json.loads(hold)["reason"]
        report.held = f"held by the auto-throttle ({reason}); run `flagbot alerts release`"
        return report
    if _surge(store, settings, now, report):
        return report
    _release_stale_claims(store, now)
    rows = _due_rows(store, now)
    if not rows:
        return report
    by_wiki: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_wiki[row.wiki].append(row)
    ready: list[Any] = []
    for wiki_id, wiki_rows in by_wiki.items():
        if not _switch_on(settings, wiki_id, now):
            report.held = (
                f"kill switch {settings.alerts.kill_switch_page} on {wiki_id} is not 'yes'"
            )
            report.waiting += len(wiki_rows)
            continue
        ready += _drop_stale(store, settings, wiki_id, wiki_rows, report)
    by_recipient: dict[str, list[Any]] = defaultdict(list)
    for row in ready:
        by_recipient[row.recipient].append(row)
    for recipient, recipient_rows in by_recipient.items():
        _send_to(store, settings, recipient, recipient_rows, now, report)
    return report


# --- the steps ----------------------------------------------------------------------------------
def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(owner: str | None) -> bool:
    """A claim by a process of this host that no longer runs (killed before it marked)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _release_stale_claims(store: Store, now: float) -> None:
    """Rows a dead sender had taken go back to pending: its message may or may not have gone
    out, and a repeat is better than a loss. Claims from other hosts expire after a while."""
    with store.engine.begin() as conn:
        claims = conn.execute(
            select(outbox.c.id, outbox.c.message, outbox.c.claimed_at).where(
                outbox.c.status == "sending"
            )
        ).all()
        stale = [
            row_id
            for row_id, owner, claimed_at in claims
            if _dead_here(owner) or (claimed_at or 0) < now - CLAIM_TIMEOUT
        ]
        if stale:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(stale), outbox.c.status == "sending")
                .values(status="pending", claimed_at=None, message=None)
            )


def _claim(store: Store, ids: list[int], now: float) -> set[int]:
    """Take rows for this sender; another process sharing the store gets none of them."""
    with store.engine.begin() as conn:
        taken = conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids), outbox.c.status == "pending")
            .values(status="sending", claimed_at=now, message=_owner())
            .returning(outbox.c.id)
        )
        return {row_id for (row_id,) in taken}


def _due_rows(store: Store, now: float) -> list[Any]:
    with store.engine.connect() as conn:
        return list(
            conn.execute(
                select(
                    outbox,
                    flags.c.wiki,
                    flags.c.rev_id,
                    flags.c.diff_url,
                    flags.c.title,
                    flags.c.user,
                    flags.c.edit_time,
                    flags.c.categories,
                    flags.c.score,
                    flags.c.rules,
                    flags.c.kind,
                )
                .join(flags, flags.c.id == outbox.c.flag_id)
                .where(outbox.c.status == "pending", outbox.c.next_attempt <= now)
                .order_by(outbox.c.id)
            )
        )


def _switch_on(settings: Settings, wiki_id: str, now: float) -> bool:
    """The on-wiki kill switch: the page must say "yes". Cached; unreadable counts as off."""
    page = settings.alerts.kill_switch_page
    wiki = settings.wiki(wiki_id)
    if not page or wiki is None:
        return True
    cached = _switch_cache.get((wiki_id, page))
    if cached is not None and now - cached[0] < settings.alerts.kill_switch_cache:
        return cached[1]
    try:
        text = page_text(wiki, settings, page)
        on = (text or "").strip().lower() == "yes"
    except FetchError as exc:
        log.warning("cannot read the kill switch %s: %s; alerts stay queued", page, exc)
        return cached[1] if cached else False
    if not on:
        log.warning("kill switch %s on %s is off: alerts stay queued", page, wiki_id)
    _switch_cache[(wiki_id, page)] = (now, on)
    return on


def _surge(store: Store, settings: Settings, now: float, report: DeliveryReport) -> bool:
    """Alerts per hour far above the recent rate (a bad rules.yaml?): hold and tell the operator."""
    cfg = settings.alerts
    released = float(store.get_control(RELEASED_KEY) or 0)
    with store.engine.connect() as conn:
        recent = conn.execute(
            select(func.count(distinct(outbox.c.flag_id))).where(
                outbox.c.created >= max(now - 3600, released)
            )
        ).scalar()
        history = conn.execute(
            select(func.count(distinct(outbox.c.flag_id)), func.min(outbox.c.created)).where(
                outbox.c.created >= now - 7 * DAY, outbox.c.created < now - 3600
            )
        ).one()
    hours = max(1.0, (now - 3600 - history[1]) / 3600) if history[1] else 1.0
    usual = history[0] / hours
    limit = cfg.throttle_factor * max(usual, cfg.throttle_min_per_hour)
    if not recent or recent <= limit:
        return False
    reason = f"{recent} flagged edits to alert in the last hour, usually {usual:.1f}/hour"
    store.set_control(HOLD_KEY, json.dumps({"reason": reason, "at": now}))
    log.error(
        "alerts held: %s; check rules.yaml and the model, then `flagbot alerts release`", reason
    )
    report.held = f"held by the auto-throttle ({reason}); run `flagbot alerts release`"
    if cfg.operator:
        channel, _, address = cfg.operator.partition(":")
        subject = "[flagbot] alerts held: unusual number of flags"
        body = (
            f"flagbot holds its alert queue: {reason}.\n\nNothing is lost: the alerts stay "
            "queued. Check recent changes to rules.yaml or the model, then run "
            "`flagbot alerts release` to send them, or fix the cause first.\n"
        )
        notice = Alert(channel, address, "operator", (), False)
        try:
            notifiers()[channel](notice, subject, body, settings)
        except Exception as exc:  # noqa: BLE001 - the hold stands; the log says why
            log.error("could not tell the operator %s: %s", cfg.operator, exc)
    return True


def _drop_stale(
    store: Store, settings: Settings, wiki_id: str, rows: list[Any], report: DeliveryReport
) -> list[Any]:
    """Rows still worth sending; the rest are marked handled_before_alert (text purged)."""
    wiki = settings.wiki(wiki_id)
    if not settings.alerts.stale_check or wiki is None:
        return rows
    try:
        states = revision_states(wiki, settings, sorted({r.rev_id for r in rows}))
    except FetchError as exc:  # better an alert about a gone edit than no alert
        log.warning("stale check failed (%s); sending without it", exc)
        return rows
    keep = []
    for row in rows:
        state = states.get(row.rev_id, "visible")
        if state in ("hidden", "missing"):
            store.purge_text(wiki_id, row.rev_id, "flagbot", f"revision {state} on the wiki")
        if state == "visible" or row.route in settings.alerts.always_send:
            keep.append(row)
            continue
        _mark(store, [row.id], status="handled_before_alert", error=f"revision {state}")
        report.handled_before_alert += 1
    return keep


def _burst_key_times(store: Store, recipient: str, since: float) -> dict[tuple[str, str], float]:
    """When this recipient last got a message about each (wiki, user) and (wiki, page)."""
    last: dict[tuple[str, str], float] = {}
    with store.engine.connect() as conn:
        for wiki, user, title, sent_at in conn.execute(
            select(flags.c.wiki, flags.c.user, flags.c.title, outbox.c.sent_at)
            .join(flags, flags.c.id == outbox.c.flag_id)
            .where(outbox.c.recipient == recipient, outbox.c.sent_at >= since)
        ):
            for key in ((wiki, f"user:{user}"), (wiki, f"page:{title}")):
                last[key] = max(last.get(key, 0.0), sent_at)
    return last


def _groups(rows: list[Any]) -> list[list[Any]]:
    """Rows about the same user or the same page, joined (union-find over both keys)."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        for key in ((row.wiki, f"user:{row.user}"), (row.wiki, f"page:{row.title}")):
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    grouped: dict[int, list[Any]] = defaultdict(list)
    for i, row in enumerate(rows):
        grouped[find(i)].append(row)
    return list(grouped.values())


def _send_to(
    store: Store,
    settings: Settings,
    recipient: str,
    rows: list[Any],
    now: float,
    report: DeliveryReport,
) -> None:
    cfg = settings.alerts
    channel = rows[0].channel
    urgent = [r for r in rows if r.route in cfg.always_send]
    # follow-ups inside a burst window wait for the window to close, then go out together
    last = _burst_key_times(store, recipient, now - cfg.burst_seconds)
    waiting: dict[int, float] = {}
    for row in rows:
        if row in urgent:
            continue
        sent = max(
            last.get((row.wiki, f"user:{row.user}"), 0.0),
            last.get((row.wiki, f"page:{row.title}"), 0.0),
        )
        if sent:
            waiting[row.id] = sent + cfg.burst_seconds
    if waiting:
        with store.engine.begin() as conn:
            for row_id, until in waiting.items():
                conn.execute(update(outbox).where(outbox.c.id == row_id).values(next_attempt=until))
        report.waiting += len(waiting)
    rows = [r for r in rows if r.id not in waiting]
    if not rows:
        return
    groups = _groups(rows)
    digest = False
    limit = cfg.limits.get(channel, 0)
    if limit:
        with store.engine.connect() as conn:
            used = (
                conn.execute(
                    select(func.count(distinct(outbox.c.message))).where(
                        outbox.c.recipient == recipient, outbox.c.sent_at >= now - DAY
                    )
                ).scalar()
                or 0
            )
        if used >= limit:
            report.waiting += len(rows) - len(urgent)  # pending: a digest once a slot frees
            if not urgent:
                return
            rows, groups = urgent, [urgent]  # the emergency route is never held back
        elif len(groups) > limit - used:
            groups, digest = [rows], True  # more due than the limit allows: one digest
    for group in groups:
        _send_group(store, settings, channel, recipient, group, digest, now, report)


def _send_group(
    store: Store,
    settings: Settings,
    channel: str,
    recipient: str,
    rows: list[Any],
    digest: bool,
    now: float,
    report: DeliveryReport,
) -> None:
    claimed = _claim(store, [r.id for r in rows], now)
    rows = [r for r in rows if r.id in claimed]
    if not rows:
        return  # another sender sharing the store has them
    review = settings.alerts.review_url.rstrip("/")
    seen: dict[int, FlagRef] = {}
    for row in rows:  # one flag may reach one recipient on several routes: list it once
        seen.setdefault(
            row.flag_id,
            FlagRef(
                flag_id=row.flag_id,
                wiki=row.wiki,
                diff_url=row.diff_url,
                title=row.title,
                user=row.user,
                edit_time=row.edit_time,
                categories=tuple(filter(None, row.categories.split(";"))),
                score=row.score,
                rule_ids=tuple(filter(None, row.rules.split(";"))),
                review_url=f"{review}/flag/{row.flag_id}" if review else "",
                names_flagged=row.kind == NAME_KIND,
            ),
        )
    routes = ",".join(sorted({r.route for r in rows}))
    alert = Alert(channel, recipient.partition(":")[2], routes, tuple(seen.values()), digest)
    subject, body = render(alert)
    try:
        notifier = notifiers()[channel]
        notifier(alert, subject, body, settings)
    except Exception as exc:  # noqa: BLE001 - any channel failure keeps the rows
        error = exc if isinstance(exc, DeliveryError) else DeliveryError(repr(exc))
        attempts = max(r.attempts for r in rows) + 1
        log.warning("alert to %s failed (attempt %d): %s", recipient, attempts, error)
        report.errors.append(f"{recipient}: {error}")
        if error.permanent:
            _mark(store, [r.id for r in rows], status="failed", error=str(error), attempts=attempts)
            report.failed += len(rows)
        else:
            delay = max(error.retry_after, min(60.0 * 2 ** (attempts - 1), MAX_RETRY_DELAY))
            _mark(
                store,
                [r.id for r in rows],
                status="pending",
                error=str(error),
                attempts=attempts,
                next_attempt=now + delay,
            )
            report.retrying += len(rows)
        return
    _mark(store, [r.id for r in rows], status="sent", message=uuid.uuid4().hex, sent_at=now)
    report.messages += 1
    report.delivered += len(rows)
    log.info("alert sent to %s: %d flagged edit(s), route %s", recipient, len(seen), routes)


def _mark(store: Store, ids: list[int], **values: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(**values))
