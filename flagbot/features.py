"""Text → features for the model, shared by training and scoring so a pickled model finds it.

The analyzer yields word unigrams, word bigrams and character n-grams inside each word (the
`char_wb` features of scikit-learn). Because character n-grams depend only on the word, they are
memoised per word: the same features as `char_wb`, several times faster on real talk comments.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
REPEAT = re.compile(r"(.)\1{2,}")  # "stuuuuupid" and "!!!!!!" fold to two characters
CACHE_LIMIT = 300_000  # distinct words remembered; past it the tables start afresh
_TABLES_LOCK = threading.Lock()


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
        self.__dict__.pop("_tables_", None)
        return self

    def fit_transform(self, texts: Sequence[str], y: Any = None, **_: Any) -> Any:
        return self.fit(texts).transform(texts)

    def __getstate__(self) -> dict[str, Any]:
        # The vocabulary travels as one newline-joined string (no feature holds whitespace other
        # than a space): a 300,000-entry dict unpickles slowly and a string does not.
        state = self.__dict__.copy()
        state.pop("_tables_", None)
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

    def _tables(self) -> _WordTables:
        tables = self.__dict__.get("_tables_")
        if tables is None or len(tables.ids) > CACHE_LIMIT:
            tables = self.__dict__["_tables_"] = _WordTables(self)
        return tables

    def transform(self, texts: Sequence[str]) -> Any:
        """Counts = (document × word counts) @ (word × n-gram counts), then TF-IDF.

        Python touches each token once (a dictionary lookup for its word id); the counting is
        one sparse matrix product, the batch's word bigrams riding along as extra columns.
        """
        if not len(texts):
            return sparse.csr_matrix((0, len(self.idf_)), dtype=np.float32)
        with _TABLES_LOCK:  # the tables grow as words come in; one transform at a time
            return self._transform(texts)

    def _transform(self, texts: Sequence[str]) -> Any:
        tables = self._tables()
        ids_of = tables.ids
        word_ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            text = text.lower()
            if self.max_chars:
                text = text[: self.max_chars]
            tokens = TOKEN.findall(REPEAT.sub(r"\1\1", text))
            ids = list(map(ids_of.get, tokens))
            if None in ids:
                new_id = tables.word_id
                ids = [new_id(t) if i is None else i for t, i in zip(tokens, ids, strict=True)]
            word_ids.extend(ids)  # type: ignore[arg-type]
            lengths.append(len(ids))
        n_docs, n_features = len(lengths), len(self.idf_)
        all_ids = np.asarray(word_ids, dtype=np.int64)
        docs = np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
        # A bigram found in the batch is a column of its own whose "n-grams" are just itself.
        bigram_docs, bigram_features = tables.bigrams(all_ids, docs)
        distinct, column = np.unique(all_ids, return_inverse=True)
        found_bigrams, bigram_column = np.unique(bigram_features, return_inverse=True)
        per_word = sparse.csr_matrix(
            (
                np.ones(len(all_ids) + len(bigram_docs), dtype=np.float32),
                (
                    np.concatenate([docs, bigram_docs]),
                    np.concatenate([column.ravel(), len(distinct) + bigram_column.ravel()]),
                ),
            ),
            shape=(n_docs, len(distinct) + len(found_bigrams)),
        )
        matrix = per_word @ tables.grams_of(distinct, found_bigrams, n_features)  # float32 CSR
        np.log(matrix.data, out=matrix.data)
        matrix.data += 1
        matrix.data *= self.idf_[matrix.indices]
        return normalize(matrix, copy=False)


class _WordTables:
    """Per-word lookups for TalkVectorizer.transform, built lazily and never pickled.

    `ids` numbers every word seen. The vocabulary indices of a word itself and its character
    n-grams sit in one flat array, `grams[start[id] : start[id] + length[id]]` (repeated n-grams
    repeated), so the rows of a batch's words are gathered in one vectorized step. Bigram
    features are keyed by their two word ids.
    """

    def __init__(self, vectorizer: TalkVectorizer):
        self.vocabulary = vectorizer.vocabulary_
        self.ids: dict[str, int] = {}
        self.words: list[str] = []
        self.start = np.zeros(1024, dtype=np.int64)
        self.length = np.full(1024, -1, dtype=np.int64)  # -1: not looked up yet
        self.grams = np.zeros(1 << 16, dtype=np.int32)
        self.used = 0
        self.packed = PackedGrams(
            [(t, i) for t, i in self.vocabulary.items() if " " not in t.strip(" ")],
            vectorizer.char_min,
            vectorizer.char_max,
        )
        keys, features = [], []
        for term, index in self.vocabulary.items():
            first, space, second = term.partition(" ")
            if space and first and second:  # "a b": a word bigram (n-grams pad with spaces)
                keys.append(self.word_id(first) << 32 | self.word_id(second))
                features.append(index)
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        self.bigram_keys = np.asarray(keys, dtype=np.int64)[order]
        self.bigram_features = np.asarray(features, dtype=np.int32)[order]

    def word_id(self, word: str) -> int:
        found = self.ids.get(word)
        if found is None:
            found = self.ids[word] = len(self.words)
            self.words.append(word)
            if found == len(self.length):
                self.start = np.concatenate([self.start, np.zeros_like(self.start)])
                self.length = np.concatenate([self.length, np.full_like(self.length, -1)])
        return found

    def _look_up(self, ids: np.ndarray) -> None:
        """Vocabulary indices of new words and their n-grams, appended to `grams`.

        The padded words are joined (" w1  w2 ") and every window of char_min..char_max
        characters is packed into one integer and searched among the vocabulary's packed
        n-grams, all in numpy. No vocabulary n-gram holds two spaces in a row, so none spans two
        words.
        """
        words = [self.words[i] for i in ids.tolist()]
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        next_start = np.cumsum(lengths)
        starts, features = self.packed.find("".join(f" {w} " for w in words))
        whole = np.asarray(list(map(self.vocabulary.get, words, repeat(-1))), dtype=np.int64)
        has_whole = np.nonzero(whole >= 0)[0]
        owner = np.concatenate([has_whole, np.searchsorted(next_start, starts, side="right")])
        feature = np.concatenate([whole[has_whole], features]).astype(np.int32)
        found = feature[np.argsort(owner, kind="stable")]
        kept = np.bincount(owner, minlength=len(words))
        while self.used + len(found) > len(self.grams):
            self.grams = np.concatenate([self.grams, np.zeros_like(self.grams)])
        self.grams[self.used : self.used + len(found)] = found
        self.start[ids] = self.used + np.cumsum(kept) - kept
        self.length[ids] = kept
        self.used += len(found)

    def grams_of(
        self, distinct: np.ndarray, bigrams: np.ndarray, n_features: int
    ) -> sparse.csr_matrix:
        """Rows of feature counts: per word id (itself + character n-grams), then one row per
        bigram feature holding just that feature."""
        missing = distinct[self.length[distinct] < 0]
        if len(missing):
            self._look_up(missing)
        lengths = self.length[distinct]
        indptr = np.zeros(len(distinct) + len(bigrams) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1 : len(distinct) + 1])
        indptr[len(distinct) + 1 :] = indptr[len(distinct)] + np.arange(1, len(bigrams) + 1)
        gather = np.arange(indptr[len(distinct)]) - np.repeat(
            indptr[: len(distinct)] - self.start[distinct], lengths
        )
        indices = np.concatenate([self.grams[gather], bigrams.astype(np.int32)])
        return sparse.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, indptr),
            shape=(len(indptr) - 1, n_features),
        )

    def bigrams(self, word_ids: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(document, feature) of every vocabulary word bigram in the batch."""
        if len(word_ids) < 2 or not len(self.bigram_keys):
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        same_doc = docs[:-1] == docs[1:]
        keys = (word_ids[:-1] << 32 | word_ids[1:])[same_doc]
        where = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
        found = self.bigram_keys[where] == keys
        return docs[:-1][same_doc][found], self.bigram_features[where[found]]


