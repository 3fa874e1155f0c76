"""Text → features for the model, shared by training and scoring so a pickled model finds it.

The analyzer yields word unigrams, word bigrams and character n-grams inside each word (the
`char_wb` features of scikit-learn). Because character n-grams depend only on the word, they are
memoised per word: the same features as `char_wb`, several times faster on real talk comments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
REPEAT = re.compile(r"(.)\1{2,}")  # "stuuuuupid" and "!!!!!!" fold to two characters
CACHE_LIMIT = 300_000


def word_grams(word: str, low: int, high: int) -> list[str]:
    """Character n-grams of one word padded with spaces, as scikit-learn's `char_wb` makes them."""
    padded = f" {word} "
    return [padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)]


class TalkAnalyzer:
    """Callable analyzer for TfidfVectorizer(analyzer=TalkAnalyzer(...))."""

    def __init__(
        self, char_min: int = 2, char_max: int = 5, word_bigrams: bool = True, max_chars: int = 0
    ):
        self.char_min = char_min
        self.char_max = char_max
        self.word_bigrams = word_bigrams
        self.max_chars = max_chars  # 0: whole text
        self._cache: dict[str, list[str]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = {}  # the cache is rebuilt on use; never pickle it
        return state

    def _grams(self, word: str) -> list[str]:
        grams = self._cache.get(word)
        if grams is None:
            grams = word_grams(word, self.char_min, self.char_max)
            if len(self._cache) < CACHE_LIMIT:
                self._cache[word] = grams
        return grams

    def __call__(self, text: str) -> list[str]:
        text = text.lower()
        if self.max_chars:
            text = text[: self.max_chars]
        tokens = TOKEN.findall(REPEAT.sub(r"\1\1", text))
        out = list(tokens)
        if self.word_bigrams:
            out.extend(f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))
        for token in tokens:
            out.extend(self._grams(token))
        return out


class TalkVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF (sublinear tf, l2) over TalkAnalyzer features, with a fast transform.

    Fitting uses scikit-learn's CountVectorizer. Transforming looks up, per distinct word, the
    vocabulary indices of its unigram and character n-grams once and caches them, so scoring does
    a few list operations per word instead of one dictionary lookup per n-gram.
    """

    def __init__(
        self,
        char_min: int = 2,
        char_max: int = 5,
        min_df: int = 2,
        max_features: int | None = 300_000,
        max_chars: int = 0,
    ):
        self.char_min = char_min
        self.char_max = char_max
        self.min_df = min_df
        self.max_features = max_features
        self.max_chars = max_chars

    def _analyzer(self) -> TalkAnalyzer:
        return TalkAnalyzer(self.char_min, self.char_max, True, self.max_chars)

    def fit(self, texts: Sequence[str], y: Any = None) -> TalkVectorizer:
        counter = CountVectorizer(
            analyzer=self._analyzer(),
            min_df=self.min_df,
            max_features=self.max_features,
            dtype=np.float32,
        )
        counts = counter.fit_transform(texts)
        self.vocabulary_: dict[str, int] = counter.vocabulary_
        document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
        n = counts.shape[0]
        self.idf_ = (np.log((1 + n) / (1 + document_frequency)) + 1).astype(np.float32)
        self._word_cache: dict[str, list[int]] = {}
        return self

    def fit_transform(self, texts: Sequence[str], y: Any = None, **_: Any) -> Any:
        return self.fit(texts).transform(texts)

    def __getstate__(self) -> dict[str, Any]:
        # The vocabulary travels as one newline-joined string (no feature holds whitespace other
        # than a space): a 300,000-entry dict unpickles slowly and a string does not.
        state = self.__dict__.copy()
        state.pop("_word_cache", None)
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            terms = sorted(vocabulary, key=vocabulary.__getitem__)
            if any("\n" in term for term in terms):
                raise ValueError("a feature holds a newline; the vocabulary cannot be joined")
            state["vocabulary_terms_"] = "\n".join(terms)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = {term: i for i, term in enumerate(terms.split("\n"))}
        self.__dict__.update(state)

    def _word_indices(self, word: str) -> list[int]:
        cache = self.__dict__.setdefault("_word_cache", {})
        found = cache.get(word)
        if found is None:
            vocabulary = self.vocabulary_
            grams = [word, *word_grams(word, self.char_min, self.char_max)]
            found = [vocabulary[g] for g in grams if g in vocabulary]
            if len(cache) < CACHE_LIMIT:
                cache[word] = found
        return found

    def transform(self, texts: Sequence[str]) -> Any:
        vocabulary = self.vocabulary_
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            text = text.lower()
            if self.max_chars:
                text = text[: self.max_chars]
            tokens = TOKEN.findall(REPEAT.sub(r"\1\1", text))
            for token in tokens:
                indices.extend(self._word_indices(token))
            for a, b in zip(tokens, tokens[1:], strict=False):
                j = vocabulary.get(f"{a} {b}")
                if j is not None:
                    indices.append(j)
            indptr.append(len(indices))
        matrix = sparse.csr_matrix(
            (
                np.ones(len(indices), dtype=np.float32),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(len(indptr) - 1, len(self.idf_)),
        )
        matrix.sum_duplicates()
        np.log(matrix.data, out=matrix.data)
        matrix.data += 1
        matrix.data *= self.idf_[matrix.indices]
        return normalize(matrix, copy=False)
