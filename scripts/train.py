#!/usr/bin/env python3
"""Train a flagbot model: label files → classifiers/NAME.skops + NAME.json (its card).

Example:
    python scripts/train.py --train training_data/train.csv --dev training_data/dev.csv \
        --name talk-lr-v1
"""

from __future__ import annotations

import argparse
import sys

from flagbot.errors import FlagbotError
from flagbot.training import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train",
        nargs="+",
        required=True,
        metavar="FILE",
        help="label files to fit on (CSV: text,label[,category][,source])",
    )
    parser.add_argument(
        "--dev",
        nargs="+",
        required=True,
        metavar="FILE",
        help="label files to choose the threshold and report metrics on",
    )
    parser.add_argument("--name", required=True, help="model name (file stem)")
    parser.add_argument("--out-dir", default="classifiers", help="where to write (classifiers)")
    parser.add_argument(
        "--precision-target",
        type=float,
        default=0.90,
        help="threshold = highest recall with dev precision >= this (0.90)",
    )
    parser.add_argument(
        "--C",
        type=float,
        default=4.0,
        dest="c",
        help="inverse regularisation strength of the regression (4.0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    args = parser.parse_args(argv)
    show = sys.stderr.isatty()

    def progress(message: str) -> None:
        if show:
            print(f"train: {message}", file=sys.stderr, flush=True)

    try:
        card = train(
            args.train,
            args.dev,
            args.name,
            args.out_dir,
            args.precision_target,
            args.c,
            args.seed,
            progress,
        )
    except FlagbotError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    dev = card["metrics"]["dev"]
    point = dev["at_threshold"]
    print(
        f"{card['name']}: dev ROC AUC {dev['roc_auc']}, PR AUC {dev['pr_auc']}; threshold "
        f"{point['threshold']}: precision {point['precision']}, recall {point['recall']}, "
        f"flag rate {point['flag_rate']}; trained in {card['training_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
