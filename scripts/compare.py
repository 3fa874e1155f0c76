#!/usr/bin/env python3
"""Compare flagbot models side by side on the same labelled data (a Markdown table).

Example:
    python scripts/compare.py talk-lr-v1 my-model --data training_data/dev.csv
"""

from __future__ import annotations

import argparse
import sys

from flagbot.classifier import load_model
from flagbot.errors import FlagbotError
from flagbot.evaluation import comparison_table, evaluate
from flagbot.training import load_labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", metavar="MODEL", help="model names or paths")
    parser.add_argument("--data", nargs="+", required=True, metavar="FILE", help="label files")
    args = parser.parse_args(argv)
    try:
        data = load_labels(args.data)
        results = [evaluate(load_model(name), data) for name in args.models]
    except FlagbotError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    print(comparison_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
