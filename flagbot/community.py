"""Community settings: each wiki's own flagbot settings, on a JSON page its admins edit
(`community.page` in flagbot.yaml, e.g. `MediaWiki:Flagbot-config.json`), with the page's
history as the record of who changed what — as MediaWiki's Community Configuration and
AbuseFilter keep theirs.

Why the care: a community may tune what its bot treats as harassment, but a vandal, or an
abuser who wants to post unseen, must not. So:
- only revisions by the operator's `community.editors` groups count; a newer revision by anyone
  else (an unprotected page) is skipped and named;
- a page is checked against `community.schema.json` (jsonschema) and the operator's bounds: no
  threshold below `min_threshold`, no `locked` category turned off or its threshold raised, no
  route the operator gave no recipients, no operator route of a locked category dropped;
- an invalid, hidden or unreadable page keeps the last good settings in force (kept in the
  store, so a restart does not fall back to the defaults) and says why: the log, `flagbot
  status`, `flagbot doctor` and /metrics.
What is in force is put in `Settings.local`, so every `settings.wiki(id)` reads it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flagbot.config import (
    EMERGENCY_ROUTE,
    OVERSIGHT_CATEGORIES,
    OVERSIGHT_ROUTE,
    REVIEW_ROUTE,
    Settings,
    WikiSettings,
)
from flagbot.errors import FetchError
from flagbot.rules import RuleHit
from flagbot.scoring import decide

log = logging.getLogger(__name__)
SCHEMA_FILE = Path(__file__).with_name("community.schema.json")
MAX_PAGE_CHARS = 100_000  # a settings page is a few hundred characters
REVISIONS_READ = 10  # newest revisions read at each check: enough to get past a vandal's few
STATE_KEY = "community:"  # + wiki id: the store's control row of a wiki's page


@functools.cache
def schema() -> dict[str, Any]:
    """The published JSON schema of a settings page."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


@dataclass(frozen=True)
class PageState:
    """What a wiki's settings page says now: the revision in force (0: the operator's file
    alone), the newest revision read, and why that one is not in force ("" if it is)."""

    wiki: str
    rev: int = 0
    newest: int = 0
    problem: str = ""
    checked: float = 0.0
    text: str = ""  # the page text in force (kept so a restart keeps it)

    def as_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> PageState:
        data = json.loads(raw)
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


def page_problems(data: Any, wiki: WikiSettings, settings: Settings) -> list[str]:
    """Everything wrong with a page's settings: what the schema finds, then what the
    operator's bounds forbid. Empty: the page may be put in force."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: e.json_path)
    problems = [f"{e.json_path}: {e.message}" for e in errors]
    if problems:
        return problems
    bounds = settings.community
    operator_routes = settings.alerts.routes
    for category, threshold in data.get("thresholds", {}).items():
        if threshold < bounds.min_threshold:
            problems.append(
                f"$.thresholds.{category}: {threshold} is below {bounds.min_threshold}, the "
                "lowest the operator allows"
            )
        mine = settings.thresholds.get(category)
        if category in bounds.locked and (mine is None or threshold > mine):
            problems.append(
                f"$.thresholds.{category}: {category} is locked by the operator; a page may "
                "lower its threshold below the operator's, not raise it"
            )
    for category in data.get("off", ()):
        if category in bounds.locked:
            problems.append(f"$.off: {category} is locked by the operator; it cannot be off")
    alerts = settings.alerts
    named = {*alerts.recipients, *alerts.wiki_recipients.get(wiki.id, {})}
    reachable = {REVIEW_ROUTE} | {r for r in named if alerts.recipients_for(wiki.id, r)}
    for category, routes in data.get("routes", {}).items():
        for route in routes:
            if route not in reachable:
                problems.append(
                    f"$.routes.{category}: {route!r} has no recipients for {wiki.id}; "
                    f"allowed: {', '.join(sorted(reachable))}"
                )
        if category in OVERSIGHT_CATEGORIES and OVERSIGHT_ROUTE not in routes:
            problems.append(f"$.routes.{category}: must include {OVERSIGHT_ROUTE}")
        if category in (*bounds.locked, EMERGENCY_ROUTE):
            dropped = set(operator_routes.get(category, ())) - set(routes)
            if dropped:
                problems.append(
                    f"$.routes.{category}: {category} is locked by the operator; its routes "
                    f"{', '.join(sorted(dropped))} may not be dropped"
                )
    days = data.get("patterns", {}).get("repeat", {}).get("days", 0)
    if days > settings.repeat.days:
        problems.append(
            f"$.patterns.repeat.days: {days} is longer than the {settings.repeat.days:g} days "
            "the operator keeps borderline edits for"
        )
    operator_mode = wiki.alerts_mode or settings.alerts.mode
    if data.get("mode") == "send" and operator_mode == "log-only":
        problems.append("$.mode: the operator runs this wiki log-only; a page cannot send")
    return problems


def applied(base: WikiSettings, data: Mapping[str, Any], rev: int) -> WikiSettings:
    """The operator's settings of a wiki with a valid page's on top. Exemptions add to the
    operator's; report limits and the mode replace them."""
    reports = data.get("reports", {})
    support = {k: MappingProxyType(dict(v)) for k, v in data.get("support", {}).items()}
    return dataclasses.replace(
        base,
        thresholds=MappingProxyType(dict(data.get("thresholds", {}))),
        off=tuple(data.get("off", ())),
        routes=MappingProxyType({k: tuple(v) for k, v in data.get("routes", {}).items()}),
        exempt_users=tuple(dict.fromkeys((*base.exempt_users, *data.get("exempt_users", ())))),
        exempt_groups=tuple(dict.fromkeys((*base.exempt_groups, *data.get("exempt_groups", ())))),
        report_min_account_days=reports.get("min_account_days", base.report_min_account_days),
        report_min_edits=reports.get("min_edits", base.report_min_edits),
        report_newcomer_days=reports.get("newcomer_days", base.report_newcomer_days),
        reports_per_day_newcomer=reports.get("per_day_newcomer", base.reports_per_day_newcomer),
        answer_hours=MappingProxyType(dict(reports.get("answer_hours", {}))),
        patterns=MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in data.get("patterns", {}).items()}
        ),
        support=MappingProxyType(support),
        alerts_mode=data.get("mode", base.alerts_mode),
        settings_rev=rev,
    )


