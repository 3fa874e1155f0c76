"""Judge a model on labelled comments: metrics, identity-term bias, plots and a readable report.

Used by scripts/evaluate.py, scripts/compare.py and `flagbot model promote`. The report never
contains comment text; misclassified examples go to a separate `examples.private.csv` next to it,
which .gitignore keeps out of the repository (it is abusive text).

Bias metrics follow Borkan et al. 2019 ("Nuanced metrics for measuring unintended bias", the
Jigsaw Unintended Bias competition): for the comments that mention an identity group,
subgroup AUC (only those comments), BPSN AUC (background positives + subgroup negatives: does
the model score harmless mentions of the group as abusive?) and BNSP AUC (background negatives +
subgroup positives: does it miss abuse that mentions the group?).
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from flagbot.classifier import Model
from flagbot.training import LabelledData, at_threshold, metrics, threshold_for_precision

# Identity terms by group, matched as whole words, case-insensitive. Deliberately plain
# words people use to describe themselves; the bias is in how the model treats them.
IDENTITY_TERMS: dict[str, tuple[str, ...]] = {
    "religion": (
        "christian",
        "christians",
        "catholic",
        "catholics",
        "protestant",
        "muslim",
        "muslims",
        "islam",
        "islamic",
        "jew",
        "jews",
        "jewish",
        "judaism",
        "hindu",
        "hindus",
        "hinduism",
        "buddhist",
        "buddhists",
        "sikh",
        "sikhs",
        "atheist",
        "atheists",
        "mormon",
        "mormons",
    ),
    "sexual_orientation": (
        "gay",
        "gays",
        "lesbian",
        "lesbians",
        "bisexual",
        "homosexual",
        "homosexuals",
        "heterosexual",
        "straight",
        "queer",
        "lgbt",
        "lgbtq",
    ),
    "gender_identity": (
        "transgender",
        "trans",
        "nonbinary",
        "non-binary",
        "woman",
        "women",
        "man",
        "men",
        "female",
        "male",
        "girl",
        "girls",
        "boy",
        "boys",
    ),
    "race_ethnicity": (
        "black",
        "blacks",
        "white",
        "whites",
        "asian",
        "asians",
        "african",
        "africans",
        "latino",
        "latinos",
        "latina",
        "hispanic",
        "hispanics",
        "arab",
        "arabs",
        "chinese",
        "mexican",
        "mexicans",
        "indian",
        "indians",
        "jewish",
        "roma",
        "native",
    ),
    "disability": ("disabled", "blind", "deaf", "autistic", "mentally ill"),
}
POWER = -5  # the competition's generalised mean: dominated by the worst subgroup


def identity_mask(texts: Sequence[str], terms: Sequence[str]) -> np.ndarray:
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, terms)) + r")\b", re.IGNORECASE)
    return np.array([bool(pattern.search(t)) for t in texts])


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    if len(set(labels.tolist())) < 2:
        return None  # undefined without both classes
    return round(float(roc_auc_score(labels, scores)), 4)


def bias_metrics(texts: Sequence[str], labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """Subgroup, BPSN and BNSP AUC per identity group and for any identity mention."""
    groups = {
        **IDENTITY_TERMS,
        "any_identity": tuple(t for g in IDENTITY_TERMS.values() for t in g),
    }
    rows: dict[str, Any] = {}
    for name, terms in groups.items():
        inside = identity_mask(texts, terms)
        positive = labels == 1
        bpsn = (~inside & positive) | (inside & ~positive)
        bnsp = (~inside & ~positive) | (inside & positive)
        rows[name] = {
            "comments": int(inside.sum()),
            "positives": int((inside & positive).sum()),
            "subgroup_auc": _auc(labels[inside], scores[inside]),
            "bpsn_auc": _auc(labels[bpsn], scores[bpsn]),
            "bnsp_auc": _auc(labels[bnsp], scores[bnsp]),
        }
    power_mean: dict[str, float | None] = {}
    for kind in ("subgroup_auc", "bpsn_auc", "bnsp_auc"):
        values = [r[kind] for n, r in rows.items() if n != "any_identity" and r[kind] is not None]
        power_mean[kind] = (
            round(float(np.mean(np.power(values, POWER)) ** (1 / POWER)), 4) if values else None
        )
    rows["power_mean"] = power_mean
    return rows


@dataclass(frozen=True)
class Evaluation:
    model: str
    threshold: float
    metrics: dict[str, Any]
    bias: dict[str, Any]
    recall_at_target: dict[str, float]
    comments_per_second: float
    scores: np.ndarray


def evaluate(
    model: Model, data: LabelledData, threshold: float | None = None, target: float = 0.90
) -> Evaluation:
    started = time.perf_counter()
    scores = np.asarray(model.score(data.texts))
    rate = len(data.texts) / max(time.perf_counter() - started, 1e-9)
    chosen = model.threshold if threshold is None else threshold
    best = threshold_for_precision(data.labels, scores, target)
    return Evaluation(
        model=model.name,
        threshold=chosen,
        metrics=metrics(data.labels, scores, chosen),
        bias=bias_metrics(data.texts, data.labels, scores),
        recall_at_target={
            "precision_target": target,
            "threshold": round(best, 6),
            "recall": at_threshold(data.labels, scores, best)["recall"],
        },
        comments_per_second=round(rate, 1),
        scores=scores,
    )


# --- report --------------------------------------------------------------------------------------
def _plots(result: Evaluation, labels: np.ndarray, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve

    scores = result.scores
    names = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        names.append(name)

    fig, ax = plt.subplots(figsize=(5, 4))
    fpr, tpr, _ = roc_curve(labels, scores)
    ax.plot(fpr, tpr, label=f"ROC AUC {result.metrics['roc_auc']:.3f}")
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    save(fig, "roc.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    precision, recall, _ = precision_recall_curve(labels, scores)
    ax.plot(recall, precision, label=f"PR AUC {result.metrics['pr_auc']:.3f}")
    at = result.metrics["at_threshold"]
    ax.plot([at["recall"]], [at["precision"]], "ro", label=f"threshold {result.threshold:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    ax.legend(loc="lower left")
    save(fig, "precision_recall.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    observed, predicted = calibration_curve(labels, scores, n_bins=10, strategy="quantile")
    ax.plot(predicted, observed, "o-", label="model")
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8, label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="fraction abusive", title="Calibration")
    ax.legend(loc="upper left")
    save(fig, "calibration.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    bins = [i / 40 for i in range(41)]
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="not abusive", log=True)
    ax.hist(scores[labels == 1], bins=bins, alpha=0.6, label="abusive", log=True)
    ax.axvline(result.threshold, color="r", linestyle="--", label="threshold")
    ax.set(xlabel="score", ylabel="comments (log)", title="Scores by label")
    ax.legend(loc="upper center")
    save(fig, "score_histogram.png")
    return names


def write_report(result: Evaluation, data: LabelledData, out_dir: str | Path) -> Path:
    """report.md + PNG plots in out_dir; misclassified texts in examples.private.csv only."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = data.labels
    plots = _plots(result, labels, out)
    flagged = result.scores >= result.threshold
    tp = int(np.sum(flagged & (labels == 1)))
    fp = int(np.sum(flagged & (labels == 0)))
    fn = int(np.sum(~flagged & (labels == 1)))
    tn = int(np.sum(~flagged & (labels == 0)))
    m, at = result.metrics, result.metrics["at_threshold"]
    sources = ", ".join(
        "`{}` ({} rows, sha256 {}…)".format(f["path"], f["rows"], f["sha256"][:12])
        for f in data.files
    )
    lines = [
        f"# Evaluation of `{result.model}`",
        "",
        f"Data: {sources}; {m['positives']} abusive of {m['rows']}. "
        f"Written {time.strftime('%Y-%m-%d')}.",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| ROC AUC | {m['roc_auc']:.4f} |",
        f"| PR AUC | {m['pr_auc']:.4f} |",
        f"| Brier score | {m['brier']:.4f} |",
        f"| threshold (from the model card unless given) | {result.threshold:.3f} |",
        f"| precision / recall / flag rate at it | {at['precision']:.3f} / {at['recall']:.3f} / "
        f"{at['flag_rate']:.3f} |",
        f"| highest recall at precision ≥ {result.recall_at_target['precision_target']:.2f} | "
        f"{result.recall_at_target['recall']:.3f} (threshold "
        f"{result.recall_at_target['threshold']:.3f}) |",
        f"| scoring speed (this run, model only) | {result.comments_per_second:,.0f} comments/s |",
        "",
        "## Confusion matrix at the threshold",
        "",
        "| | flagged | not flagged |",
        "|---|---:|---:|",
        f"| abusive | {tp} | {fn} |",
        f"| not abusive | {fp} | {tn} |",
        "",
        "## Identity-term bias",
        "",
        "Comments mentioning an identity term (lists in `flagbot/evaluation.py`). Subgroup AUC: "
        "only those comments; BPSN: harmless mentions against abuse elsewhere (low = harmless "
        "mentions look abusive); BNSP: abuse mentioning the group against harmless text "
        "elsewhere (low = such abuse is missed). Power mean p = −5 over the groups, as in the "
        "Jigsaw Unintended Bias competition. Blank: undefined (one class only).",
        "",
        "| group | comments | abusive | subgroup AUC | BPSN AUC | BNSP AUC |",
        "|---|---:|---:|---:|---:|---:|",
        f"| **overall** | {m['rows']} | {m['positives']} | {m['roc_auc']:.4f} | | |",
    ]

    def cell(value: float | None) -> str:
        return f"{value:.4f}" if value is not None else ""

    for name, row in result.bias.items():
        if name == "power_mean":
            continue
        lines.append(
            f"| {name} | {row['comments']} | {row['positives']} | {cell(row['subgroup_auc'])} | "
            f"{cell(row['bpsn_auc'])} | {cell(row['bnsp_auc'])} |"
        )
    pm = result.bias["power_mean"]
    lines.append(
        f"| power mean | | | {cell(pm['subgroup_auc'])} | {cell(pm['bpsn_auc'])} | "
        f"{cell(pm['bnsp_auc'])} |"
    )
    lines += ["", "## Threshold table", "", "| threshold | precision | recall | flag rate |"]
    lines.append("|---:|---:|---:|---:|")
    for row in m["threshold_table"]:
        lines.append(
            f"| {row['threshold']:.2f} | {row['precision']:.3f} | {row['recall']:.3f} | "
            f"{row['flag_rate']:.3f} |"
        )
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += [
        "",
        f"False positives and false negatives ({fp + fn}) are listed with their text in "
        "`examples.private.csv` next to this report. It is git-ignored: it holds abusive text.",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    order = np.argsort(-result.scores)
    with (out / "examples.private.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["kind", "score", "label", "text"])
        for i in order:
            if flagged[i] != bool(labels[i]):
                kind = "false_positive" if flagged[i] else "false_negative"
                writer.writerow([kind, f"{result.scores[i]:.4f}", int(labels[i]), data.texts[i]])
    return report


# --- compare and promote ---------------------------------------------------------------------
COMPARED = (
    ("ROC AUC", lambda e: e.metrics["roc_auc"]),
    ("PR AUC", lambda e: e.metrics["pr_auc"]),
    ("recall at precision 0.90", lambda e: e.recall_at_target["recall"]),
    ("identity BPSN AUC", lambda e: e.bias["any_identity"]["bpsn_auc"]),
    ("identity BPSN power mean", lambda e: e.bias["power_mean"]["bpsn_auc"]),
)


def comparison_table(results: Sequence[Evaluation]) -> str:
    """Models side by side on the same data, as a Markdown table."""
    header = "| metric | " + " | ".join(f"`{r.model}`" for r in results) + " |"
    lines = [header, "|---|" + "---:|" * len(results)]
    for label, get in COMPARED:
        values = [get(r) for r in results]
        lines.append(
            f"| {label} | " + " | ".join(f"{v:.4f}" if v is not None else "" for v in values) + " |"
        )
    lines.append(
        "| scoring, comments/s | "
        + " | ".join(f"{r.comments_per_second:,.0f}" for r in results)
        + " |"
    )
    return "\n".join(lines)


def worse_beyond(current: Evaluation, candidate: Evaluation, tolerance: float) -> list[str]:
    """Every metric where the candidate is worse than the current model by more than
    `tolerance`; empty means promotable."""
    problems = []
    for label, get in COMPARED:
        old, new = get(current), get(candidate)
        if old is not None and new is not None and new < old - tolerance:
            problems.append(f"{label}: {new:.4f} < {old:.4f} - {tolerance}")
    return problems
