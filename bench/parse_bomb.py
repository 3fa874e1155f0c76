#!/usr/bin/env python3
"""A parse bomb beside a threat, run on demand (never in the test run).

    python bench/parse_bomb.py [--refs 20000] [--budget 5]

One talk-page edit of `--refs` unclosed `<ref>` tags and, in the same batch, a death threat on
another page, replayed through the pipeline with the shipped defaults. Prints how long
`wikitext.readable_text` takes on the bomb alone (what held the batch before the budget), and the
pipeline's time to store the batch (the threat's flag and the bomb's `unreadable` flag).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flagbot.alerts import make_enqueue  # noqa: E402
from flagbot.classifier import load_model  # noqa: E402
from flagbot.config import BudgetSettings, SourceSettings, embedded_default  # noqa: E402
from flagbot.pipeline import Pipeline, Scorer  # noqa: E402
from flagbot.rules import load_rules  # noqa: E402
from flagbot.store import Store  # noqa: E402
from flagbot.wiki import WikiClient  # noqa: E402
from flagbot.wikitext import readable_text  # noqa: E402
from tests.conftest import rc_event  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--refs", type=int, default=20_000)
    parser.add_argument("--budget", type=float, default=BudgetSettings().seconds)
    parser.add_argument("--skip-alone", action="store_true", help="do not time the bare parse")
    args = parser.parse_args()
    bomb = "<ref>" * args.refs + " and so it goes"
    alone = None
    if not args.skip_alone:
        started = time.monotonic()
        readable_text(bomb)
        alone = time.monotonic() - started
    root = Path(tempfile.mkdtemp(prefix="flagbot-bomb-"))
    replay = root / "r.jsonl"
    lines = [
        rc_event(0, bomb, title="Talk:Bomb"),
        rc_event(1, "I know where you live and I will kill you", title="Talk:Other"),
    ]
    replay.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    settings = dataclasses.replace(
        embedded_default(store=f"sqlite:///{root / 's.sqlite3'}"),
        source=SourceSettings(type="replay", path=str(replay)),
        budget=BudgetSettings(seconds=args.budget),
    )
    model = load_model("default")
    scorer = Scorer.build(settings, model, load_rules(settings.rules))
    store = Store(settings.store).open()
    pipeline = Pipeline(settings, store, scorer, make_enqueue(settings), WikiClient(settings))
    started = time.monotonic()
    summary = pipeline.run(threading.Event())
    batch = time.monotonic() - started
    pipeline.close()
    flags = {f.rev_id: f.categories for f in pipeline.store.iter_flags()}
    print(
        json.dumps(
            {
                "bomb_bytes": len(bomb),
                "readable_text_alone_s": None if alone is None else round(alone, 1),
                "batch_stored_s": round(batch, 2),
                "budget_s": args.budget,
                "skipped": dict(summary.skipped),
                "flags": {str(k): list(v) for k, v in flags.items()},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
