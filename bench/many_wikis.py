#!/usr/bin/env python3
"""Every Wikimedia wiki from one config (`wikis: all`): replay throughput and RSS with the
site matrix's ~900 wikis configured, against one wiki; prints a Markdown section.

    OMP_NUM_THREADS=1 python bench/many_wikis.py [--events 20000]

The events are spread over the configured wikis (each with its own server URL), added_text
given, fast model alone (as `bench/benchmarks.py`'s first row) so the wiki bookkeeping is not
hidden behind the cascade's slow stage. RSS is the peak of `flagbot replay --offline` with
`wikis: all` on the same events, the cascade loaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench.benchmarks import comments, peak_rss_mb  # noqa: E402
from flagbot.alerts import make_enqueue  # noqa: E402
from flagbot.classifier import load_model  # noqa: E402
from flagbot.config import SourceSettings, WikiSettings, embedded_default  # noqa: E402
from flagbot.pipeline import Pipeline, Scorer  # noqa: E402
from flagbot.rules import load_rules  # noqa: E402
from flagbot.sitematrix import SNAPSHOT, load_matrix, resolve  # noqa: E402
from flagbot.store import Store  # noqa: E402
from flagbot.wiki import WikiClient  # noqa: E402


def events(texts: list[str], wikis: tuple[WikiSettings, ...], n: int, path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            wiki = wikis[i % len(wikis)]
            event = {
                "type": "edit",
                "namespace": 1 + 2 * (i % 3),
                "title": f"Talk:T{i % 97}",
                "user": f"U{i % 50}",
                "bot": False,
                "timestamp": 1_767_225_600 + i,
                "comment": "reply",
                "revision": {"old": i, "new": i + 1},
                "server_url": wiki.url,
                "server_script_path": "/w",
                "wiki": wiki.id,
                "added_text": texts[i % len(texts)],
            }
            f.write(json.dumps(event) + "\n")


def replay_rate(texts: list[str], wikis: tuple[WikiSettings, ...], n: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        events(texts, wikis, n, path)
        settings = dataclasses.replace(
            embedded_default(store=f"sqlite:///{tmp}/bench.sqlite3"),
            wikis=wikis,
            source=SourceSettings(type="replay", path=str(path)),
        )
        settings = dataclasses.replace(
            settings, alerts=dataclasses.replace(settings.alerts, outbox=f"{tmp}/out")
        )
        store = Store(settings.store).open()
        other = load_model(settings.language_model)
        scorer = Scorer.build(
            settings, load_model("default", False), load_rules(settings.rules), other
        )
        pipeline = Pipeline(settings, store, scorer, make_enqueue(settings), WikiClient(settings))
        started = time.perf_counter()
        summary = pipeline.run(threading.Event())
        seconds = time.perf_counter() - started
        flagged_wikis = len({f.wiki for f in store.iter_flags()})
        pipeline.close()
        store.close()
        assert summary.read == n, summary
        return n / seconds, flagged_wikis


def peak_rss(texts: list[str], wikis: tuple[WikiSettings, ...], n: int, selection: str) -> float:
    """Peak RSS (VmHWM, MB) of `flagbot replay --offline` with `wikis: <selection>`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        events(texts, wikis, n, path)
        config = Path(tmp) / "flagbot.yaml"
        listed = selection if selection == "all" else [{"id": w.id, "url": w.url} for w in wikis]
        config.write_text(
            json.dumps(
                {
                    "user_agent_contact": "benchmark",
                    "wikis": listed,
                    "source": {"type": "replay", "path": str(path)},
                    "alerts": {"recipients": {"oversight": ["dryrun:o"]}},
                }
            )
        )
        command = [sys.executable, "-m", "flagbot.cli", "replay", str(path), "--config",
                   str(config), "--offline"]  # fmt: skip
        return peak_rss_mb(command, tmp)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    dev = comments(str(ROOT / "training_data" / "dev.csv"))
    every = resolve("all", load_matrix(SNAPSHOT))
    one = tuple(w for w in every if w.id == "enwiki")
    single, _ = replay_rate(dev, one, args.events)
    many, flagged_wikis = replay_rate(dev, every, args.events)
    rss_one = peak_rss(dev, one, 2000, "list")
    rss_all = peak_rss(dev, every, 2000, "all")
    print(f"## {time.strftime('%Y-%m-%d')}: every wiki from one config ({len(every)} wikis)\n")
    print("| measure | one wiki (enwiki) | `wikis: all` | target |")
    print("|---|---:|---:|---|")
    print(
        f"| replay, fast model + language model, {args.events} events, added_text given "
        f"| {single:,.0f} events/s | {many:,.0f} events/s "
        "| no slower than one wiki by more than 10 % |"
    )
    print(f"| peak RSS of `flagbot replay --offline` (cascade), 2,000 events | {rss_one:,.0f} MB "
          f"| {rss_all:,.0f} MB | ≤ 600 MB, no per-wiki model copies |")  # fmt: skip
    print(f"\nFlags landed on {flagged_wikis} different wikis, each linking to its own server.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
