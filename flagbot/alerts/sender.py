"""Drain the outbox: kill switch, auto-throttle, stale check, per-recipient limits, bursts.

Order of a pass: (1) a hold by the auto-throttle keeps everything queued but the emergency route,
an "off" kill switch (a human decision) keeps everything; (2) a surge far above the recent rate
sets the hold and tells the operator once; (3) revisions already hidden on the wiki, or reverted
(not for the oversight route: a revert leaves personal information in the history), are recorded
as handled and not sent (the emergency route and `always_send` still go out); (4) per
recipient, follow-ups on a user or page alerted within `burst_seconds` wait and go out together,
and when more messages are due than the daily limit allows, everything due is folded into one
digest. Rows are marked sent only after the channel
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

from flagbot.alerts import Alert, FlagRef, Notifier, dryrun, render, smtp, wikimail
from flagbot.config import EMERGENCY_ROUTE, OVERSIGHT_ROUTE, Settings
from flagbot.errors import DeliveryError, FetchError, StoreUnavailable
from flagbot.language import wiki_language
from flagbot.messages import best_language
from flagbot.metrics import Metrics
from flagbot.store import STATUS_ROUTE, Due, Store
from flagbot.wiki import WikiClient

log = logging.getLogger(__name__)


def notifiers() -> dict[str, Notifier]:
    """Channels by their config name."""
    return {"dryrun": dryrun.send, "smtp": smtp.send, "wikimail": wikimail.send}


HOLD_KEY = "alerts_hold"
RELEASED_KEY = "alerts_released_at"
DAY = 86400.0
MAX_RETRY_DELAY = 3600.0
# the emergency route (and `always_send`) retries on this fixed interval, never the growing
# backoff: after a 20-minute SMTP outage a self-harm alert waited 11 more minutes for its turn
URGENT_RETRY_DELAY = 15.0
CLAIM_TIMEOUT = 300.0  # a row "sending" this long belonged to a sender that died: send again


@dataclass
class DeliveryReport:
    messages: int = 0  # messages handed to a channel
    delivered: int = 0  # outbox rows they carried
    retrying: int = 0
    failed: int = 0
    handled_before_alert: int = 0
    waiting: int = 0  # over a recipient's limit or inside a burst window
    held: str = ""  # why alerts are held (the emergency route still goes out, bar a kill switch)
    emergency_held: int = 0  # always_send rows the kill switch holds
    errors: list[str] = field(default_factory=list)


def urgent_routes(settings: Settings) -> tuple[str, ...]:
    """Routes no automation holds or delays: the emergency route and `always_send`."""
    return (EMERGENCY_ROUTE, *settings.alerts.always_send)


def hold(store: Store) -> str | None:
    """The auto-throttle's hold (JSON: reason and time), or None when alerts flow."""
    return store.get_control(HOLD_KEY)


def release(store: Store) -> bool:
    """`flagbot alerts release`: lift an auto-throttle hold; returns whether one was set."""
    held = store.get_control(HOLD_KEY) is not None
    store.set_control(HOLD_KEY, None)
    store.set_control(RELEASED_KEY, str(time.time()))
    return held


def run_sender(
    store: Store,
    settings: Settings,
    stop: threading.Event,
    client: WikiClient,
    metrics: Metrics | None = None,
    wake: threading.Event | None = None,
) -> None:
    """`flagbot run`'s sender thread: drain when `wake` is set (a batch that queued alerts has
    committed) and at the latest every `interval` seconds (retries, bursts, digests) until
    stopped. Whoever sets `stop` sets `wake` too, so the thread ends at once. (Retention is
    `flagbot.purge.run_retention`'s thread, not this one's.)"""
    while True:
        if wake is None:
            stop.wait(settings.alerts.interval)
        else:
            wake.wait(settings.alerts.interval)
            wake.clear()
        if stop.is_set():
            return
        try:
            report = deliver(store, settings, client=client)
            if metrics is not None:
                metrics.delivery_pass(report.failed + report.retrying, store.outbox_counts())
        except StoreUnavailable as exc:  # the outbox is in the database: wait for it
            log.warning(
                "no alert delivery pass (%s); retrying in %.0f s", exc, settings.alerts.interval
            )
        except Exception:  # noqa: BLE001 - the pipeline must go on; the rows are kept
            log.exception(
                "alert delivery pass failed; retrying in %.0f s", settings.alerts.interval
            )


