#!/usr/bin/env python3
"""Export reviewers' decisions from the flagbot store as a label file for scripts/train.py.

One row per reviewed flag (its latest decision) whose text is still stored: `confirm`,
`handled` and `oversight` become label 1, `false_positive` label 0. Columns: text, label,
category (the flag's categories), source (review:WIKI:REV). Purged text is never exported.
The file holds abusive text: keep it out of public places.

Example:
    python scripts/export_labels.py --store sqlite:///flagbot.sqlite3 --out labels-review.csv
"""

from __future__ import annotations

import argparse
import sys

from flagbot.errors import FlagbotError
from flagbot.store import Store
from flagbot.training import export_labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", required=True, metavar="URL", help="the store's URL")
    parser.add_argument("--out", required=True, metavar="FILE.csv")
    args = parser.parse_args(argv)
    try:
        store = Store(args.store).open()
        try:
            counts = export_labels(store, args.out)
        finally:
            store.close()
    except FlagbotError as exc:
        print(f"export_labels: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {counts['rows']} labels to {args.out} ({counts['positive']} abusive, "
        f"{counts['negative']} not); skipped {counts['purged']} purged, "
        f"{counts['undecided']} without a usable decision, {counts['names']} flagged for a page "
        "title or user name"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
