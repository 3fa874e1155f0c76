"""Putting the bot together: the one place that makes the scorer (model and rules, checked as
they load), the pattern detectors (in `Pipeline`), the wiki client and the store, and runs the
pipeline with its alert sender and retention threads (`flagbot run`/`replay`)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from flagbot.config import Settings
from flagbot.pipeline import Pipeline, Scorer
from flagbot.store import Store
from flagbot.wiki import WikiClient

log = logging.getLogger(__name__)


def build_scorer(settings: Settings) -> Scorer:
    """The one place a scorer is made (the bot, `flagbot score`/`explain`, the web app's
    assessment of reported diffs): the configured model and rules, checked as they load."""
    from flagbot.classifier import load_model
    from flagbot.rules import load_rules

    rules = load_rules(settings.rules)
    other = load_model(settings.language_model) if settings.language_model else None
    return Scorer.build(settings, load_model(settings.model, settings.cascade), rules, other)


def build(settings: Settings) -> Pipeline:
    """Scorer, store, wiki client and the alert hook, from settings; the store is opened
    here. The pipeline's client is the run's one client (its group cache is shared)."""
    from flagbot.alerts import make_enqueue

    scorer = build_scorer(settings)
    store = Store(settings.store).open()
    return Pipeline(settings, store, scorer, make_enqueue(settings), WikiClient(settings))


def run_until_stopped(
    settings: Settings, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """`flagbot run`/`replay`: the pipeline, the sender thread and the retention thread until
    the source ends or SIGINT/SIGTERM; then a last delivery pass. Returns the summary."""
    from flagbot.alerts.sender import deliver, run_sender
    from flagbot.purge import run_retention
    from flagbot.sitematrix import with_live_matrix

    settings = with_live_matrix(settings, WikiClient(settings))  # `wikis: all`: today's wikis
    pipeline = build(settings)
    if settings.metrics_port:
        pipeline.metrics.serve(settings.metrics_port)
        log.info("metrics on http://127.0.0.1:%d/metrics", settings.metrics_port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    started = time.monotonic()
    sender_stop = threading.Event()
    sender = threading.Thread(
        target=run_sender,
        args=(
            pipeline.store,
            settings,
            sender_stop,
            pipeline.client,
            pipeline.metrics,
            pipeline.alerts_queued,
        ),
        name="alerts",
        daemon=True,
    )
    retention = threading.Thread(
        target=run_retention,
        args=(pipeline.store, settings, sender_stop, pipeline.client),
        name="retention",
        daemon=True,
    )
    threads = [sender, retention]
    if settings.community.page and not settings.offline:
        from flagbot.community import CommunityPages

        pages = CommunityPages(settings, pipeline.client, pipeline.store, pipeline.metrics)
        pages.restore()  # last good first: a wiki that is away keeps its community's settings
        pages.refresh()
        pipeline.on_change = pages.notice  # an edit to a page is read at once
        threads.append(
            threading.Thread(target=pages.run, args=(sender_stop,), name="community", daemon=True)
        )
    for thread in threads:
        thread.start()
    try:
        summary = pipeline.run(stop, progress).as_dict()
    finally:
        pipeline.close()
        sender_stop.set()
        pipeline.alerts_queued.set()
        for thread in threads:
            thread.join()
    try:
        report = deliver(pipeline.store, settings, client=pipeline.client)  # the last batch's
        summary["alerts"] = {"sent": report.messages, "held": report.held or None}
    finally:
        pipeline.store.close()
    summary["seconds"] = round(time.monotonic() - started, 3)
    summary["stopped_by_signal"] = stop.is_set()
    return summary
