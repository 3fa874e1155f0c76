#!/usr/bin/env python3
"""The pattern detectors (flagbot.patterns) on a simulated wiki, run on demand:

    OMP_NUM_THREADS=1 python bench/patterns.py [--days 14] [--edits-per-day 20000]

Background activity follows the real recorded events (../shared/data/real-events/): each
simulated editor's share of the edits is drawn from the real per-user edit counts of the
Wikidata events (heavy-tailed: a few editors make most edits), and pages from a heavy-tailed
popularity. Talk-page conversations (one author replying to another a few times a week) carry
model scores drawn from the real scores of dev.csv's comments, so repeated targeting is tested
against ordinary disagreements. Patrollers follow everyone. Injected: hounding of varied
strength (followed pages) and repeated targeting of varied strength (borderline edits).

Everything goes through `Store.record_batch` with the real detectors, in batches, on SQLite.
Prints a Markdown section: precision and recall per detector and strength, false flags per day
scaled to English Wikipedia's rate, events/s, store growth per million events.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flagbot.classifier import load_model  # noqa: E402
from flagbot.config import embedded_default  # noqa: E402
from flagbot.events import RecentChange  # noqa: E402
from flagbot.patterns import build_detectors  # noqa: E402
from flagbot.scoring import decide  # noqa: E402
from flagbot.store import Outcome, Store  # noqa: E402

DAY, HOUR = 86400, 3600
START = 1_767_225_600
ENWIKI_EDITS_PER_DAY = 170_000  # about two a second, all namespaces (Wikimedia statistics)
REAL_EVENTS = ROOT.parent / "shared" / "data" / "real-events" / "events.jsonl"


def real_user_weights(path: Path) -> list[int]:
    """Edits per non-bot user in the real Wikidata events: the shape of editor activity."""
    counts: Counter[str] = Counter()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            event = json.loads(line)
            edit = event.get("wiki") == "wikidatawiki" and event.get("type") in ("edit", "new")
            if edit and not event.get("bot"):
                counts[event["user"]] += 1
    return sorted(counts.values())


def dev_scores() -> list[float]:
    """The model's scores of dev.csv's non-abusive comments: ordinary talk-page remarks."""
    with open(ROOT / "training_data" / "dev.csv", newline="", encoding="utf-8") as handle:
        texts = [r["comment_text"] for r in csv.DictReader(handle) if r["toxic"] == "0"]
    return load_model("default").score(texts)


def change(rev: int, user: str, title: str, when: int, namespace: int = 0) -> RecentChange:
    return RecentChange(
        wiki="enwiki",
        server_url="https://en.wikipedia.org",
        script_path="/w",
        namespace=namespace,
        title=title,
        user=user,
        bot=False,
        type="edit",
        old_rev=rev - 1,
        new_rev=rev,
        timestamp=when,
        comment="",
    )


def simulate(args: argparse.Namespace, rng: random.Random) -> tuple[list, dict, dict]:
    """Events in time order: (change, score or None, targets); and the injected truth."""
    weights = real_user_weights(Path(args.events))
    editors = [f"Editor{i}" for i in range(args.editors)]
    activity = [rng.choice(weights) * rng.uniform(0.5, 1.5) for _ in editors]
    pages = [f"Article {i}" for i in range(args.pages)]
    popularity = [1 / (i + 1) ** 0.9 for i in range(len(pages))]
    total = args.days * args.edits_per_day
    events = []
    rev = 10_000_000
    for user, page in zip(
        rng.choices(editors, activity, k=total),
        rng.choices(pages, popularity, k=total),
        strict=True,
    ):
        rev += 1
        when = START + rng.randrange(args.days * DAY)
        events.append((change(rev, user, page, when), None, ()))
    # patrollers: every few minutes, a page someone just edited
    recent = sorted(events, key=lambda e: e[0].timestamp)
    for p in range(args.patrollers):
        for e, _s, _t in rng.sample(recent, min(len(recent), args.patrols * args.days)):
            rev += 1
            when = e.timestamp + rng.randrange(60, 2 * HOUR)
            events.append((change(rev, f"Patroller{p}", e.title, when), None, ()))
    # ordinary talk-page conversations: replies to one person, scored like real comments
    scores = dev_scores()
    for _ in range(args.conversations):
        author, target = rng.sample(editors, 2)
        start = START + rng.randrange(args.days * DAY)
        for _reply in range(rng.randint(1, 8)):
            rev += 1
            when = start + rng.randrange(3 * DAY)
            c = change(rev, author, f"User talk:{target}", when, namespace=3)
            events.append((c, rng.choice(scores), (target,)))
    truth: dict[str, dict[tuple[str, str], int]] = {
        "hounding": {},
        "waiting": {},
        "repeat": {},
        "framed": {},  # victim → framer: must never be flagged
    }
    followers = (  # group, name, strengths, spacing of L's edits (h), follow gap (s)
        ("hounding", "Follower", [3, 5, 8, 12], 20, (10 * 60, 20 * HOUR)),
        ("waiting", "Waiter", [6, 10, 14, 20], 10, (25 * HOUR, 72 * HOUR)),  # a day or more
    )
    for group, name, strengths, spacing, (low, high) in followers:
        for n in range(args.injected):
            follower, followed = f"{name}{n}", rng.choice(editors[:200])
            strength = strengths[n % 4]
            truth[group][(follower, followed)] = strength
            start = START + rng.randrange((args.days - 8) * DAY)
            for k in range(strength):
                led = start + k * rng.randrange(2 * HOUR, spacing * HOUR)
                page = f"{name} victim{n} page {k}"
                rev += 1
                events.append((change(rev, followed, page, led), None, ()))
                rev += 1
                events.append(
                    (change(rev, follower, page, led + rng.randrange(low, high)), None, ())
                )
            for _ in range(rng.randint(5, 40)):  # and their own ordinary editing
                rev += 1
                page = rng.choices(pages, popularity)[0]
                when = START + rng.randrange(args.days * DAY)
                events.append((change(rev, follower, page, when), None, ()))
    for n in range(args.injected):  # framing: ping a victim on quiet pages, who answers each
        framer, victim = f"Framer{n}", rng.choice(editors[:200])
        truth["framed"][(victim, framer)] = 8
        start = START + rng.randrange((args.days - 4) * DAY)
        for k in range(8):
            at = start + k * rng.randrange(2 * HOUR, 10 * HOUR)
            page = f"Talk:Framed{n} page {k}"
            rev += 1
            events.append((change(rev, framer, page, at, 1), 0.05, (victim,)))
            rev += 1
            answer = at + rng.randrange(10 * 60, 6 * HOUR)
            events.append((change(rev, victim, page, answer, 1), 0.02, (framer,)))
    for n in range(args.injected):  # repeated targeting of varied strength
        author, target = f"Needler{n}", rng.choice(editors[:200])
        strength = [1, 2, 3, 5][n % 4]
        truth["repeat"][(author, target)] = strength
        start = START + rng.randrange((args.days - 7) * DAY)
        for _ in range(strength):
            rev += 1
            c = change(rev, author, f"User talk:{target}", start + rng.randrange(6 * DAY), 3)
            events.append((c, rng.uniform(0.25, 0.75), (target,)))
    events.sort(key=lambda e: e[0].timestamp)
    return events, truth, {"background edits": total}


def run(events: list, store: Store, detectors: tuple, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        outcomes = [
            Outcome(c, "scored", decide(score, [], {}), None, targets)
            for c, score, targets in chunk
            if score is not None
        ]
        store.record_batch("bench", outcomes, None, None, detectors, [c for c, _s, _t in chunk])
    return len(events) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default=str(REAL_EVENTS), help="the real recorded events")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--edits-per-day", type=int, default=20_000)
    parser.add_argument("--editors", type=int, default=5_000)
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--patrollers", type=int, default=5)
    parser.add_argument("--patrols", type=int, default=300, help="pages a patroller edits a day")
    parser.add_argument("--conversations", type=int, default=4_000)
    parser.add_argument("--injected", type=int, default=40)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--long-hours", type=float, default=None, help="hounding.long_hours")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    events, truth, info = simulate(args, rng)
    settings = embedded_default()
    if args.long_hours is not None:  # e.g. 0: the near window alone, as before issue 27
        hounding = dataclasses.replace(settings.hounding, long_hours=args.long_hours)
        settings = dataclasses.replace(settings, hounding=hounding)
    detectors = build_detectors(settings, load_model("default").card)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        store = Store(f"sqlite:///{path}").open()
        rate = run(events, store, detectors, args.batch)
        details = store.pattern_details()
        size = path.stat().st_size + sum(p.stat().st_size for p in Path(tmp).glob("*-wal"))
        store.close()
    found = {(d["pattern"], d["user"], d["target"]) for d in details.values()}
    print(f"## {time.strftime('%Y-%m-%d')}: pattern detectors on a simulated wiki\n")
    print(
        f"{len(events):,} events over {args.days} days ({info['background edits']:,} background "
        f"edits by {args.editors:,} editors, activity shaped like the real Wikidata events; "
        f"{args.patrollers} patrollers; {args.conversations:,} talk conversations scored like "
        f"dev.csv's ordinary comments; {args.injected} injected pairs per detector). "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')}, SQLite.\n"
    )
    print("| detector | strength | injected | flagged |\n|---|---|---:|---:|")
    for group, pattern, needed in (
        ("hounding", "hounding", 5),
        ("waiting", "hounding", 10),
        ("repeat", "repeat", 3),
    ):
        by_strength: dict[int, list[bool]] = {}
        for (user, target), strength in truth[group].items():
            by_strength.setdefault(strength, []).append((pattern, user, target) in found)
        for strength, hits in sorted(by_strength.items()):
            label = {"repeat": "borderline edits", "waiting": "pages, 25–72 h later"}.get(
                group, "followed pages"
            )
            print(f"| {group} | {strength} {label} | {len(hits)} | {sum(hits)} |")
        # the other group's injected pairs are not this group's false flags; framed victims are
        injected = {k for g in ("hounding", "waiting") for k in truth[g]}
        flagged = {
            (u, t)
            for p, u, t in found
            if p == pattern
            and (group == "repeat" or (u, t) in truth[group] or (u, t) not in injected)
        }
        should = {k for k, s in truth[group].items() if s >= needed}
        true_pos = len(flagged & should)
        precision = true_pos / len(flagged) if flagged else 1.0
        recall = true_pos / len(should) if should else 1.0
        false_flags = len(flagged - set(truth[group]))
        kinds = Counter(
            f"{u.rstrip('0123456789')}→{t.rstrip('0123456789')}"
            for u, t in flagged - set(truth[group])
        )
        if kinds:
            print(f"| {group} | uninjected flags by kind | {dict(kinds)} | |")
        per_day = false_flags / args.days * ENWIKI_EDITS_PER_DAY / args.edits_per_day
        print(
            f"| **{group}** | at or over the default ({needed}) | precision {precision:.2f} | "
            f"recall {recall:.2f}; {false_flags} uninjected flags, ≈ {per_day:.1f}/day at "
            f"English Wikipedia's rate |"
        )
    framed = sum(("hounding", v, f) in found for v, f in truth["framed"])
    print(
        f"| framing | victims flagged for answering 8 pings | {len(truth['framed'])} | {framed} |"
    )
    print(
        f"\nThroughput: {rate:,.0f} events/s (activity recorder and both detectors, batches of "
        f"{args.batch}); store: {size / len(events) * 1e6 / 2**20:,.0f} MB per million events."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
