#!/usr/bin/env python3
"""Convert a pickled model (NAME.joblib, as flagbot wrote before 0.2) to NAME.skops + its card.

Loading a pickle runs whatever code it holds: convert only a file you trust (one you trained,
or the one shipped with flagbot, whose sha256 the card still checks first). The new file's
scores are checked against the pickle's on a few texts before the card is rewritten.

    python scripts/convert_model.py classifiers/talk-lr-v1.joblib
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import joblib
import numpy as np
import skops

from flagbot.classifier import MODEL_SUFFIX, load_model, sha256_file
from flagbot.errors import FlagbotError
from flagbot.training import save_model

CHECK_TEXTS = [
    "Thank you for fixing the citation.",
    "you are a stupid worthless idiot",
    "I will find you and kill you",
    "The 2004 figure needs a source; see the talk archive.",
]


def convert(pickle_path: Path) -> Path:
    card_path = pickle_path.with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if sha256_file(pickle_path) != card["sha256"]:
        raise FlagbotError(f"{pickle_path}: does not match its card's sha256; not converting it")
    model = joblib.load(pickle_path)  # the one deliberate unpickling: the operator trusts it
    target = save_model(model, pickle_path.with_suffix(MODEL_SUFFIX))
    card["sha256"] = sha256_file(target)
    card["versions"].pop("joblib", None)
    card["versions"]["skops"] = skops.__version__
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    converted = load_model(str(target))  # through the safe loader, as flagbot will read it
    before = model.predict_proba(CHECK_TEXTS)[:, 1]
    if not np.allclose(converted.score(CHECK_TEXTS), before, atol=1e-9):
        raise FlagbotError(f"{target}: scores differ from the pickle's; keep the pickle")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pickle", type=Path, help="NAME.joblib, with NAME.json beside it")
    args = parser.parse_args(argv)
    try:
        target = convert(args.pickle)
    except (FlagbotError, OSError, ValueError, KeyError) as exc:
        print(f"convert_model: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {target}; its card now names its sha256. The pickle can be deleted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
