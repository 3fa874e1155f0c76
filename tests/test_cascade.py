"""The model cascade (flagbot.cascade): the shipped default loads with every file checked, texts
below the band keep the fast model's score, only band texts reach the slow stage, the slow stage
reproduces its card's fixed sample, and `cascade: false` runs the fast model alone."""

from __future__ import annotations

import csv
import json
import shutil
import sys

import numpy as np
import pytest

from flagbot.cascade import CHECK_TOLERANCE, combine
from flagbot.classifier import load_model
from flagbot.errors import ConfigError, ModelError
from flagbot.settings_file import load_settings
from tests.conftest import ROOT
from tests.test_config import GOOD, write

CLASSIFIERS = ROOT / "classifiers"


@pytest.fixture(scope="module")
def cascade():
    model = load_model("default")
    assert model.card["kind"] == "cascade"  # the shipped default is the cascade
    return model


@pytest.fixture
def cascade_copy(tmp_path, cascade):
    """The shipped cascade's card and every file it names, in a folder of their own."""
    card = cascade.card
    names = [f"{card['fast']['model']}.skops", f"{card['fast']['model']}.json"]
    names += [card["slow"]["model"], card["slow"]["tokenizer"], f"{card['name']}.json"]
    for name in names:
        shutil.copy(CLASSIFIERS / name, tmp_path / name)
    return tmp_path / f"{card['name']}.json"


def edit_card(path, change):
    card = json.loads(path.read_text())
    change(card)
    path.write_text(json.dumps(card))


def test_switched_off_the_cascade_is_its_fast_model_with_its_own_threshold(cascade, tmp_path):
    fast = load_model("default", cascade=False)
    assert fast.name == cascade.card["fast"]["model"] and fast.card["sha256"]
    assert fast.threshold == fast.card["threshold"] != cascade.threshold
    assert load_settings(write(tmp_path, GOOD)).cascade is True
    assert load_settings(write(tmp_path, GOOD + "cascade: false\n")).cascade is False
    with pytest.raises(ConfigError, match="cascade: expected true or false"):
        load_settings(write(tmp_path, GOOD + "cascade: 'no'\n"))


def test_below_the_band_the_fast_score_stands_and_only_band_texts_reach_the_slow_stage(cascade):
    texts = [
        "Thanks for fixing the citation format, much appreciated.",
        "The population figure comes from the 2011 census, see page 4.",
        "you are a stupid worthless idiot, shut up",
        "Stop reverting me, you clearly have no idea what you are doing.",
        "Go away and die, nobody wants you here, moron.",
    ]
    estimator = cascade.estimator
    fast = estimator.fast.predict_proba(texts)[:, 1]
    band = [t for t, f in zip(texts, fast, strict=True) if f >= estimator.low]
    assert 0 < len(band) < len(texts)  # some of each, or the test shows nothing
    asked: list[list[str]] = []
    real_score = estimator.slow.score
    estimator.slow.score = lambda batch: asked.append(list(batch)) or real_score(batch)
    try:
        scores = np.asarray(cascade.score(texts))
    finally:
        del estimator.slow.score  # the instance attribute hid the method
    assert asked == [band]
    below = fast < estimator.low
    assert np.array_equal(scores[below], fast[below])  # exactly: never scored again
    slow = real_score(band)
    assert np.allclose(scores[~below], combine(fast[~below], slow))
    assert combine(np.array([0.9]), np.array([0.9]))[0] == pytest.approx(0.9)
    assert combine(np.array([0.9]), np.array([0.1]))[0] == pytest.approx(0.5)


def test_the_shipped_slow_stage_reproduces_its_cards_fixed_sample(cascade):
    """The shipped ONNX file, not a retrained one (training takes an hour): its scores on the
    card's dev rows, which are the card's check texts. Float products differ between CPUs by
    rounding noise (~1e-6), so the tolerance is far below any verdict margin."""
    csv.field_size_limit(sys.maxsize)
    with (ROOT / "training_data" / "dev.csv").open(newline="", encoding="utf-8") as f:
        rows = [row["comment_text"] for row in csv.DictReader(f)]
    check = cascade.card["check"]
    assert check["texts"] == [rows[i] for i in check["dev_rows"]]
    scores = cascade.estimator.slow.score(check["texts"])
    assert len(scores) == len(check["slow_scores"]) >= 16
    assert np.max(np.abs(scores - np.asarray(check["slow_scores"]))) < CHECK_TOLERANCE
    assert {round(s) for s in check["slow_scores"]} == {0, 1}  # the sample has both kinds


