"""Texts → Verdict: the model's probability and the rules' hits, and what they decide (which
categories, how severe, which audience).

Pure: no I/O. Thresholds are per category; the model card gives the model's own category its
threshold and flagbot.yaml may override it or let the model score flag another category too.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flagbot.classifier import Model
from flagbot.config import (
    DEFAULT_ROUTES,
    EVERYWHERE_CATEGORIES,
    REVIEW_ROUTE,
    SEVERITIES,
    Settings,
    WikiSettings,
)
from flagbot.language import beneath_english, identified, wiki_language
from flagbot.normalize import matching_text, name_words, rule_variant
from flagbot.rules import RuleHit, RuleSet

MODEL_SEVERITY = "medium"
WINDOW_CHARS = 300  # about a comment: longer windows dilute an insult below the threshold
WINDOW_OVERLAP = 150


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    rule_hits: tuple[RuleHit, ...]
    categories: tuple[str, ...]
    severity: str | None
    routes: tuple[str, ...]  # every route that hears about it, e.g. ("emergency", "oversight")
    reasons: tuple[str, ...]
    on_names: bool = False  # a page title or user name is flagged text: alerts leave them out
    language: str = ""  # the added text's language (flagbot.language; "" unknown)
    served: bool = True  # whether the model reads that language (the card's `languages`)
    settings_rev: int = 0  # the wiki's community settings revision it was decided under

    @property
    def flagged(self) -> bool:
        return bool(self.categories)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(h.rule_id for h in self.rule_hits)


def decide(
    score: float,
    hits: Iterable[RuleHit],
    thresholds: Mapping[str, float],
    routes: Mapping[str, tuple[str, ...]] = DEFAULT_ROUTES,
) -> Verdict:
    hits = tuple(hits)
    categories: dict[str, None] = {}
    severities = []
    reasons = []
    for category, threshold in thresholds.items():
        if score >= threshold:
            categories[category] = None
            severities.append(MODEL_SEVERITY)
            reasons.append(f"model:{category}>={threshold:.3f}")
    for hit in hits:
        categories[hit.category] = None
        severities.append(hit.severity)
        reasons.append(f"rule:{hit.rule_id}")
    severity = max(severities, key=SEVERITIES.index) if severities else None
    wanted: dict[str, None] = {}
    if severity == "emergency":
        wanted.update(dict.fromkeys(routes.get("emergency", ())))
    for category in categories:
        wanted.update(dict.fromkeys(routes.get(category, (REVIEW_ROUTE,))))
    return Verdict(
        score=score,
        rule_hits=hits,
        categories=tuple(sorted(categories)),
        severity=severity,
        routes=tuple(wanted),
        reasons=tuple(reasons),
    )


class Texts(NamedTuple):
    """What is scored of one edit, and where it was written: a rule scoped to a wiki or a
    namespace reads it here (no list of namespaces travels beside the texts)."""

    added: str  # the readable added text: model and rules
    summary: str = ""  # the readable edit summary: model and rules
    quoted: str = ""  # genuine quotes of the page: rules for personal information only
    names: tuple[str, ...] = ()  # a new page's title, a move's target, a user name: rules only
    namespace: int | None = None  # the page's namespace (None: unknown, e.g. `flagbot score`)
    wiki: str = ""  # the wiki's id ("" when unknown)


@dataclass
class Scorer:
    """Model + rules + thresholds: plain texts → verdicts. No I/O."""

    model: Model
    rules: RuleSet
    thresholds: dict[str, float]
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_ROUTES)
    max_chars: int = 20000  # longer texts are scored window by window
    priors: Mapping[str, str] = field(default_factory=dict)  # wiki id → its content language
    other: Model | None = None  # reads the languages `model` does not (`language_model`)
    # a wiki's settings now, its community page applied (`Settings.wiki`)
    local: Callable[[str], WikiSettings | None] = lambda _: None

    @classmethod
    def build(
        cls, settings: Settings, model: Model, rules: RuleSet, other: Model | None = None
    ) -> Scorer:
        thresholds = {model.category: model.threshold, **settings.thresholds}
        priors = {w.id: wiki_language(w) for w in settings.wikis}
        routes, chars = settings.alerts.routes, settings.max_diff_chars
        return cls(model, rules, thresholds, routes, chars, priors, other, settings.wiki)

    def for_wiki(
        self, wiki_id: str
    ) -> tuple[Mapping[str, float], Mapping[str, tuple[str, ...]], frozenset[str], int]:
        """The thresholds, routes and categories turned off on a wiki, and the revision of its
        community settings they come from (flagbot.community; 0: the operator's file alone)."""
        return self.under(self.local(wiki_id))

    def under(
        self, wiki: WikiSettings | None
    ) -> tuple[Mapping[str, float], Mapping[str, tuple[str, ...]], frozenset[str], int]:
        """`for_wiki` under given wiki settings (a proposed page: `flagbot settings check`)."""
        if wiki is None or not wiki.settings_rev:
            return self.thresholds, self.routes, frozenset(), 0
        off = frozenset(wiki.off)
        thresholds = {
            c: t for c, t in {**self.thresholds, **wiki.thresholds}.items() if c not in off
        }
        return thresholds, {**self.routes, **wiki.routes}, off, wiki.settings_rev

    @functools.cached_property
    def languages(self) -> frozenset[str]:
        """The languages the models read, from their cards."""
        return self.model.languages | self._other_only

    @functools.cached_property
    def _other_only(self) -> frozenset[str]:
        """The languages only the language model reads: its text is its to decide."""
        return self.other.languages - self.model.languages if self.other else frozenset()

    def _other_thresholds(
        self, language: str, thresholds: Mapping[str, float]
    ) -> Mapping[str, float]:
        """The language model's own threshold for the language, unless the wiki turned its
        category off."""
        assert self.other is not None
        if self.other.category not in thresholds:
            return thresholds
        per_language = self.other.card.get("thresholds", {})
        threshold = per_language.get(language, self.other.threshold)
        return {**thresholds, self.other.category: threshold}

    def _read_by_other(self, edit: Texts, language: str) -> str | None:
        """The language the language model reads an edit in, None when it is not asked: text in
        a language only it reads, and on a wiki in such a language, "English" that is English
        only by its function words ("the and you of is" around a German insult)."""
        if language in self._other_only:
            return language
        prior = self.priors.get(edit.wiki, "")
        if language == "en" and prior in self._other_only:
            beneath = beneath_english(edit.added or edit.summary)
            return beneath if beneath in self._other_only else None
        return None

    def language(self, edit: Texts) -> tuple[str, bool, bool]:
        """The language of the edit's words, whether the model reads it (an unknown one, too
        short to tell on a wiki of unknown language, counts as read), and whether the words
        themselves said so (else the wiki's language stands in)."""
        language, sure = identified(edit.added or edit.summary, self.priors.get(edit.wiki, ""))
        return language, not language or language in self.languages, sure

    def windows(self, text: str) -> list[str]:
        """The text itself, or for a text over max_chars, comment-sized windows that cover it.

        The model scores a text as a whole, and 30,000 characters of filler dilute a real insult
        to 0.02: over the cap each line (a talk-page comment) is scored on its own, and a line
        longer than a comment in overlapping windows, so a rule match of up to WINDOW_OVERLAP
        characters is whole in one of them.
        """
        if len(text) <= self.max_chars:
            return [text]
        windows: list[str] = []
        step = WINDOW_CHARS - WINDOW_OVERLAP
        for line in filter(str.strip, text.splitlines()):
            if len(line) <= 2 * WINDOW_CHARS:
                windows.append(line)
            else:
                starts = range(0, len(line) - WINDOW_OVERLAP, step)
                windows.extend(line[start : start + WINDOW_CHARS] for start in starts)
        return windows or [text[: self.max_chars]]

    def verdicts(self, edits: Sequence[Texts]) -> list[Any]:
        """Verdicts for edits' Texts. The added text and the summary are scored by model and
        rules, the worst part counts; quotes are checked by the rules for personal information,
        titles and user names by all rules."""
        parts = [  # names alone (no added text) are for the rules only; no summary, no score
            [matching_text(t) for t in (*self.windows(e.added), e.summary) if t] for e in edits
        ]
        languages = [
            self.language(e) if p else ("", True, False) for e, p in zip(edits, parts, strict=True)
        ]
        # the language the language model reads each edit in (None: not asked)
        others = [
            self._read_by_other(edit, language)
            for edit, (language, *_) in zip(edits, languages, strict=True)
        ]
        # the main model reads every text: a paragraph of German appended to an English insult
        # makes the edit "German", and the language model alone would not read the insult
        main_scores = iter(self.model.score([t for p in parts for t in p]))
        other_scores = iter(
            self.other.score([t for p, o in zip(parts, others, strict=True) if o for t in p])
            if self.other is not None and any(o is not None for o in others)
            else []
        )
        out = []
        for part, edit, other, (language, served, sure) in zip(
            parts, edits, others, languages, strict=True
        ):
            namespace = edit.namespace
            thresholds, routes, off, settings_rev = self.for_wiki(edit.wiki)
            hits: dict[str, RuleHit] = {}
            best = best_other = 0.0
            # a rule for one language runs on words known to be in it, or of unknown language
            # (a short Spanish threat on the German Wikipedia is not German for being there)
            known = language if sure else ""
            for text in part:
                score = next(main_scores)
                if other is not None:
                    best_other = max(best_other, next(other_scores))
                best = max(best, score)
                self._rule_hits(text, namespace, max(score, best_other), hits, language=known)
            if edit.quoted:
                quoted = matching_text(edit.quoted)
                self._rule_hits(quoted, namespace, None, hits, EVERYWHERE_CATEGORIES, known)
            from_text = set(hits)
            for name in edit.names:
                for form in dict.fromkeys((name, name_words(name))):
                    self._rule_hits(matching_text(form), None, None, hits)
            kept = [h for h in hits.values() if h.category not in off]
            if other is not None and not any(best >= t for t in thresholds.values()):
                # the main model did not fire: the language model decides
                other_thresholds = self._other_thresholds(other, thresholds)
                verdict = decide(best_other, kept, other_thresholds, routes)
            else:
                verdict = decide(best, kept, thresholds, routes)
            verdict = dataclasses.replace(
                verdict,
                on_names=any(h.rule_id not in from_text for h in kept),
                language=language,
                served=served,
                settings_rev=settings_rev,
            )
            out.append(verdict)
        return out

    def _rule_hits(
        self,
        text: str,
        namespace: int | None,
        score: float | None,
        hits: dict[str, RuleHit],
        categories: Collection[str] | None = None,
        language: str = "",
    ) -> None:
        """Add the rules' hits on normalised `text` (and on its l33t/spaced variant) to `hits`."""
        variant = rule_variant(text)
        for found in (text, variant) if variant != text else (text,):
            for hit in self.rules.match(found, namespace, score, language):
                if categories is None or hit.category in categories:
                    hits.setdefault(hit.rule_id, hit)

    def excerpt(self, text: str, namespace: int | None) -> str:
        """What to store of a flagged text: all of it, or within max_chars the windows that
        flagged it (the reviewer needs the part that matters, not the first 20,000 characters)."""
        windows = self.windows(text)
        if len(windows) == 1:
            return text
        verdicts = self.verdicts([Texts(w, namespace=namespace) for w in windows])
        flagged = [w for w, v in zip(windows, verdicts, strict=True) if v.flagged] or windows[:1]
        return "\n".join(flagged)[: self.max_chars]
