"""The model cascade: the fast TF-IDF model scores every text; the few it puts in the uncertain
band at the top are scored again by a fine-tuned small transformer (MiniLM, int8 ONNX), and the
verdict uses the two combined.

Why a cascade: the transformer finds more abuse at the same precision (docs/model.md) but scores
~65 comments a second on one core, the fast model thousands. Texts below the band (more than nine in
ten of the training comments, more of a real wiki's) keep the fast score: they are far from any
alert threshold. In the band, the score is the mean of the two models' log-odds — both are
probabilities, and neither is trusted over the other.

The slow stage's arithmetic is float (scripts/float_slow_stage.py): the file keeps int8
weights, folded into float matrices at load. Dynamic int8 products take different integer paths
on AVX2 and AVX-512 VNNI CPUs and moved scores by up to 0.02, so the same edit could be flagged
on one machine and not on another; float products differ by rounding noise only.

A cascade is a card (`NAME.json` with `"kind": "cascade"`) naming its fast model (checked by
sha256 like any model), the ONNX file and the tokenizer (checked by sha256 too), the band, the
threshold and a few check texts with their slow-stage scores, re-scored at every load: a
tokenizer or runtime that reads text differently is refused, not trusted. It loads as a
`flagbot.modelcard.Model` whose estimator is a `CascadeEstimator`, so everything that scores
(pipeline, `flagbot score`, scripts/evaluate.py, `model promote`) uses it unchanged.
`cascade: false` in flagbot.yaml loads the fast model alone, with its own card.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flagbot.errors import ModelError
from flagbot.modelcard import Model, check_probability, sha256_file

log = logging.getLogger(__name__)
CASCADE_KIND = "cascade"
WINDOW_OVERLAP = 32  # tokens shared by consecutive windows of a long text
MAX_POSITIONS = 512  # MiniLM's position table: no window can be longer
# how far a check text's slow score may move before the load is refused: CPU-to-CPU rounding
# noise of float products is ~1e-6; a changed tokenizer or runtime moves scores by 0.1 and more
CHECK_TOLERANCE = 0.005


def combine(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """The mean of the two probabilities' log-odds, as a probability."""
    fast, slow = np.clip(fast, 1e-6, 1 - 1e-6), np.clip(slow, 1e-6, 1 - 1e-6)
    log_odds = (np.log(fast / (1 - fast)) + np.log(slow / (1 - slow))) / 2
    return np.asarray(1 / (1 + np.exp(-log_odds)))


class SlowStage:
    """The transformer: `tokenizers` for the tokenizer, `onnxruntime` for the network, one
    thread (the bot's other work needs the other core)."""

    def __init__(self, model: Path, tokenizer: Path, max_tokens: int):
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        # a longer text is read in overlapping windows (`overflowing`), each scored
        self.tokenizer.enable_truncation(max_tokens, stride=WINDOW_OVERLAP)
        self.tokenizer.no_padding()  # the shipped tokenizer.json pads every text to 128 tokens
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3  # its warnings are about graph rewriting, not our input
        # fold the int8 weights into float matrices once; left alone, onnxruntime fuses them
        # back into CPU-dependent integer products
        options.add_session_config_entry("session.disable_quant_qdq", "1")
        self.session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(abusive) per text: the highest of its windows' scores. The network reads
        `max_tokens` tokens; scoring only a long text's start would let 128 tokens of
        pleasantries hide an insult from it — and pull the combined score below the fast
        model's own. One window per run: in a batch every window is padded to the longest,
        which on talk-page-sized batches cost more than batching saved (31 texts/s in
        length-sorted batches of 32, 80 one by one), and dynamic int8 quantisation scales a
        run's activations together, so a score would depend on its neighbours (by up to 0.02)
        with an integer model."""
        logits = np.zeros(len(texts))
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            best = -np.inf
            for window in (encoding, *encoding.overflowing):
                ids = np.asarray([window.ids], dtype=np.int64)
                feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
                best = max(best, float(self.session.run(None, feed)[0][0]))
            logits[i] = best
        return np.asarray(1 / (1 + np.exp(-logits)))


class CascadeEstimator:
    """predict_proba like a scikit-learn classifier: the fast model's probability, combined
    with the slow stage's for texts at or above `low`."""

    def __init__(self, fast: Any, slow: SlowStage, low: float):
        self.fast, self.slow, self.low = fast, slow, low

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        score = np.asarray(self.fast.predict_proba(texts)[:, 1], dtype=np.float64)
        band = np.flatnonzero(score >= self.low)
        if len(band):
            slow = self.slow.score([texts[i] for i in band])
            score[band] = combine(score[band], slow)
        return np.column_stack([1 - score, score])


def _warn_on_other_versions(card_path: Path, card: dict[str, Any]) -> None:
    """onnxruntime and tokenizers other than the card's: said, not refused (pip takes the
    newest release of each); the check texts decide whether they still read text alike."""
    import onnxruntime
    import tokenizers

    versions = card.get("versions", {})
    for name, installed in (
        ("onnxruntime", onnxruntime.__version__),
        ("tokenizers", tokenizers.__version__),
    ):
        if versions.get(name) and versions.get(name) != installed:
            log.warning(
                "%s: built with %s %s, %s installed; its check texts still match",
                card_path.name,
                name,
                versions.get(name),
                installed,
            )