def test_the_slow_stage_has_no_integer_products_and_scores_alike_however_optimised(cascade):
    """The CPU-dependent part of the old int8 file was its integer matrix products (AVX2 and
    AVX-512 VNNI sum them differently). None are left once loaded; scoring with onnxruntime's
    graph rewrites off (other kernels, other summation orders: the nearest stand-in here for
    another CPU) moves no check text by more than rounding noise."""
    import onnxruntime

    from flagbot.cascade import SlowStage

    slow = cascade.estimator.slow
    model = CLASSIFIERS / cascade.card["slow"]["model"]
    assert b"MatMulInteger" not in model.read_bytes()
    plain = SlowStage(model, CLASSIFIERS / cascade.card["slow"]["tokenizer"], 128)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.intra_op_num_threads = 1
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    plain.session = onnxruntime.InferenceSession(str(model), options)
    texts = cascade.card["check"]["texts"]
    assert np.max(np.abs(plain.score(texts) - slow.score(texts))) < 1e-4


def test_a_tokenizer_that_reads_text_differently_is_refused_at_load(cascade_copy):
    """A "cased" tokenizer file with a matching hash: every file checks out, but "YOU ARE A
    PATHETIC LITTLE LIAR" would drop from flagged to harmless. The card's check texts catch it."""
    from flagbot.classifier import sha256_file

    card = json.loads(cascade_copy.read_text())
    path = cascade_copy.parent / card["slow"]["tokenizer"]
    tokenizer = json.loads(path.read_text())
    tokenizer["normalizer"]["lowercase"] = False
    path.write_text(json.dumps(tokenizer))
    edit_card(cascade_copy, lambda c: c["slow"].update(tokenizer_sha256=sha256_file(path)))
    with pytest.raises(ModelError, match="no longer reproduces its card.*tokenizer"):
        load_model(str(cascade_copy))
    assert load_model(str(cascade_copy), cascade=False).name == card["fast"]["model"]


@pytest.mark.parametrize("part", ["model", "tokenizer"])
def test_a_tampered_or_missing_slow_stage_file_is_refused(cascade_copy, part):
    name = json.loads(cascade_copy.read_text())["slow"][part]
    target = cascade_copy.parent / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the cascade card") as caught:
        load_model(str(cascade_copy))
    assert "cascade: false" in str(caught.value)  # what to do
    target.unlink()
    with pytest.raises(ModelError, match="slow stage file is missing"):
        load_model(str(cascade_copy))


def test_a_slow_stage_that_is_not_onnx_is_refused_even_with_a_matching_hash(cascade_copy):
    from flagbot.classifier import sha256_file

    onnx = cascade_copy.parent / json.loads(cascade_copy.read_text())["slow"]["model"]
    onnx.write_bytes(b"not an onnx graph")
    edit_card(cascade_copy, lambda card: card["slow"].update(sha256=sha256_file(onnx)))
    with pytest.raises(ModelError, match="cannot load the slow stage"):
        load_model(str(cascade_copy))


