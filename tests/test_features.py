"""TalkVectorizer: the same features as scikit-learn's vectorizer, faster, and compact pickles."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from flagbot.features import TalkAnalyzer, TalkVectorizer, word_grams


def test_word_grams_are_scikit_learns_char_wb_grams():
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3)).build_analyzer()
    assert sorted(word_grams("idiot", 2, 3)) == sorted(reference("idiot"))


def test_talk_vectorizer_matches_scikit_learn_on_real_comments(dev_texts):
    fit_texts, other = dev_texts[:800], dev_texts[800:1100]
    ours = TalkVectorizer(min_df=2, max_features=20_000).fit(fit_texts)
    reference = TfidfVectorizer(
        analyzer=TalkAnalyzer(2, 5, True), sublinear_tf=True, min_df=2, max_features=20_000
    ).fit(fit_texts)
    assert ours.vocabulary_ == reference.vocabulary_
    odd = ["a lone surrogate \ud800 from a bad JSON escape", "emoji 😀😀😀 and ß", "\x00nul"]
    difference = abs(ours.transform(other + odd) - reference.transform(other + odd)).max()
    assert difference < 1e-5
    again = ours.transform(other)  # second time from the per-word cache: the same
    assert abs(again - ours.transform(other)).max() == 0


def test_pickles_carry_the_vocabulary_as_one_string_and_no_cache(dev_texts):
    vectorizer = TalkVectorizer(min_df=1, max_features=5_000).fit(dev_texts[:300])
    vectorizer.transform(dev_texts[:50])  # fills the word cache
    state = vectorizer.__getstate__()
    assert "vocabulary_" not in state and "_word_cache" not in state
    assert isinstance(state["vocabulary_terms_"], str)
    copy = pickle.loads(pickle.dumps(vectorizer))
    assert copy.vocabulary_ == vectorizer.vocabulary_
    assert np.allclose(
        copy.transform(dev_texts[:20]).toarray(), vectorizer.transform(dev_texts[:20]).toarray()
    )
    vectorizer.vocabulary_["bad\nterm"] = len(vectorizer.vocabulary_)
    with pytest.raises(ValueError, match="newline"):
        pickle.dumps(vectorizer)


def test_transform_is_the_same_after_the_word_tables_start_afresh(dev_texts, monkeypatch):
    """Past CACHE_LIMIT words the per-word tables are rebuilt; the features must not change."""
    vectorizer = TalkVectorizer(min_df=2, max_features=20_000).fit(dev_texts[:800])
    expected = vectorizer.transform(dev_texts[800:1000])
    tables = vectorizer.__dict__["_tables_"]
    monkeypatch.setattr("flagbot.features.CACHE_LIMIT", 50)
    vectorizer.transform(dev_texts[1000:1100])
    assert vectorizer.__dict__["_tables_"] is not tables  # started afresh
    rebuilt = vectorizer.transform(dev_texts[800:1000])
    assert abs(rebuilt - expected).max() == 0


def test_transform_of_nothing_and_of_texts_without_words(dev_texts):
    vectorizer = TalkVectorizer(min_df=1, max_features=5_000).fit(dev_texts[:300])
    assert vectorizer.transform([]).shape == (0, len(vectorizer.idf_))
    blank = vectorizer.transform(["", "   \n", dev_texts[0]])
    assert blank[0].nnz == 0 and blank[1].nnz == 0 and blank[2].nnz > 0
    assert np.isclose(np.linalg.norm(blank[2].toarray()), 1.0)


def test_packed_grams_find_exactly_the_vocabulary_substrings():
    """Brute force agrees: unknown characters, a 2-gram inside a longer window, emoji, tiny text."""
    import random

    from flagbot.features import PackedGrams

    terms = [" ab", "ab", "b ", "bé", "é!", "😀x", " a ", "xyz!"]
    packed = PackedGrams([(t, i) for i, t in enumerate(terms)], 2, 5)
    rng = random.Random(3)
    alphabet = "ab xyzé!😀?"
    for text in ["", "a", " ab  a ", "ab?"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)
    ]:
        starts, features = packed.find(text)
        expected = sorted(
            (i, terms.index(text[i : i + n]))
            for n in range(2, 6)
            for i in range(len(text) - n + 1)
            if text[i : i + n] in terms
        )
        assert sorted(zip(starts.tolist(), features.tolist(), strict=True)) == expected, text
    assert [len(a) for a in PackedGrams([], 2, 5).find("no n-grams known")] == [0, 0]
