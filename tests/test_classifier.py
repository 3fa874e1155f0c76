import json
import shutil

import pytest

from flagbot.classifier import load_model
from flagbot.errors import ModelError
from tests.conftest import ROOT


@pytest.fixture
def model_copy(tmp_path):
    name = (ROOT / "classifiers" / "DEFAULT").read_text().strip()
    for suffix in (".joblib", ".json"):
        shutil.copy(ROOT / "classifiers" / f"{name}{suffix}", tmp_path / f"m{suffix}")
    return tmp_path / "m.joblib"


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