def test_a_cascade_built_on_another_fast_model_is_refused(cascade_copy):
    edit_card(cascade_copy, lambda card: card["fast"].update(sha256="0" * 64))
    with pytest.raises(ModelError, match="not the one it was built with"):
        load_model(str(cascade_copy))
    with pytest.raises(ModelError, match="not the one it was built with"):
        load_model(str(cascade_copy), cascade=False)  # its threshold was chosen for that one


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda card: card["band"].update(low=1.5), "band.low must be a number from 0 to 1"),
        (lambda card: card["band"].pop("low"), "has no band.low"),
        (lambda card: card.update(threshold="high"), "threshold must be a number from 0 to 1"),
        (lambda card: card.pop("slow"), "has no slow.model"),
        (lambda card: card["fast"].update(model=card["name"]), "must name another model"),
        (lambda card: card["slow"].update(max_tokens=0), "windows of 33 to 512 tokens"),
        (lambda card: card["slow"].update(max_tokens=10**12), "windows of 33 to 512 tokens"),
        (lambda card: card["slow"].update(max_tokens="128"), "max_tokens must be a whole"),
        (lambda card: card.pop("check"), "has no check texts"),
        (lambda card: card["check"]["slow_scores"].pop(), "has no check texts"),
    ],
)
def test_a_broken_cascade_card_is_a_clear_error(cascade_copy, change, message):
    edit_card(cascade_copy, change)
    with pytest.raises(ModelError, match=message):
        load_model(str(cascade_copy))


def test_pleasantries_before_an_insult_do_not_hide_it_from_the_slow_stage(cascade):
    """The transformer reads 128 tokens. Were only a text's start read, 130 tokens of thanks
    before an insult would score ~0.001 there and pull the combined score under the threshold
    though the fast model flags the text alone; every window is read, the highest counts."""
    from flagbot.normalize import matching_text

    filler = "Thanks for the sources you added to the article on the river last week. " * 9
    insult = "You are a stupid worthless idiot, a moron and a pathetic loser, shut up you idiot."
    text = matching_text(filler + insult)
    slow = cascade.estimator.slow
    encoding = slow.tokenizer.encode(text)
    assert len(encoding.overflowing) >= 1  # longer than one window
    start = np.asarray([encoding.ids], dtype=np.int64)
    first = slow.session.run(None, {"input_ids": start, "attention_mask": np.ones_like(start)})
    assert 1 / (1 + np.exp(-first[0][0])) < 0.1  # the start alone: harmless
    assert cascade.estimator.fast.predict_proba([text])[0, 1] >= cascade.estimator.low
    assert cascade.score([text])[0] >= cascade.threshold


def test_compare_and_evaluate_take_the_cascade_like_any_model(tmp_path, capsys, cascade):
    from tests.test_model_lifecycle import sample, script

    data = tmp_path / "dev-head.csv"
    sample(ROOT / "training_data" / "dev.csv", data, 400)
    assert (
        script("compare")([cascade.name, cascade.card["fast"]["model"], "--data", str(data)]) == 0
    )
    table = capsys.readouterr().out
    assert cascade.name in table and cascade.card["fast"]["model"] in table
    out = tmp_path / "report"
    assert (
        script("evaluate")(["--model", cascade.name, "--data", str(data), "--out", str(out)]) == 0
    )
    report = (out / "report.md").read_text()
    assert cascade.name in report and f"{cascade.threshold:.3f}" in report


def test_no_verdict_of_the_readme_demo_sits_within_cpu_noise_of_the_threshold(
    make_settings, scorer
):
    """The README's `./dev.sh run` numbers must hold on every CPU: float products differ between
    CPUs by ~1e-6, so no model score of the sample stream may lie within 1e-3 of the threshold
    (a rebuilt card that puts one there must move its threshold or the README)."""
    import threading

    from flagbot.sources.replay import read_lines
    from tests.test_cli import SAMPLE
    from tests.test_pipeline import make_pipeline

    pipeline = make_pipeline(make_settings(), scorer)
    outcomes = pipeline.process(list(read_lines(SAMPLE)), threading.Event())
    scores = np.asarray([o.verdict.score for o in outcomes if o.verdict is not None])
    assert len(scores) > 250
    threshold = scorer.model.threshold
    assert np.min(np.abs(scores - threshold)) > 1e-3
    assert int(np.sum(scores >= threshold)) >= 10  # the demo does flag by the model


def test_another_onnxruntime_than_the_cards_is_said_and_the_check_texts_decide(
    cascade_copy, caplog
):
    edit_card(cascade_copy, lambda card: card["versions"].update(onnxruntime="0.0.1"))
    with caplog.at_level("WARNING", logger="flagbot.cascade"):
        model = load_model(str(cascade_copy))
    assert model.card["kind"] == "cascade"
    assert "built with onnxruntime 0.0.1" in caplog.text
