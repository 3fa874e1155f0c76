"""What the web app's views use, typed: settings, the store, the lookups that ask the wikis, and
the background assessor of reported diffs. `create_app` makes one `Services`; views read it
with `services()`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from flask import current_app

from flagbot.config import Settings, WikiSettings
from flagbot.errors import FetchError
from flagbot.store import Store

GroupsOnWiki = Callable[..., frozenset[str]]  # (wiki id, user, fresh=False) → groups there
RevisionLookup = Callable[[str, int], str]  # (wiki id, rev id) → visible/hidden/reverted/missing
AccountLookup = Callable[[str, str], tuple["float | None", int]]  # → (registered, edit count)
Assessor = Callable[[str, int], dict[str, Any]]  # (wiki id, rev id) → `explain.explain` of it
TagsLookup = Callable[[str, list[int]], dict[int, tuple[str, ...]]]  # → change tags per rev id

# what the reviewers see of how the pipeline scores a reported diff: never the edit's text
ASSESSMENT_KEYS = (
    "rev",
    "title",
    "user",
    "filter_reason",
    "skip_reason",
    "score",
    "flagged",
    "categories",
    "severity",
    "rules",
    "reasons",
)


class Assessments:
    """Reported diffs read and scored in the background, never in a reviewer's request: one
    diff named in a report took 48 s to parse, past gunicorn's 30 s worker timeout. A view
    waits at most `wait` seconds, then shows "being assessed" and the next view the result."""

    def __init__(self, assess: Assessor, store: Store, wait: float = 2.0):
        self.assess, self.store, self.wait = assess, store, wait
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="assess")
        self._jobs: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def start(self, flag_id: int, wiki: str, rev_id: int) -> Future[dict[str, Any]]:
        with self._lock:
            job = self._jobs.get(flag_id)
            if job is None:
                job = self._jobs[flag_id] = self._pool.submit(self._run, flag_id, wiki, rev_id)
            return job

    def _run(self, flag_id: int, wiki: str, rev_id: int) -> dict[str, Any]:
        try:
            explained = self.assess(wiki, rev_id)
        except FetchError as exc:  # not kept: the next view asks the wiki again
            return {"rev": rev_id, "error": str(exc)}
        kept = {key: explained.get(key) for key in ASSESSMENT_KEYS}
        self.store.set_report_assessment(flag_id, json.dumps(kept))
        return kept

    def result(self, flag_id: int, wiki: str, rev_id: int) -> dict[str, Any]:
        job = self.start(flag_id, wiki, rev_id)
        try:
            found = job.result(timeout=self.wait)
        except FutureTimeout:
            return {"rev": rev_id, "pending": True}
        except Exception as exc:  # noqa: BLE001 - a bug in one assessment, shown not raised
            found = {"rev": rev_id, "error": f"{type(exc).__name__}"}
        with self._lock:
            self._jobs.pop(flag_id, None)
        return found


@dataclass
class Services:
    """One per app. Mutable on purpose: a test swaps a lookup or the settings."""

    settings: Settings
    store: Store
    wiki: WikiSettings  # where reviewers log in
    groups: GroupsOnWiki
    revision: RevisionLookup
    account: AccountLookup
    tags: TagsLookup
    assessments: Assessments


def services() -> Services:
    found: Services = current_app.extensions["flagbot"]
    return found
