"""Retrain talk-lr-v1 with the de-biasing sentences of Dixon et al. (2018) as extra non-toxic
rows, for each weight given, and print dev and bias figures (docs/model.md, issue 16 part 3).

    python scripts/debias_experiment.py 0 0.05 0.1 0.5 [--debias PATH/debias.tsv]

Only the data's train portion is trained on; its dev portion is measured; its test portion is
not in this repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from flagbot.evaluation import bias_metrics
from flagbot.training import build_model, load_labels, threshold_for_precision

ROOT = Path(__file__).resolve().parent.parent


def recall_at_precision(labels: np.ndarray, scores: np.ndarray, precision: float = 0.9) -> float:
    from sklearn.metrics import precision_recall_curve

    p, r, _ = precision_recall_curve(labels, scores)
    ok = r[p >= precision]
    return float(ok.max()) if len(ok) else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", nargs="+", type=float)
    parser.add_argument(
        "--debias", default=str(ROOT.parent / "shared" / "data" / "wiki-debias" / "debias.tsv")
    )
    args = parser.parse_args(argv)
    csv.field_size_limit(sys.maxsize)
    with open(args.debias, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    debias = {
        split: [r["comment"] for r in rows if r["split"] == split] for split in ("train", "dev")
    }
    train = load_labels([ROOT / "training_data" / "train.csv"])
    dev = load_labels([ROOT / "training_data" / "dev.csv"])
    for weight in args.weights:
        started = time.time()
        extra = debias["train"] if weight else []
        texts = train.texts + extra
        labels = np.concatenate([train.labels, np.zeros(len(extra), dtype=np.int8)])
        weights = np.concatenate([np.ones(len(train.texts)), np.full(len(extra), weight)])
        model = build_model().fit(texts, labels, classifier__sample_weight=weights)
        scores = model.predict_proba(dev.texts)[:, 1]
        threshold = threshold_for_precision(dev.labels, scores, 0.9)
        bias = bias_metrics(dev.texts, dev.labels, scores)["any_identity"]
        harmless = model.predict_proba(debias["dev"])[:, 1]
        toxic = scores[dev.labels == 1]
        both = np.r_[np.ones(len(toxic)), np.zeros(len(harmless))]
        print(
            json.dumps(
                {
                    "weight": weight,
                    "roc_auc": round(float(roc_auc_score(dev.labels, scores)), 4),
                    "recall_at_p90": round(recall_at_precision(dev.labels, scores), 3),
                    "identity_subgroup_bpsn_bnsp": [
                        bias["subgroup_auc"],
                        bias["bpsn_auc"],
                        bias["bnsp_auc"],
                    ],
                    "debias_dev_flagged": round(float((harmless >= threshold).mean()), 4),
                    "toxic_vs_debias_dev_auc": round(
                        float(roc_auc_score(both, np.r_[toxic, harmless])), 4
                    ),
                    "seconds": round(time.time() - started),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
