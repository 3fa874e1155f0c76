import json
import shutil

import pytest

from flagbot.classifier import load_model
from flagbot.errors import ModelError
from tests.conftest import ROOT


@pytest.fixture
def model_copy(tmp_path):
    """A copy of the default's (fast) model: the one a cascade's card names."""
    name = load_model("default", cascade=False).name
    for suffix in (".skops", ".json"):
        shutil.copy(ROOT / "classifiers" / f"{name}{suffix}", tmp_path / f"m{suffix}")
    return tmp_path / "m.skops"


def test_shipped_model_scores_batches(model):
    scores = model.score(
        [
            "Thank you for the helpful edit to the article.",
            "you are a stupid worthless idiot, shut up",
        ]
    )
    assert len(scores) == 2 and 0 <= scores[0] < model.threshold < scores[1] <= 1


def test_tampered_model_is_refused_before_unpickling(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the card"):
        load_model(str(model_copy))


def test_other_scikit_learn_version_is_refused_with_a_fix(model_copy):
    card_path = model_copy.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["versions"]["scikit-learn"] = "0.24.2"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError) as caught:
        load_model(str(model_copy))
    assert "pip install 'scikit-learn==0.24.2'" in str(caught.value)
    assert "scripts/train.py" in str(caught.value)


def test_missing_or_broken_card_is_a_clear_error(model_copy):
    card_path = model_copy.with_suffix(".json")
    card_path.write_text("{broken")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(str(model_copy))
    card_path.unlink()
    with pytest.raises(ModelError, match="cannot read the model card"):
        load_model(str(model_copy))


@pytest.mark.parametrize("threshold", ["0.8", 1.5, -0.1, float("nan"), True, None])
def test_a_card_whose_threshold_is_no_probability_is_refused(model_copy, threshold):
    card_path = model_copy.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["threshold"] = threshold
    card_path.write_text(json.dumps(card))  # NaN is written as the bare word NaN, as json allows
    with pytest.raises(ModelError, match="threshold must be a number from 0 to 1"):
        load_model(str(model_copy))


class Planted:
    """What an attacker hides in a model file: code that runs when the file is read."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))  # a pickle calls this on load: the file appears

    def __setstate__(self, state):
        open(state["marker"], "w").close()  # skops would call this on load


def test_a_pickle_is_refused_without_being_read(model_copy, tmp_path):
    """Replacing both the model and its card used to run any code at load."""
    import joblib

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    joblib.dump(Planted(marker), evil)
    card = json.loads(model_copy.with_suffix(".json").read_text())
    card["sha256"] = __import__("flagbot.classifier").classifier.sha256_file(evil)
    evil.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="a pickle can run any code"):
        load_model(str(evil))
    assert not marker.exists()


def test_a_model_file_with_types_flagbot_does_not_trust_is_refused(model_copy, tmp_path):
    import skops.io

    from flagbot.classifier import sha256_file

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.skops"
    skops.io.dump({"model": Planted(marker)}, evil)
    card = json.loads(model_copy.with_suffix(".json").read_text())
    card["sha256"] = sha256_file(evil)  # an attacker who can write the model can write its card
    evil.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="does not trust.*Planted"):
        load_model(str(evil))
    assert not marker.exists()
