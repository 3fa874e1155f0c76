#!/usr/bin/env python3
"""What-an-edit-added on big talk pages, run on demand (never in the test run).

    taskset -c 0 .venv/bin/python bench/diff_bench.py [--lines 1000 5000 20000]

Pages are built from real talk comments (training_data/dev.csv) laid out as a talk page is:
sections, indented replies with signatures, blank lines. Three edits per size:
- rewrite: every comment reworded (a few words changed in each line), as a page refactor does
- insertion: 40 new comments in the middle of the page
- moved section: the first third of the page moved to the end (nothing new)
Target (issue 11): the 5,000-line rewrite in <= 0.2 s on one core.
"""

from __future__ import annotations

import argparse
import csv
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flagbot.diffs import added_wikitext  # noqa: E402

csv.field_size_limit(sys.maxsize)


def comments() -> list[str]:
    with (ROOT / "training_data" / "dev.csv").open(newline="", encoding="utf-8") as f:
        return [" ".join(r["comment_text"].split())[:400] for r in csv.DictReader(f)]


def page(lines: int, texts: list[str], rng: random.Random) -> list[str]:
    out: list[str] = []
    while len(out) < lines:
        if len(out) % 40 == 0:
            out += [f"== Section {len(out)} ==", ""]
        depth = ":" * rng.randrange(0, 5)
        user = f"User{rng.randrange(300)}"
        out.append(
            f"{depth}{rng.choice(texts)} [[User:{user}|{user}]] ([[User talk:{user}|talk]]) "
            f"{rng.randrange(1, 28):02d}:{rng.randrange(60):02d}, 3 May 2020 (UTC)"
        )
        if rng.random() < 0.3:
            out.append("")
    return out[:lines]


def reword(line: str, rng: random.Random) -> str:
    words = line.split(" ")
    for _ in range(max(1, len(words) // 10)):
        words[rng.randrange(len(words))] = rng.choice(["indeed", "however", "clearly", "also"])
    return " ".join(words)


def edits(old: list[str], texts: list[str], rng: random.Random) -> dict[str, list[str]]:
    middle = len(old) // 2
    third = len(old) // 3
    return {
        "rewrite": [reword(line, rng) if line else line for line in old],
        "insertion": old[:middle] + page(40, texts, rng) + old[middle:],
        "moved section": old[third:] + old[:third],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = comments()
    machine = platform.processor() or platform.machine()
    print(f"diff benchmark, {machine}, Python {platform.python_version()}")
    print(f"| page | edit | CPU seconds (best of {args.repeat}) | added chars |")
    print("|---|---|---|---|")
    for lines in args.lines:
        rng = random.Random(lines)
        old = page(lines, texts, rng)
        for name, new in edits(old, texts, rng).items():
            old_text, new_text = "\n".join(old), "\n".join(new)
            best = float("inf")
            for _ in range(args.repeat):
                started = time.process_time()
                added = added_wikitext(old_text, new_text)
                best = min(best, time.process_time() - started)
            print(f"| {lines:,} lines | {name} | {best:.3f} | {len(added):,} |")


if __name__ == "__main__":
    main()