def deliver(
    store: Store, settings: Settings, client: WikiClient, now: float | None = None
) -> DeliveryReport:
    """One pass over the due outbox rows; first, reports nobody looked at by their answer date
    become "delayed", and their reporters' notices join this pass."""
    now = time.time() if now is None else now
    store.delay_overdue(now)
    report = DeliveryReport()
    urgent = urgent_routes(settings)
    held = hold(store) or _surge(store, settings, client, now)
    _release_stale_claims(store, now)
    rows = store.due_alerts(now)
    if held is not None:
        # automation never holds the emergency contact back: a brigading spike is exactly when
        # the auto-throttle trips (the kill switch, a human decision, still holds everything)
        reason = json.loads(held)["reason"]
        report.held = f"held by the auto-throttle ({reason}); run `flagbot alerts release`"
        report.waiting += sum(1 for r in rows if r.route not in urgent)
        rows = [r for r in rows if r.route in urgent]
    if not rows:
        return report
    by_wiki: dict[str, list[Due]] = defaultdict(list)
    for row in rows:
        by_wiki[row.flag.wiki].append(row)
    ready: list[Due] = []
    for wiki_id, wiki_rows in by_wiki.items():
        if not _switch_on(settings, client, wiki_id, now):
            report.held = (
                f"kill switch {settings.alerts.kill_switch_page} on {wiki_id} is not 'yes'"
            )
            report.waiting += len(wiki_rows)
            held_urgent = sum(1 for r in wiki_rows if r.route in urgent)
            report.emergency_held += held_urgent
            if held_urgent:
                log.warning(
                    "the kill switch on %s holds %d emergency alert(s)", wiki_id, held_urgent
                )
            continue
        ready += _drop_stale(store, settings, client, wiki_id, wiki_rows, report)
    by_recipient: dict[str, list[Due]] = defaultdict(list)
    for row in ready:
        if row.route.startswith(STATUS_ROUTE):
            # a reply to one reporter about one report, not an alert: no bursts, no digests
            _send_group(store, settings, client, row.recipient, [row], False, now, report)
            continue
        by_recipient[row.recipient].append(row)
    for recipient, recipient_rows in by_recipient.items():
        _send_to(store, settings, client, recipient, recipient_rows, now, report)
    return report


# --- policy: pure, over typed rows --------------------------------------------------------------
def surge(
    recent: int, earlier: int, first: float | None, now: float, factor: float, floor: float
) -> str | None:
    """Why alerts should be held, if the last hour's flags are far above the usual rate:
    `recent` flags in the last hour, `earlier` in the week before it (the first at `first`)."""
    hours = max(1.0, (now - 3600 - first) / 3600) if first else 1.0
    usual = earlier / hours
    if not recent or recent <= factor * max(usual, floor):
        return None
    return f"{recent} flagged edits to alert in the last hour, usually {usual:.1f}/hour"


def _about(row: Due) -> tuple[tuple[str, str], tuple[str, str]]:
    """The two things a follow-up can be about: the same user, the same page."""
    return (row.flag.wiki, f"user:{row.flag.user}"), (row.flag.wiki, f"page:{row.flag.title}")


def groups(rows: list[Due]) -> list[list[Due]]:
    """Rows about the same user or the same page, joined (union-find over both keys)."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        for key in _about(row):
            if key in first:
                parent[find(i)] = find(first[key])
            else:
                first[key] = i
    grouped: dict[int, list[Due]] = defaultdict(list)
    for i, row in enumerate(rows):
        grouped[find(i)].append(row)
    return list(grouped.values())


@dataclass(frozen=True)
class Plan:
    """What to do with one recipient's due rows."""

    wait: dict[int, float]  # row id → until when (a burst window on its user or page)
    messages: list[list[Due]]  # one message each
    digest: bool = False  # the messages are one digest
    over_limit: int = 0  # rows kept pending for the daily limit (a digest once a slot frees)