def check_slow_stage(card_path: Path, card: dict[str, Any], slow: SlowStage) -> None:
    """Re-score the card's check texts; a score that moved more than CHECK_TOLERANCE means the
    tokenizer, the runtime or the network reads text differently from when the card was made."""
    check = card.get("check")
    texts = check.get("texts") if isinstance(check, dict) else None
    expected = check.get("slow_scores") if isinstance(check, dict) else None
    if (
        not isinstance(texts, list)
        or not isinstance(expected, list)
        or not texts
        or len(texts) != len(expected)
        or not all(isinstance(t, str) for t in texts)
        or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in expected)
    ):
        raise ModelError(
            f"{card_path}: the card has no check texts with their slow scores (check.texts, "
            "check.slow_scores); rebuild it with scripts/train_transformer.py --cascade"
        )
    scores = slow.score(texts)
    drift = np.abs(scores - np.asarray(expected, dtype=np.float64))
    worst = int(np.argmax(drift))
    if not drift[worst] <= CHECK_TOLERANCE:  # NaN too
        versions = card.get("versions", {})
        raise ModelError(
            f"{card_path}: the slow stage no longer reproduces its card: check text "
            f"{worst + 1} scores {scores[worst]:.4f}, the card says {expected[worst]:.4f} "
            f"(tolerance {CHECK_TOLERANCE}). Was the tokenizer, onnxruntime "
            f"({versions.get('onnxruntime')} on the card) or tokenizers "
            f"({versions.get('tokenizers')}) changed? Restore them, rebuild the card, or set "
            "`cascade: false`"
        )
    log.debug("cascade %s: %d check texts within %.4f", card_path.stem, len(texts), drift.max())


def load_cascade(
    card_path: Path, card: dict[str, Any], slow_stage: bool, load_fast: Callable[[str], Model]
) -> Model:
    """The cascade a card describes, every file checked against its sha256; with `slow_stage`
    false, its fast model alone (with the fast model's own card and threshold)."""
    directory = card_path.parent

    def part(section: str, key: str) -> Any:
        value = card.get(section, {}).get(key) if isinstance(card.get(section), dict) else None
        if value is None:
            raise ModelError(f"{card_path}: the cascade card has no {section}.{key}")
        return value

    fast_name, fast_sha = part("fast", "model"), part("fast", "sha256")
    if not isinstance(fast_name, str) or fast_name == card_path.stem:
        raise ModelError(f"{card_path}: fast.model must name another model, not the cascade")
    fast = load_fast(str(directory / f"{fast_name}.skops"))
    if fast.card["sha256"] != fast_sha:
        raise ModelError(
            f"{card_path}: its fast model {fast_name} is not the one it was built with "
            f"(sha256 {fast.card['sha256']}, the cascade expects {fast_sha}); rebuild the "
            "cascade (scripts/train_transformer.py --cascade) or restore the fast model"
        )
    if not slow_stage:
        log.info("cascade %s switched off: the fast model %s alone", card_path.stem, fast_name)
        return fast
    check_probability(card_path, "the card's threshold", card.get("threshold"))
    low = check_probability(card_path, "band.low", part("band", "low"))
    files = {}
    for name_key, sha_key in (("model", "sha256"), ("tokenizer", "tokenizer_sha256")):
        path = directory / str(part("slow", name_key))
        if not path.exists():
            raise ModelError(f"{path}: the cascade's slow stage file is missing")
        actual, expected = sha256_file(path), part("slow", sha_key)
        if actual != expected:
            raise ModelError(
                f"{path}: sha256 {actual} does not match the cascade card's {expected}; the "
                "file was changed or corrupted. Refusing to load it: restore it, or set "
                "`cascade: false` to run the fast model alone"
            )
        files[name_key] = path
    max_tokens = part("slow", "max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise ModelError(f"{card_path}: slow.max_tokens must be a whole number")
    if not WINDOW_OVERLAP < max_tokens <= MAX_POSITIONS:
        raise ModelError(
            f"{card_path}: slow.max_tokens is {max_tokens}; the slow stage reads windows of "
            f"{WINDOW_OVERLAP + 1} to {MAX_POSITIONS} tokens"
        )
    try:
        slow = SlowStage(files["model"], files["tokenizer"], max_tokens)
    except ImportError as exc:
        raise ModelError(
            f"{card_path}: the slow stage needs onnxruntime and tokenizers ({exc}); "
            "pip install flagbot again, or set `cascade: false`"
        ) from None
    except Exception as exc:  # a corrupt ONNX or tokenizer file can raise nearly anything
        raise ModelError(f"{card_path}: cannot load the slow stage: {exc}") from None
    check_slow_stage(card_path, card, slow)
    _warn_on_other_versions(card_path, card)  # and they still read the check texts alike
    log.info(
        "loaded cascade %s: %s, then %s above %.3f (threshold %.3f)",
        card_path.stem,
        fast_name,
        files["model"].name,
        low,
        float(card["threshold"]),
    )
    estimator = CascadeEstimator(fast.estimator, slow, low)
    return Model(name=card_path.stem, path=card_path, card=card, estimator=estimator)