def parsed(text: str | None) -> tuple[Any, str]:
    """A page's JSON, or why it cannot be read."""
    if text is None:
        return None, "its text is hidden (revision deleted)"
    if len(text) > MAX_PAGE_CHARS:
        return None, f"longer than {MAX_PAGE_CHARS:,} characters"
    try:
        return json.loads(text), ""
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


class CommunityPages:
    """Reads each wiki's settings page and puts what is valid in force (`settings.local`).

    `store` keeps each wiki's state (the text in force, the newest revision, the problem) in
    its control table: read back at start, shown by `flagbot status`."""

    def __init__(self, settings: Settings, client: Any, store: Any = None, metrics: Any = None):
        self.settings = settings
        self.client = client
        self.store = store
        self.metrics = metrics
        self.states: dict[str, PageState] = {}
        self._due: set[str] = set()  # wikis whose page the stream showed edited
        # each wiki's own name for the page ("Project:X" is "Wikipedia:X" in the stream)
        self._titles: dict[str, str] = {}
        self._page = _title(settings.community.page)  # as configured: looked at for every event
        self._lock = threading.Lock()
        self._wake = threading.Event()

    @property
    def page(self) -> str:
        return self.settings.community.page

    def restore(self) -> None:
        """Put the last good settings the store kept back in force (before any page is read:
        a wiki that is away at start keeps its community's settings, not the defaults)."""
        for wiki in self.settings.wikis:
            self.restore_wiki(wiki)

    def restore_wiki(self, wiki: WikiSettings) -> None:
        """`restore` for one wiki (the web app, before it takes a report about it)."""
        raw = self.store.get_control(STATE_KEY + wiki.id) if self.store is not None else None
        if raw is None:
            return
        state = PageState.from_json(raw)
        self.states[wiki.id] = state
        data, _ = parsed(state.text)
        if state.rev and data is not None and not page_problems(data, wiki, self.settings):
            self.settings.local.put(applied(wiki, data, state.rev))

    def refresh(self) -> None:
        """Read every wiki's page once; a wiki that cannot be read keeps what it had."""
        for wiki in self.settings.wikis:
            self.refresh_wiki(wiki)

    def refresh_wiki(self, wiki: WikiSettings) -> PageState:
        """Read one wiki's page and put its newest valid revision by an editor in force; the
        newer ones, and why each is not in force, are the state's problem."""
        before = self.states.get(wiki.id, PageState(wiki.id))
        try:
            title, revisions = self.client.page_revisions(wiki, self.page, REVISIONS_READ)
        except FetchError as exc:
            return self._keep(before, f"cannot read {self.page}: {exc}")
        self._titles[wiki.id] = _title(title)
        if not revisions:  # no page (or deleted by an admin): the operator's file alone
            self.settings.local.put(wiki)
            return self._save(PageState(wiki.id, checked=time.time()), before)
        newest = int(revisions[0]["revid"])
        editors = " or ".join(self.settings.community.editors)
        notes: list[str] = []  # why each newer revision is not the one in force
        for revision in revisions:  # newest first: the newest valid editor's revision wins
            rev = int(revision["revid"])
            if not self._by_editor(wiki, revision):
                notes.append(
                    f"revision {rev} by {revision.get('user', '?')} ignored: not by {editors}"
                )
                continue
            if rev == before.rev:
                return self._save(
                    dataclasses.replace(before, newest=newest, problem="; ".join(notes)), before
                )
            data, unreadable = parsed(revision.get("content"))
            problems = [unreadable] if unreadable else page_problems(data, wiki, self.settings)
            if problems:
                notes.append(f"revision {rev} not in force: " + "; ".join(problems))
                continue
            self.settings.local.put(applied(wiki, data, rev))
            log.info("%s: community settings revision %d of %s in force", wiki.id, rev, self.page)
            if notes:
                log.warning("%s: %s", wiki.id, "; ".join(notes))
            state = PageState(
                wiki.id, rev, newest, "; ".join(notes), time.time(), revision["content"]
            )
            return self._save(state, before)
        return self._keep(before, "; ".join(notes), newest)

    def _by_editor(self, wiki: WikiSettings, revision: Mapping[str, Any]) -> bool:
        user = revision.get("user")
        if not user or "userhidden" in revision:
            return False
        groups = self.client.user_groups(wiki, user)
        return bool(groups.intersection(self.settings.community.editors))

    def _keep(self, before: PageState, problem: str, newest: int = 0) -> PageState:
        """The last good settings stay in force; the problem is logged once and kept."""
        if problem != before.problem:
            log.warning(
                "%s: %s; %s", before.wiki, problem,
                f"revision {before.rev} stays in force" if before.rev else "no page in force",
            )  # fmt: skip
        state = dataclasses.replace(
            before, newest=newest or before.newest, problem=problem, checked=time.time()
        )
        return self._save(state, before)

    def _save(self, state: PageState, before: PageState) -> PageState:
        if self.store is not None and (state.rev, state.newest, state.problem) != (
            before.rev, before.newest, before.problem,
        ):  # fmt: skip
            self.store.set_control(STATE_KEY + state.wiki, state.as_json())
        if self.metrics is not None:
            self.metrics.community_rev.labels(state.wiki).set(state.rev)
            self.metrics.community_problem.labels(state.wiki).set(1 if state.problem else 0)
        self.states[state.wiki] = state  # last: whoever sees it here finds it stored too
        return state

    def notice(self, change: Any) -> None:
        """The pipeline's view of every change: an edit to a settings page is read at once
        (`run`), not at the next poll — with 900 wikis a poll of every page each minute would
        be 15 requests a second."""
        wiki = self.settings.configured(change.wiki)
        if wiki is not None and _title(change.title) in (self._page, self._titles.get(wiki.id)):
            with self._lock:
                self._due.add(change.wiki)
            self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Read a page when the stream shows an edit to it, and every page each
        `community.poll_seconds` (an edit the stream missed), until `stop`."""
        last_poll = time.monotonic()
        while not stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            with self._lock:
                due, self._due = self._due, set()
            try:
                for wiki_id in due:
                    wiki = self.settings.configured(wiki_id)
                    if wiki is not None:
                        self.refresh_wiki(wiki)
                if time.monotonic() - last_poll >= self.settings.community.poll_seconds:
                    last_poll = time.monotonic()
                    self.refresh()
            except Exception:  # a thread that dies keeps stale settings silently
                log.exception("community settings: a check failed; trying again")


def _title(title: str) -> str:
    """A page title as MediaWiki compares them: underscores are spaces, first letter upper."""
    title = title.replace("_", " ").strip()
    return title[:1].upper() + title[1:]


def stored_states(store: Any, settings: Settings) -> dict[str, PageState]:
    """Each wiki's page state as the bot last saved it (for `status`, doctor, /metrics)."""
    out = {}
    for wiki in settings.wikis:
        raw = store.get_control(STATE_KEY + wiki.id)
        if raw is not None:
            out[wiki.id] = PageState.from_json(raw)
    return out