def plan(
    rows: list[Due],
    last_sent: dict[tuple[str, str], float],
    used: int,
    limit: int,
    burst_seconds: float,
    always_send: tuple[str, ...],
) -> Plan:
    """Bursts wait for their window, a full daily limit holds all but `always_send` routes,
    and more groups than the limit allows fold into one digest.

    `last_sent`: when the recipient last got a message about each (wiki, user/page) key;
    `used`: messages it got in the last day; `limit`: its channel's daily limit (0: none).
    """
    urgent = [r for r in rows if r.route in always_send]
    wait = {}
    for row in rows:
        if row.route in always_send:
            continue
        sent = max(last_sent.get(key, 0.0) for key in _about(row))
        if sent:
            wait[row.id] = sent + burst_seconds
    rows = [r for r in rows if r.id not in wait]
    if not rows:
        return Plan(wait, [])
    grouped = groups(rows)
    if limit and used >= limit:
        # the emergency route is never held back
        return Plan(wait, [urgent] if urgent else [], False, len(rows) - len(urgent))
    if limit and len(grouped) > limit - used:
        return Plan(wait, [rows], True)  # more due than the limit allows: one digest
    return Plan(wait, grouped)


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
    stale = [
        row_id
        for row_id, owner, claimed_at in store.claims()
        if _dead_here(owner) or (claimed_at or 0) < now - CLAIM_TIMEOUT
    ]
    if stale:
        store.unclaim_alerts(stale)


def _switch_on(settings: Settings, client: WikiClient, wiki_id: str, now: float) -> bool:
    """The on-wiki kill switch: the page must say "yes". Cached; unreadable counts as off."""
    page = settings.alerts.kill_switch_page
    wiki = settings.wiki(wiki_id)
    if not page or wiki is None:
        return True
    on = client.kill_switch_on(wiki, page, now, settings.alerts.kill_switch_cache)
    if not on:
        log.warning("kill switch %s on %s is off: alerts stay queued", page, wiki_id)
    return on


def _surge(store: Store, settings: Settings, client: WikiClient, now: float) -> str | None:
    """Alerts per hour far above the recent rate (a bad rules.yaml?): hold and tell the operator.
    Returns the hold it set, or None."""
    cfg = settings.alerts
    released = float(store.get_control(RELEASED_KEY) or 0)
    recent, _ = store.flags_alerted(max(now - 3600, released))
    earlier, first = store.flags_alerted(now - 7 * DAY, now - 3600)
    reason = surge(recent, earlier, first, now, cfg.throttle_factor, cfg.throttle_min_per_hour)
    if reason is None:
        return None
    held = json.dumps({"reason": reason, "at": now})
    store.set_control(HOLD_KEY, held)
    log.error(
        "alerts held: %s; check rules.yaml and the model, then `flagbot alerts release`", reason
    )
    if cfg.operator:
        _tell_operator(settings, client, reason)
    return held


def _tell_operator(settings: Settings, client: WikiClient, reason: str) -> None:
    """A notice with no flagged edit in it; a wikimail goes through the first configured wiki."""
    channel, _, address = settings.alerts.operator.partition(":")
    subject = "[flagbot] alerts held: unusual number of flags"
    body = (
        f"flagbot holds its alert queue: {reason}.\n\nNothing is lost: the alerts stay "
        "queued. Check recent changes to rules.yaml or the model, then run "
        "`flagbot alerts release` to send them, or fix the cause first.\n"
    )
    wiki = settings.wikis[0].id if settings.wikis else ""
    notice = Alert(channel, address, "operator", (), False, wiki)
    try:
        notifiers()[channel](notice, subject, body, settings, client)
    except Exception as exc:  # noqa: BLE001 - the hold stands; the log says why
        log.error("could not tell the operator %s: %s", settings.alerts.operator, exc)


def _drop_stale(
    store: Store,
    settings: Settings,
    client: WikiClient,
    wiki_id: str,
    rows: list[Due],
    report: DeliveryReport,
) -> list[Due]:
    """Rows still worth sending; the rest are marked handled_before_alert (text purged)."""
    wiki = settings.wiki(wiki_id)
    if not settings.alerts.stale_check or wiki is None:
        return rows
    try:
        states = client.revision_states(wiki, sorted({r.flag.rev_id for r in rows}))
    except FetchError as exc:  # better an alert about a gone edit than no alert
        log.warning("stale check failed (%s); sending without it", exc)
        return rows
    keep = []
    for row in rows:
        state = states.get(row.flag.rev_id, "visible")
        if state in ("hidden", "missing"):
            store.purge_text(wiki_id, row.flag.rev_id, "flagbot", f"revision {state} on the wiki")
        # a revert does not remove personal information: it stays in the page history for
        # anyone to read until oversight suppresses it, so for that route only hiding counts
        handled = state in ("hidden", "missing") or (
            state == "reverted" and row.route != OVERSIGHT_ROUTE
        )
        if not handled or row.route in urgent_routes(settings):
            keep.append(row)
            continue
        store.mark_alerts([row.id], "handled_before_alert", error=f"revision {state}")
        report.handled_before_alert += 1
    return keep


