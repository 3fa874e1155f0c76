"""Load a model (skops file + JSON card) safely and score texts in batches.

A model is a `.skops` file: a format that cannot run code when it is read, and that flagbot reads
only if it holds nothing but the types its models are made of (`TRUSTED_TYPES` besides skops'
own scikit-learn/numpy/scipy list) — a card's sha256 protects against corruption, not against
someone who replaces both files. Pickles (`.joblib`) are refused: reading one can run any code.
A model trained with another scikit-learn is refused too: scores could silently change.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import sklearn
import skops.io

from flagbot.cascade import CASCADE_KIND, load_cascade
from flagbot.config import project_path
from flagbot.errors import ModelError
from flagbot.modelcard import Model, check_probability, sha256_file

__all__ = ["Model", "check_probability", "load_model", "sha256_file"]  # callers import them here

log = logging.getLogger(__name__)
CLASSIFIERS_DIR = "classifiers"
MODEL_SUFFIX = ".skops"
# what flagbot's models are made of, beyond the types skops trusts by default
TRUSTED_TYPES = (
    "flagbot.features.TalkVectorizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


DEFAULT_POINTER = "DEFAULT"  # a file in a models directory naming its default model


def default_name(directory: Path) -> str:
    """The model a directory's DEFAULT file names ("" when there is none)."""
    pointer = directory / DEFAULT_POINTER
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else ""


def set_default(directory: Path, name: str) -> Path:
    """Make `name` the directory's default model; returns the pointer file."""
    pointer = directory / DEFAULT_POINTER
    pointer.write_text(name + "\n", encoding="utf-8")
    return pointer


def resolve_model_path(spec: str) -> Path:
    """`default`, a model NAME in classifiers/, or a path to NAME.skops (or a cascade's
    NAME.json)."""
    if spec.endswith((MODEL_SUFFIX, ".json", ".joblib", ".pkl", ".pickle")):
        return Path(spec)
    directory = project_path(CLASSIFIERS_DIR)
    if spec == "default":
        pointer = directory / DEFAULT_POINTER
        try:
            spec = pointer.read_text(encoding="utf-8").strip()
        except OSError:
            raise ModelError(
                f"{pointer}: missing; it names the default model "
                "(write a model name into it, e.g. with `flagbot model promote`)"
            ) from None
    return directory / f"{spec}{MODEL_SUFFIX}"


def load_model(spec: str, cascade: bool = True, allow_cascade: bool = True) -> Model:
    """A model, or a cascade (flagbot.cascade; with `cascade` false, its fast model alone),
    every file checked against its card before anything is read from it. A cascade's fast
    model is loaded with `allow_cascade` false: cascades do not nest."""
    path = resolve_model_path(spec)
    if path.suffix not in (MODEL_SUFFIX, ".json"):
        raise ModelError(
            f"{path}: a pickle can run any code when it is loaded, so flagbot loads only "
            f"{MODEL_SUFFIX} models; convert a model you trust with "
            f"`python scripts/convert_model.py {path}`, or retrain it with scripts/train.py"
        )
    card_path = path.with_suffix(".json")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"{card_path}: cannot read the model card: {exc.strerror}") from None
    except ValueError:
        raise ModelError(f"{card_path}: the model card is not valid JSON") from None
    if not isinstance(card, dict):
        raise ModelError(f"{card_path}: the model card is not a JSON object")
    if card.get("kind") == CASCADE_KIND:
        if not allow_cascade:
            raise ModelError(f"{card_path}: a cascade cannot be another cascade's fast model")
        return load_cascade(card_path, card, cascade, _load_fast)
    path = path.with_suffix(MODEL_SUFFIX)  # a model's card may be named instead of its file
    for key in ("sha256", "threshold", "versions"):
        if key not in card:
            raise ModelError(f"{card_path}: the model card has no {key!r}")
    check_probability(card_path, "the card's threshold", card["threshold"])
    if not path.exists():
        raise ModelError(f"{path}: model file missing")
    actual = sha256_file(path)
    if actual != card["sha256"]:
        raise ModelError(
            f"{path}: sha256 {actual} does not match the card's {card['sha256']}; the file was "
            "changed or corrupted. Refusing to load it: restore it or retrain with "
            "scripts/train.py"
        )
    trained_with = card["versions"].get("scikit-learn")
    if trained_with != sklearn.__version__:
        raise ModelError(
            f"{path}: trained with scikit-learn {trained_with}, but {sklearn.__version__} is "
            f"installed. Install the matching version (pip install 'scikit-learn=={trained_with}') "
            "or retrain the model with scripts/train.py under the installed version"
        )
    try:
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
        if untrusted:
            raise ModelError(
                f"{path}: holds types flagbot does not trust ({', '.join(untrusted)}); "
                "refusing to load it"
            )
        estimator = skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except ModelError:
        raise
    except Exception as exc:  # a corrupt archive can raise nearly anything
        raise ModelError(f"{path}: cannot load the model: {type(exc).__name__}: {exc}") from None
    if not hasattr(estimator, "predict_proba"):
        raise ModelError(f"{path}: the model has no predict_proba")
    log.info("loaded model %s (threshold %.3f)", path.name, float(card["threshold"]))
    return Model(name=path.stem, path=path, card=card, estimator=estimator)


def _load_fast(spec: str) -> Model:
    """A cascade's fast model: any model but another cascade."""
    return load_model(spec, allow_cascade=False)
