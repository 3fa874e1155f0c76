#!/usr/bin/env python3
"""Evaluate a flagbot model on labelled comments: a report directory a person can read.

Writes OUT/report.md (metrics, confusion matrix at the threshold, identity-term bias: subgroup,
BPSN and BNSP AUC, threshold table) and PNG plots (ROC, precision-recall with the threshold
marked, calibration, score histogram by label). Misclassified comments go to
OUT/examples.private.csv, which is git-ignored: it holds abusive text.

Example:
    python scripts/evaluate.py --model default --data training_data/dev.csv --out reports/dev
"""

from __future__ import annotations

import argparse
import sys

from flagbot.classifier import load_model
from flagbot.errors import FlagbotError
from flagbot.evaluation import evaluate, write_report
from flagbot.training import load_labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="default", help="model name, path, or default")
    parser.add_argument("--data", nargs="+", required=True, metavar="FILE", help="label files")
    parser.add_argument("--out", required=True, metavar="DIR", help="report directory")
    parser.add_argument(
        "--threshold", type=float, help="threshold to report at (default: the model card's)"
    )
    args = parser.parse_args(argv)
    try:
        model = load_model(args.model)
        data = load_labels(args.data)
        result = evaluate(model, data, args.threshold)
        report = write_report(result, data, args.out)
    except FlagbotError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2
    m = result.metrics
    print(
        f"{model.name}: ROC AUC {m['roc_auc']:.4f}, PR AUC {m['pr_auc']:.4f}, "
        f"recall {result.recall_at_target['recall']:.3f} at precision "
        f"{result.recall_at_target['precision_target']:.2f}, identity BPSN AUC "
        f"{result.bias['any_identity']['bpsn_auc']}; report: {report}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