def categories_under(
    score: float, rule_categories: tuple[str, ...], thresholds: Mapping[str, float], off: Any
) -> tuple[str, ...]:
    """The categories a scored edit has under thresholds and categories off (`decide`'s)."""
    hits = [RuleHit("stored", c, "low") for c in rule_categories if c not in off]
    return decide(score, hits, thresholds).categories


def dry_run(
    settings: Settings, client: Any, scorer: Any, store: Any, wiki: WikiSettings, rev: int,
    since: float,
) -> dict[str, Any]:  # fmt: skip
    """What a proposed page revision would change on the wiki's edits scored since `since`:
    flags per category now and under it (AbuseFilter's test mode). Read from the scores and
    rule categories the store keeps (no text); an edit a rule flagged in a category that is
    off now was stored without it, so turning a category on counts only the model's share."""
    found = client.page_revisions(wiki, "", rev_id=rev)[1]
    data, unreadable = parsed(found[0].get("content")) if found else (None, "no such revision")
    problems = [unreadable] if unreadable else page_problems(data, wiki, settings)
    if problems:
        return {"revision": rev, "problems": problems}
    assert isinstance(data, dict)  # the schema wants an object
    now = scorer.under(settings.wiki(wiki.id))
    proposed = scorer.under(applied(settings.configured(wiki.id) or wiki, data, rev))
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    edits = store.scored_since(wiki.id, since)
    for score, rules in edits:
        for counts, (thresholds, _routes, off, _rev) in ((before, now), (after, proposed)):
            for category in categories_under(score, rules, thresholds, off):
                counts[category] = counts.get(category, 0) + 1
    return {
        "revision": rev,
        "problems": [],
        "edits": len(edits),
        "flags": {
            c: {"now": before.get(c, 0), "proposed": after.get(c, 0)}
            for c in sorted(set(before) | set(after))
        },
    }
