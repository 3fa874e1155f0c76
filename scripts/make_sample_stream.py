#!/usr/bin/env python3
"""Build training_data/sample_stream.jsonl: recent-change events around real talk comments.

Each line is an EventStreams `mediawiki/recentchange` event with `added_text` taken from the
dev split of the Jigsaw data (real English Wikipedia talk comments, CC BY-SA 3.0), so the
embedded default runs offline. A few lines are deliberately not for flagbot (article edits, bot
edits, a log event, a canary) and a few are malformed, to show that they are counted and skipped.
Deterministic: the same seed gives the same file.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys

csv.field_size_limit(sys.maxsize)
TALK_TITLES = [
    "Talk:Climate change",
    "User talk:ExampleEditor",
    "Talk:Byzantine Empire",
    "User talk:Admin42",
    "Talk:List of rivers of Europe",
    "Wikipedia talk:Notability",
    "Talk:Albert Einstein",
    "User talk:NewUser2024",
]


def event(
    i: int,
    text: str,
    *,
    namespace: int,
    title: str,
    bot: bool = False,
    kind: str = "edit",
    domain: str = "en.wikipedia.org",
) -> dict:
    ts = 1_763_600_000 + 7 * i
    rev = 1_250_000_000 + i
    return {
        "$schema": "/mediawiki/recentchange/1.0.0",
        "meta": {
            "uri": f"https://en.wikipedia.org/wiki/{title.replace(' ', '_')}",
            "id": f"sample-{i:05d}",
            "dt": f"{ts}",
            "domain": domain,
            "stream": "mediawiki.recentchange",
            "topic": "eqiad.mediawiki.recentchange",
            "partition": 0,
            "offset": 9_000_000 + i,
        },
        "id": 1_800_000_000 + i,
        "type": kind,
        "namespace": namespace,
        "title": title,
        "comment": "/* Discussion */ reply" if kind == "edit" else "new section",
        "timestamp": ts,
        "user": f"Editor{i % 37}",
        "bot": bot,
        "minor": False,
        "length": {"old": 1000, "new": 1000 + len(text)},
        "revision": {"old": None if kind == "new" else rev - 1, "new": rev},
        "server_url": "https://en.wikipedia.org",
        "server_name": "en.wikipedia.org",
        "server_script_path": "/w",
        "wiki": "enwiki",
        "added_text": text,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dev", default="training_data/dev.csv")
    parser.add_argument("--out", default="training_data/sample_stream.jsonl")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.dev, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    toxic = [r for r in rows if r["toxic"] == "1" and len(r["comment_text"]) < 1500]
    clean = [r for r in rows if r["toxic"] == "0" and len(r["comment_text"]) < 1500]
    picked = rng.sample(toxic, args.count // 6) + rng.sample(clean, args.count - args.count // 6)
    rng.shuffle(picked)
    lines = []
    for i, row in enumerate(picked):
        namespace, title = rng.choice(
            [(1, t) for t in TALK_TITLES if t.startswith("Talk")]
            + [(3, t) for t in TALK_TITLES if t.startswith("User")]
            + [(5, "Wikipedia talk:Notability")]
        )
        kind = "new" if i % 23 == 0 else "edit"
        if i % 29 == 0:
            namespace, title = 0, "Byzantine Empire"  # an article edit: filtered
        lines.append(
            json.dumps(
                event(
                    i,
                    row["comment_text"],
                    namespace=namespace,
                    title=title,
                    bot=(i % 31 == 0),
                    kind=kind,
                )
            )
        )
    lines.insert(
        40,
        json.dumps(
            {**event(10_000, "", namespace=1, title="Talk:X"), "meta": {"domain": "canary"}}
        ),
    )
    lines.insert(80, '{"type": "edit", "this line is cut off')
    lines.insert(120, json.dumps(["not", "an", "object"]))
    lines.insert(
        160, json.dumps({**event(10_001, "x", namespace=1, title="Talk:Y"), "namespace": "one"})
    )
    lines.insert(200, "")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