class PackedGrams:
    """Character n-grams packed into integers, so a text's n-grams are looked up in numpy.

    Each character known to the vocabulary's n-grams gets a small code (unknown ones are 0 and
    match nothing); an n-gram is its codes side by side plus its length in the top bits, exact
    and collision-free.
    """

    def __init__(self, terms: Sequence[tuple[str, int]], low: int, high: int):
        terms = [(t, i) for t, i in terms if low <= len(t) <= high]
        alphabet = sorted({c for t, _ in terms for c in t})
        self.low, self.high = low, high
        self.bits = 60 // high
        if len(alphabet) >= 1 << self.bits or high >= 8:
            raise ValueError(f"{len(alphabet)} characters do not pack into {high}-grams")
        self.codes = np.zeros(max(map(ord, alphabet), default=0) + 1, dtype=np.int64)
        self.codes[[ord(c) for c in alphabet]] = np.arange(1, len(alphabet) + 1)
        lengths = np.fromiter((len(t) for t, _ in terms), dtype=np.int64, count=len(terms))
        codes = self._codes("".join(t for t, _ in terms))
        starts = np.cumsum(lengths) - lengths
        keys = lengths << 60
        for k in range(high):
            longer = lengths > k
            keys[longer] |= codes[starts[longer] + k] << (self.bits * k)
        order = np.argsort(keys)
        self.keys = keys[order]
        self.features = np.asarray([i for _, i in terms], dtype=np.int64)[order]

    def _codes(self, text: str) -> np.ndarray:
        """Each character's code; 0 for characters no vocabulary n-gram holds."""
        # surrogatepass: a lone surrogate (a bad JSON escape) is a character, not a crash
        utf32 = text.encode("utf-32-le", "surrogatepass")
        points = np.frombuffer(utf32, dtype=np.uint32).astype(np.int64)
        known = points < len(self.codes)
        return np.where(known, self.codes[np.where(known, points, 0)], 0)

    def find(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(start, vocabulary index) of every n-gram of `text` in the vocabulary."""
        codes = self._codes(text)
        starts, features = [], []
        for n in range(self.low, min(self.high, len(codes)) + 1 if len(self.keys) else 0):
            windows = len(codes) - n + 1
            key = np.full(windows, n << 60, dtype=np.int64)
            for k in range(n):
                key |= codes[k : k + windows] << (self.bits * k)
            where = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            hit = np.nonzero(self.keys[where] == key)[0]
            starts.append(hit)
            features.append(self.features[where[hit]])
        if not starts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(starts), np.concatenate(features)
