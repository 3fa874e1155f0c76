"""flagbot.budget: a per-edit step in a worker process that is killed when it runs late, and the
pipeline's parse bomb: one edit that takes a minute to parse is flagged for review unread, and
the threat posted beside it is still flagged."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest

from flagbot.budget import OverBudget, WorkerDied, Workers
from flagbot.config import BudgetSettings
from tests.conftest import rc_event
from tests.test_pipeline import make_pipeline, write_replay

PARSE_BOMB = "<ref>" * 20_000 + " filler"  # 100 KB; the real one was 349 KB and took 50-80 s
THREAT = "I know where you live and I will kill you tomorrow"


def spin(seconds: float) -> float:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return seconds


def crash() -> None:
    os._exit(3)


def fail() -> None:
    raise ValueError("a bug in one edit")


def test_a_late_call_is_stopped_and_the_next_call_gets_a_fresh_worker():
    workers = Workers(seconds=0.5, size=1)
    try:
        assert workers.run("parse", spin, 0.01) == 0.01
        started = time.monotonic()
        with pytest.raises(OverBudget) as caught:
            workers.run("parse", spin, 600)
        assert caught.value.reason == "over_budget:parse"
        assert time.monotonic() - started < 60  # stopped, not waited for (600 s)
        assert workers.run("parse", spin, 0.01) == 0.01
        with pytest.raises(ValueError, match="a bug in one edit"):
            workers.run("parse", fail)
        with pytest.raises(WorkerDied):
            workers.run("parse", crash)
        assert workers.run("parse", spin, 0.02) == 0.02  # and on it goes
    finally:
        workers.close()


def test_workers_are_shared_by_threads_without_mixing_answers():
    workers = Workers(seconds=30, size=2)
    answers: dict[int, float] = {}

    def ask(i: int) -> None:
        answers[i] = workers.run("parse", spin, i / 1000)

    try:
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == {i: i / 1000 for i in range(8)}
    finally:
        workers.close()


def test_a_parse_bomb_is_flagged_for_review_and_the_threat_beside_it_still_flagged(
    tmp_path, make_settings, scorer
):
    lines = [
        rc_event(0, PARSE_BOMB, title="Talk:Bomb"),
        rc_event(1, THREAT, title="Talk:Elsewhere"),
        rc_event(2, "Thanks for adding the source.", title="Talk:Elsewhere"),
    ]
    settings = make_settings(
        source={"type": "replay", "path": write_replay(tmp_path / "r.jsonl", lines)}
    )
    settings = dataclasses.replace(settings, budget=BudgetSettings(seconds=1.0))
    pipeline = make_pipeline(settings, scorer)
    try:
        summary = pipeline.run(threading.Event())
    finally:
        pipeline.close()
    assert summary.skipped == {"over_budget:parse": 1}
    assert summary.flagged["unreadable"] == 1 and summary.flagged["threat"] == 1
    flags = {f.rev_id: f for f in pipeline.store.iter_flags()}
    assert set(flags) == {1000, 1001}
    assert flags[1000].categories == ("unreadable",)
    assert flags[1000].rule_ids == ("over_budget:parse",)
    assert "threat" in flags[1001].categories


def test_an_edit_over_the_size_budget_is_flagged_unscored(tmp_path, make_settings, scorer):
    borderline = "You are being rather silly about this, frankly. " * 1_500  # 72,000 characters
    lines = [rc_event(0, borderline), rc_event(1, "fine")]
    settings = make_settings(
        source={"type": "replay", "path": write_replay(tmp_path / "r.jsonl", lines)}
    )
    pipeline = make_pipeline(settings, scorer)
    asked: list[int] = []
    real = pipeline.scorer.verdicts
    pipeline.scorer.verdicts = lambda items: asked.append(len(items)) or real(items)
    try:
        summary = pipeline.run(threading.Event())
    finally:
        pipeline.close()
    assert summary.skipped == {"over_budget:size": 1} and summary.flagged["unreadable"] == 1
    assert sum(asked) == 1  # only the small edit reached the model
    (flag,) = pipeline.store.iter_flags()
    assert flag.rev_id == 1000 and flag.categories == ("unreadable",)


def test_budget_settings_are_validated(tmp_path):
    from flagbot.errors import ConfigError
    from flagbot.settings_file import load_settings
    from tests.test_config import GOOD, write

    assert load_settings(write(tmp_path, GOOD)).budget == BudgetSettings()
    changed = load_settings(write(tmp_path, GOOD + "budget: {seconds: 2, chars: 1000}\n"))
    assert changed.budget == BudgetSettings(seconds=2, chars=1000)
    for bad, message in (
        ("budget: {seconds: 0}", "budget.seconds: expected a positive number"),
        ("budget: {chars: -1}", "budget.chars: expected a whole number"),
        ("budget: {minutes: 1}", "budget.minutes: unknown key"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_settings(write(tmp_path, GOOD + bad + "\n"))