def _last_sent(store: Store, recipient: str, since: float) -> dict[tuple[str, str], float]:
    """When this recipient last got a message about each (wiki, user) and (wiki, page)."""
    last: dict[tuple[str, str], float] = {}
    for wiki, user, title, sent_at in store.sent_about(recipient, since):
        for key in ((wiki, f"user:{user}"), (wiki, f"page:{title}")):
            last[key] = max(last.get(key, 0.0), sent_at)
    return last


def _send_to(
    store: Store,
    settings: Settings,
    client: WikiClient,
    recipient: str,
    rows: list[Due],
    now: float,
    report: DeliveryReport,
) -> None:
    cfg = settings.alerts
    limit = cfg.limits.get(rows[0].channel, 0)
    decided = plan(
        rows,
        _last_sent(store, recipient, now - cfg.burst_seconds),
        store.messages_sent(recipient, now - DAY) if limit else 0,
        limit,
        cfg.burst_seconds,
        urgent_routes(settings),
    )
    if decided.wait:
        store.defer_alerts(decided.wait)
    report.waiting += len(decided.wait) + decided.over_limit
    for message in decided.messages:
        _send_group(store, settings, client, recipient, message, decided.digest, now, report)


def _send_group(
    store: Store,
    settings: Settings,
    client: WikiClient,
    recipient: str,
    rows: list[Due],
    digest: bool,
    now: float,
    report: DeliveryReport,
) -> None:
    claimed = store.claim_alerts([r.id for r in rows], now, _owner())
    rows = [r for r in rows if r.id in claimed]
    if not rows:
        return  # another sender sharing the store has them
    channel = rows[0].channel
    seen: dict[int, FlagRef] = {}
    for row in rows:  # one flag may reach one recipient on several routes: list it once
        seen.setdefault(row.flag.id, FlagRef.of(row.flag, settings.alerts.review_url))
    routes = ",".join(sorted({r.route for r in rows}))
    # a status notice's recipient is a reporter, its route the outcome: neither goes to a log
    notice = routes.startswith(STATUS_ROUTE)
    shown, shown_routes = ("a reporter", "status") if notice else (recipient, routes)
    items = tuple(seen.values())
    alert = Alert(channel, recipient.partition(":")[2], routes, items, digest, items[0].wiki)
    wiki = settings.wiki(alert.wiki)
    subject, body = render(alert, best_language([wiki_language(wiki)] if wiki else []))
    ids = [r.id for r in rows]
    try:
        notifier = notifiers()[channel]
        notifier(alert, subject, body, settings, client)
    except Exception as exc:  # noqa: BLE001 - any channel failure keeps the rows
        error = exc if isinstance(exc, DeliveryError) else DeliveryError(repr(exc))
        attempts = max(r.attempts for r in rows) + 1
        log.warning(
            "alert to %s failed (attempt %d): %s", shown, attempts, "withheld" if notice else error
        )
        report.errors.append(f"{shown}: {'withheld' if notice else error}")
        if error.permanent:
            store.mark_alerts(ids, "failed", error=str(error), attempts=attempts)
            report.failed += len(rows)
        else:
            if all(r.route in urgent_routes(settings) for r in rows):
                delay = URGENT_RETRY_DELAY
            else:
                delay = max(error.retry_after, min(60.0 * 2 ** (attempts - 1), MAX_RETRY_DELAY))
            store.mark_alerts(
                ids, "pending", error=str(error), attempts=attempts, next_attempt=now + delay
            )
            report.retrying += len(rows)
        return
    store.mark_alerts(ids, "sent", message=uuid.uuid4().hex, sent_at=now)
    report.messages += 1
    report.delivered += len(rows)
    log.info("alert sent to %s: %d flagged edit(s), route %s", shown, len(seen), shown_routes)
