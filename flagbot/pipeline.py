"""Wires the stages: source → filter → diff → text → score → store (→ alerts outbox).

Events are handled in batches: a reader thread fills a bounded queue from the source, the main
loop takes what is there (up to batch_size), fetches diffs with a bounded pool of workers, scores
all texts of the batch at once, and stores the batch and the position after it in one
transaction. The saved position therefore never passes an event that is not fully processed.
SIGINT/SIGTERM set `stop`: the batch in hand is finished and saved, then run() returns.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from flagbot import diffs, filters, patterns, wikitext
from flagbot.budget import OverBudget, Workers
from flagbot.config import UNREADABLE_CATEGORY, Settings, WikiSettings
from flagbot.errors import BadEvent, FetchError, SkipEdit, StoreUnavailable
from flagbot.events import RecentChange
from flagbot.localnames import canonical_links
from flagbot.metrics import Metrics
from flagbot.rules import RuleHit
from flagbot.scoring import Scorer, Texts, Verdict, decide
from flagbot.sources import Source, SourceItem, source_key
from flagbot.store import Outcome, RowRejected, Store
from flagbot.wiki import WikiClient

log = logging.getLogger(__name__)
READER_JOIN_SECONDS = 15
_END = object()


@dataclass
class Summary:
    """What a run saw, for the replay summary and `status`."""

    read: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    filtered: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    scored: int = 0
    flagged: Counter[str] = field(default_factory=Counter)
    new_flags: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "bad": sum(self.bad.values()),
            "bad_reasons": dict(self.bad),
            "filtered": sum(self.filtered.values()),
            "filter_reasons": dict(self.filtered),
            "skipped": dict(self.skipped),
            "duplicates": self.duplicates,
            "scored": self.scored,
            "flagged": dict(self.flagged),
            "new_flags": self.new_flags,
        }


def readable_texts(added_wikitext: str, comment: str, names: tuple[str, ...] = ()) -> Texts:
    """What is scored of an edit, from the wikitext it added and its edit summary."""
    return Texts(
        wikitext.readable_text(added_wikitext),
        wikitext.readable_text(comment),
        wikitext.quoted_text(added_wikitext),
        names,
    )


def read_edit(
    change: RecentChange, old: str, new: str
) -> tuple[diffs.Edit, Texts, tuple[str, ...]]:
    """The CPU part of reading an edit, run in a budget worker (flagbot.budget): what it added
    (the replay's `added_text`, or the diff of `old` → `new`), its readable texts, and whom it
    is aimed at."""
    if change.added_text is not None:
        edit = diffs.Edit(change.added_text)
    else:
        edit = diffs.read_edit(old, new)
    texts = readable_texts(edit.added, change.comment)
    return edit, texts, patterns.targets(change, edit.added, edit.replied_to)


def fetch_revisions(
    client: WikiClient, wiki: WikiSettings, change: RecentChange
) -> tuple[str, str]:
    """Both revisions of an edit, with the wiki's own names for user pages rewritten to the
    canonical ones ("[[Benutzer:…" → "[[User:…", flagbot.localnames), so that signatures,
    replies and pings are read on every wiki."""
    old, new = diffs.fetch_revisions(client.site(wiki), change)
    names = client.link_names(wiki)
    return canonical_links(old, names), canonical_links(new, names)


def read_within_budget(
    workers: Workers | None, change: RecentChange, old: str, new: str
) -> tuple[diffs.Edit, Texts, tuple[str, ...]]:
    """`read_edit` in a budget worker, or here when the input is too small to overrun (a round
    trip costs every edit) or there are no workers (`flagbot explain` in a terminal)."""
    if workers is None or len(old) + len(new) + len(change.added_text or "") <= INLINE_CHARS:
        return read_edit(change, old, new)
    return workers.run("parse", read_edit, change, old, new)


def unreadable_verdict(scorer: Scorer, reason: str) -> Verdict:
    """The verdict of an edit that could not be read within its budget: a flag for the review
    queue (category `unreadable`), never a silent skip. No score: nothing was scored."""
    hit = RuleHit(reason, UNREADABLE_CATEGORY, "medium")
    return decide(0.0, [hit], {}, scorer.routes)


# inputs this small are read in the bot's own process: the worst wikitext measured at 4,000
# characters (nested <ref>{{[[ …) parses in 0.13 s, and a worker round trip costs every edit
INLINE_CHARS = 4_000
USERS_REMEMBERED = 100_000  # user names checked once per process, the oldest forgotten first
OnFlag = Callable[[Any, int, Outcome], None]


class Interrupted(Exception):
    """A stop request arrived while a batch waited for the wiki."""


@dataclass(frozen=True)
class Poison:
    """An exception one event raised in a stage; the event is skipped as bad, never retried."""

    error: BaseException


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        scorer: Scorer,
        on_flag: OnFlag | None,
        client: WikiClient,
        metrics: Metrics | None = None,
    ):
        self.settings = settings
        self.client = client  # the run's one client: never a second one with its own cache
        self.metrics = metrics or Metrics()
        self.store = store
        self.scorer = scorer
        self.on_flag = on_flag
        self.detectors = patterns.build_detectors(
            settings, scorer.model.card, self._in_exempt_group
        )
        self.summary = Summary()
        # sees every change before the filters (flagbot.community: edits to a settings page)
        self.on_change: Callable[[RecentChange], None] | None = None
        self.alerts_queued = threading.Event()  # set when a batch with new flags commits
        self._users_checked: dict[tuple[str, str], None] = {}  # insertion-ordered: oldest first
        self._pool = ThreadPoolExecutor(
            max_workers=settings.diff_workers, thread_name_prefix="diff"
        )
        # only a replay file may carry the text it scores (`added_text`): in a live event it
        # would let whoever can feed the stream (a spoofed RC-feed packet) pick what is scored
        self.trust_added_text = settings.source.type == "replay"
        budget = settings.budget
        self.workers = Workers(budget.seconds, min(budget.workers, settings.diff_workers))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.workers.close()

    # --- one batch ------------------------------------------------------------------------
    def _read(self, change: RecentChange) -> tuple[diffs.Edit, Texts, tuple[str, ...]]:
        """Fetch the edit (network, in this thread), then read it in a budget worker."""
        old = new = ""
        if change.added_text is not None and not self.trust_added_text:
            change = dataclasses.replace(change, added_text=None)
        if change.added_text is None:
            if self.settings.offline:
                raise SkipEdit("no_text_offline")
            wiki = self.settings.wiki(change.wiki)
            assert wiki is not None  # the filter let it through
            if self._in_groups(wiki, change.user):
                raise SkipEdit("exempt_group")
            old, new = fetch_revisions(self.client, wiki, change)
        return read_within_budget(self.workers, change, old, new)

    def _in_groups(self, wiki: WikiSettings, user: str) -> bool:
        """Whether the user is in one of the wiki's `exempt_groups` (asked only if it has any)."""
        return bool(wiki.exempt_groups) and bool(
            self.client.user_groups(wiki, user).intersection(wiki.exempt_groups)
        )

    def _in_exempt_group(self, wiki_id: str, user: str) -> bool:
        """Whether a follower about to be flagged for hounding is in one of the wiki's exempt
        groups (patrollers, admins: following others is their job). An unreadable wiki counts
        as no: a reviewer sees the flag, rather than a hounder going unseen."""
        wiki = self.settings.wiki(wiki_id)
        try:
            return wiki is not None and self._in_groups(wiki, user)
        except FetchError as exc:
            log.warning("cannot read the groups of a follower on %s (%s); flagged", wiki_id, exc)
            return False

    def _fetch_all(self, changes: list[RecentChange], stop: threading.Event) -> list[Any]:
        """What `read_edit` returns, a SkipEdit, an OverBudget or a Poison per change; retries
        the batch while the wiki is down."""
        delay = 1.0
        while True:
            futures = [self._pool.submit(self._read, c) for c in changes]
            while concurrent.futures.wait(futures, timeout=0.5).not_done:
                if stop.is_set():  # leave the requests in flight; nothing of this batch is saved
                    for future in futures:
                        future.cancel()
                    raise Interrupted
            results: list[Any] = []
            failure = None
            for future in futures:
                try:
                    results.append(future.result())
                except (SkipEdit, OverBudget) as skip:
                    results.append(skip)
                except FetchError as exc:
                    failure = exc
                except Exception as exc:  # this event's own trouble: the others go on
                    results.append(Poison(exc))
            if failure is None:
                return results
            log.warning(
                "cannot fetch diffs (%s); the batch waits, retrying in %.0f s", failure, delay
            )
            if stop.wait(delay):
                raise Interrupted from failure
            delay = min(delay * 2, self.settings.source.max_backoff)

    def process(self, items: list[SourceItem], stop: threading.Event) -> list[Outcome]:
        summary = self.summary
        candidates: list[RecentChange] = []
        names_only: list[RecentChange] = []  # not talk-page edits, but they make a name public
        for item, _position in items:
            summary.read += 1
            if isinstance(item, BadEvent):
                summary.bad[item.reason] += 1
                log.warning("malformed event skipped: %s", item.reason)
            elif item is None:
                summary.filtered["dropped"] += 1
            else:
                if self.on_change is not None:
                    self.on_change(item)
                reason = filters.skip_reason(item, self.settings)
                if reason:
                    summary.filtered[reason] += 1
                    public = reason in ("namespace", "not_an_edit") and item.key
                    if public and filters.new_names(item, self.settings):
                        names_only.append(self._rebased(item))
                else:
                    candidates.append(self._rebased(item))
        fresh = self._drop_duplicates(candidates, stop)
        outcomes: list[Outcome] = []
        to_score: list[tuple[RecentChange, Texts]] = []
        aimed_at: dict[int, tuple[str, ...]] = {}  # id(change) → whom it targets
        said: dict[int, tuple[str, ...]] = {}  # id(change) → the word runs of its headings
        for change, read in zip(fresh, self._fetch_all(fresh, stop), strict=True):
            if isinstance(read, SkipEdit):
                summary.skipped[read.reason] += 1
                outcomes.append(Outcome(change, read.reason))
                continue
            if isinstance(read, Poison):
                outcomes.append(self._poisoned(change, read.error))
                continue
            if isinstance(read, OverBudget):
                outcomes.append(self._unreadable(change, read.reason))
                continue
            edit, texts, aimed_at[id(change)] = read
            said[id(change)] = patterns.mentions(edit.added)  # whom its headings name
            texts = texts._replace(
                names=self._names(change), namespace=change.namespace, wiki=change.wiki
            )
            if len(texts.added) > self.settings.budget.chars:
                outcomes.append(self._unreadable(change, "over_budget:size", aimed_at[id(change)]))
                continue
            if texts.added or texts.quoted or texts.names:
                to_score.append((change, texts))
            else:
                summary.skipped["empty_text"] += 1
                outcomes.append(Outcome(change, "empty_text"))
        names_only = self._drop_duplicates(names_only, stop)
        to_score.extend(
            (c, Texts("", names=self._names(c), namespace=c.namespace, wiki=c.wiki))
            for c in names_only
        )
        only_names = {id(c) for c in names_only}
        for (change, texts), verdict in zip(to_score, self._verdicts(to_score), strict=True):
            if isinstance(verdict, Poison):
                outcomes.append(self._poisoned(change, verdict.error))
                continue
            has_text = bool(texts.added or texts.quoted)
            if not verdict.flagged and not has_text:  # only names, and they are clean
                if id(change) not in only_names:  # a talk-page edit that added no words
                    summary.skipped["empty_text"] += 1
                    outcomes.append(Outcome(change, "empty_text"))
                continue
            about = aimed_at.get(id(change), ()), said.get(id(change), ())  # for the detectors
            if not verdict.flagged and not verdict.served:
                # scored all the same (a paragraph of another language must not hide English
                # abuse from the model), but nobody should believe flagbot read it
                reason = f"unsupported_language:{verdict.language}"
                summary.skipped[reason] += 1
                outcomes.append(Outcome(change, reason, verdict, None, *about))
                continue
            if has_text:
                summary.scored += 1
            if verdict.flagged:
                for category in verdict.categories:
                    summary.flagged[category] += 1
                log.info(
                    "flagged %s %s %s (%s, score %.3f)",
                    change.wiki,
                    "rev" if change.new_rev else "log entry",
                    change.new_rev or change.log_id,
                    ",".join(verdict.categories),
                    verdict.score,
                )
                log.debug("flagged text of %s %s: %r", change.wiki, change.key, texts)
                stored = "\n".join(
                    filter(None, (self.scorer.excerpt(texts.added, change.namespace), texts.quoted))
                )
                outcomes.append(Outcome(change, "flagged", verdict, stored or None, *about))
            else:
                outcomes.append(Outcome(change, "scored", verdict, None, *about))
        return outcomes

    def _names(self, change: RecentChange) -> tuple[str, ...]:
        """The names a change makes public, and its editor's user name the first time this
        process sees it (an account made before flagbot watched was never checked)."""
        names = filters.new_names(change, self.settings)
        user = (change.wiki, change.user)
        if user in self._users_checked or not filters.is_account(change.user):
            return names
        self._users_checked[user] = None
        if len(self._users_checked) > USERS_REMEMBERED:
            self._users_checked.pop(next(iter(self._users_checked)))
        return names if change.user in names else (*names, change.user)

    def _verdicts(self, to_score: list[tuple[RecentChange, Texts]]) -> list[Any]:
        """Verdicts for the batch; if the batch fails, one by one, so one text cannot sink it."""
        texts = [t for _, t in to_score]
        try:
            return self.scorer.verdicts(texts)
        except Exception:
            results: list[Any] = []
            for one in texts:
                try:
                    results.extend(self.scorer.verdicts([one]))
                except Exception as exc:
                    results.append(Poison(exc))
            return results

    def _unreadable(
        self, change: RecentChange, reason: str, targets: tuple[str, ...] = ()
    ) -> Outcome:
        """An edit over its time or size budget: counted under its reason, and flagged for the
        review queue — too big or too slow to read is itself worth a reviewer's look."""
        self.summary.skipped[reason] += 1
        self.summary.flagged[UNREADABLE_CATEGORY] += 1
        log.warning(
            "%s rev %s is over its budget (%s); flagged for review unscored",
            change.wiki,
            change.new_rev,
            reason,
        )
        return Outcome(change, "flagged", unreadable_verdict(self.scorer, reason), None, targets)

    def _poisoned(self, change: RecentChange, error: BaseException) -> Outcome:
        """An event that broke a stage: counted as bad, stored as processed, never retried."""
        reason = f"poison:{type(error).__name__}"
        self.summary.bad[reason] += 1
        log.error(
            "event %s rev %s could not be processed (%s); skipped",
            change.wiki,
            change.new_rev,
            reason,
        )
        log.debug("poison event %s rev %s", change.wiki, change.new_rev, exc_info=error)
        return Outcome(change, reason)

    def _rebased(self, change: RecentChange) -> RecentChange:
        """The change as of the configured wiki: its id, URL and script path, never the ones an
        event carries (an event may carry anything; a newline in server_url became alert lines)."""
        wiki = self.settings.wiki(change.wiki)
        assert wiki is not None  # the filter let it through
        return dataclasses.replace(
            change, wiki=wiki.id, server_url=wiki.url, script_path=wiki.script_path
        )

    def _until_stored(self, stop: threading.Event, step: Callable[[], Any]) -> Any:
        """`step` (a store call), retried while the database is unavailable: the batch in hand
        waits in memory and its position is not saved, so an outage loses and repeats nothing."""
        delay, waited = 1.0, False
        while True:
            try:
                result = step()
            except StoreUnavailable as exc:
                waited = True
                self.metrics.store_unavailable(True)
                log.warning("%s; the batch waits, retrying in %.0f s", exc, delay)
                if stop.wait(delay):
                    raise Interrupted from exc
                delay = min(delay * 2, self.settings.source.max_backoff)
                continue
            if waited:
                log.warning("the database is back; going on")
                self.metrics.store_unavailable(False)
            return result

    def _drop_duplicates(
        self, changes: list[RecentChange], stop: threading.Event
    ) -> list[RecentChange]:
        keys = [(c.wiki, c.key) for c in changes]
        seen = self._until_stored(stop, lambda: self.store.processed_among(keys))
        fresh = []
        for change in changes:
            key = (change.wiki, change.key)
            if key in seen:
                self.summary.duplicates += 1
                continue
            seen.add(key)
            fresh.append(change)
        return fresh

    def _activity(self, items: list[SourceItem]) -> list[RecentChange]:
        """Every edit of the batch the hounding detector keeps, in any namespace."""
        return [
            self._rebased(item)
            for item, _position in items
            if isinstance(item, RecentChange) and filters.is_activity(item, self.settings)
        ]

    def commit(self, key: str, items: list[SourceItem], outcomes: list[Outcome]) -> None:
        """Store the batch; wake the alert sender if it added flags (their alerts are queued in
        the same transaction)."""
        flags_before = self.summary.new_flags
        try:
            self._commit(key, items, outcomes)
        finally:
            if self.summary.new_flags > flags_before:
                self.alerts_queued.set()

    def _commit(self, key: str, items: list[SourceItem], outcomes: list[Outcome]) -> None:
        position = next((p for _, p in reversed(items) if p is not None), None)
        try:
            self.summary.new_flags += self.store.record_batch(
                key, outcomes, position, self.on_flag, self.detectors, self._activity(items)
            )
            return
        except RowRejected:
            log.warning("the store refused a batch; storing its events one by one")
        for outcome in outcomes:  # one refused row must not keep the others (or the bot) back
            try:
                self.summary.new_flags += self.store.record_batch(
                    key, [outcome], None, self.on_flag, self.detectors
                )
            except RowRejected as exc:
                poisoned = self._poisoned(outcome.change, exc.error)
                with contextlib.suppress(RowRejected):  # even its key may be what is refused
                    self.store.record_batch(key, [poisoned], None)
        with contextlib.suppress(RowRejected):  # the activity, apart: a refused row loses it
            self.store.record_batch(
                key, [], None, self.on_flag, self.detectors, self._activity(items)
            )
        if position is not None:
            self.store.save_position(key, position)

    # --- the loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event, progress: Callable[[int], None] | None = None) -> Summary:
        key = source_key(self.settings)
        source = source_of(self.settings.source.type)
        position = self._until_stored(stop, lambda: self.store.load_position(key))
        items = source(self.settings, position, stop, client=self.client)
        batches = _batches(items, self.settings.batch_size, stop)
        try:
            for batch in batches:
                outcomes = self.process(batch, stop)
                self._until_stored(stop, lambda: self.commit(key, batch, outcomes))  # noqa: B023
                self.metrics.count_run(self.summary.as_dict())
                self.metrics.batch_saved(max((o.change.timestamp for o in outcomes), default=None))
                if progress:
                    progress(len(batch))
        except Interrupted:  # stopped while the wiki or the database was away: read again
            log.warning("stopped while waiting for the wiki or database; the batch was not saved")
            batches.close()
        return self.summary


def _batches(
    items: Iterator[SourceItem], size: int, stop: threading.Event
) -> Generator[list[SourceItem], None, None]:
    """Group a source into batches: whatever is ready, up to `size`, without waiting for more."""
    buffer: queue.Queue[Any] = queue.Queue(maxsize=size * 4)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the main thread, raised there
            errors.append(exc)
        finally:
            with contextlib.suppress(queue.Full):  # nobody may be reading any more
                buffer.put(_END, timeout=1)

    reader = threading.Thread(target=read, name="source", daemon=True)
    reader.start()
    done = False
    while not done:
        try:
            first = buffer.get(timeout=0.5)
        except queue.Empty:
            if stop.is_set():
                break
            continue
        batch = []
        item = first
        while True:
            if item is _END:
                done = True
                break
            batch.append(item)
            if len(batch) >= size:
                break
            try:
                item = buffer.get_nowait()
            except queue.Empty:
                break
        if batch:
            yield batch
        if stop.is_set():
            break
    reader.join(READER_JOIN_SECONDS)  # let a request in flight finish before the caller leaves
    if reader.is_alive():
        log.warning("the source is still busy after %d s; leaving it behind", READER_JOIN_SECONDS)
    if errors:
        raise errors[0]


# --- composition and lifecycle: the one place that builds and runs the whole bot ----------------
def source_of(kind: str) -> Source:
    """The source for `source.type` (imported when used: the stream's client is heavy)."""
    from flagbot.sources import eventstreams, recentchanges, replay

    sources: dict[str, Source] = {
        "eventstreams": eventstreams.stream,
        "recentchanges": recentchanges.poll,
        "replay": replay.read,
    }
    return sources[kind]
