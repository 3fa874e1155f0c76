"""Forget the stored text of flagged revisions the wiki has since hidden or deleted.

Runs in `flagbot run` every `purge_interval` seconds and as `flagbot purge`; the review queue
also checks each flag when it is opened. Privacy over convenience: once the wiki hides a
revision, flagbot must not be the place where its text survives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from flagbot.config import Settings
from flagbot.errors import FetchError, StoreUnavailable
from flagbot.store import Store
from flagbot.wiki import WikiClient

log = logging.getLogger(__name__)


def purge_hidden(store: Store, settings: Settings, client: WikiClient) -> int:
    """Check every flag that still has text; purge those the wiki hides. Returns how many."""
    by_wiki: dict[str, list[int]] = defaultdict(list)
    for wiki_id, rev_id in store.unpurged_flags():
        by_wiki[wiki_id].append(rev_id)
    purged = 0
    for wiki_id, rev_ids in by_wiki.items():
        wiki = settings.wiki(wiki_id)
        if wiki is None:
            continue
        try:
            states = client.revision_states(wiki, rev_ids)
        except FetchError as exc:  # try again next time; nothing is lost by waiting
            log.warning("purge check on %s failed: %s", wiki_id, exc)
            continue
        for rev_id, state in states.items():
            if state in ("hidden", "missing"):
                store.purge_text(wiki_id, rev_id, "flagbot", f"revision {state} on the wiki")
                purged += 1
    if purged:
        log.info("purged the stored text of %d revision(s) the wiki has hidden", purged)
    return purged


def purge_expired(store: Store, settings: Settings) -> int:
    """Retention: the text of flags and reports older than `text_retention_days` is forgotten,
    activity (who edited which page when) older than the hounding window, and the borderline
    edits repeated targeting counts (`pattern_edits`, which grew for ever)."""
    purged = store.purge_older_than(time.time() - settings.text_retention_days * 86400)
    # hounding's window; the borderline edits of repeated targeting for its window, or while
    # their flags' text is kept (a review page shows their scores), whichever is longer
    aimed_days = max(settings.repeat.days, settings.text_retention_days)
    store.prune_activity(
        time.time() - settings.hounding.days * 86400, time.time() - aimed_days * 86400
    )
    if purged:
        log.info(
            "retention: forgot the text of %d flag(s) older than %g days",
            purged,
            settings.text_retention_days,
        )
    return purged


def run_retention(
    store: Store, settings: Settings, stop: threading.Event, client: WikiClient
) -> None:
    """`flagbot run`'s retention thread: a minute after the start (or `purge_interval`, if
    shorter) and then every `purge_interval` seconds, forget the text of revisions the wiki has
    hidden (a replayed file has no wiki to ask) and whatever is past retention."""
    online = settings.source.type != "replay"
    wait = min(settings.purge_interval, 60.0)
    while not stop.wait(wait):
        wait = settings.purge_interval
        try:
            if online:
                purge_hidden(store, settings, client)
            purge_expired(store, settings)
        except StoreUnavailable as exc:
            log.warning("no retention pass (%s); next in %.0f s", exc, wait)
        except Exception:  # noqa: BLE001 - the bot goes on; the next pass tries again
            log.exception("retention pass failed; next in %.0f s", wait)
