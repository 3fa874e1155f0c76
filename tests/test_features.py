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
    difference = abs(ours.transform(other) - reference.transform(other)).max()
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
