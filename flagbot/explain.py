"""Why an edit is (not) flagged: `flagbot explain` and the review queue's view of a reported
diff, by the pipeline's own functions (never copies of them)."""

from __future__ import annotations

from typing import Any

from flagbot import filters
from flagbot.budget import OverBudget, Workers
from flagbot.config import Settings
from flagbot.errors import FetchError, SkipEdit
from flagbot.events import RecentChange
from flagbot.normalize import matching_text, rule_variant
from flagbot.pipeline import fetch_revisions, read_within_budget, readable_texts
from flagbot.scoring import Scorer, Texts
from flagbot.wiki import WikiClient


def not_scored(skip_reason: str) -> dict[str, Any]:
    """`explain`'s answer for an edit that is skipped before scoring."""
    return {
        "skip_reason": skip_reason,
        "flagged": False,
        "score": None,
        "categories": [],
        "rules": [],
        "routes": [],
    }


def explain(
    scorer: Scorer,
    added_wikitext: str,
    comment: str = "",
    namespace: int | None = None,
    names: tuple[str, ...] = (),
    texts: Texts | None = None,
) -> dict[str, Any]:
    """Why an edit is (not) flagged, by the pipeline's own functions: for `flagbot explain`.
    `texts`: the readable texts when already read (in a budget worker).

    The result holds the edit's text: it is for an operator's terminal, never for a log.
    """
    texts = texts or readable_texts(added_wikitext, comment, names)
    result: dict[str, Any] = {
        "added_text": texts.added,
        "edit_summary": texts.summary,
        "quoted_text": texts.quoted,
        "names": list(names),
    }
    if not (texts.added or texts.quoted or names):
        return {**result, **not_scored("empty_text")}
    normalised = matching_text(texts.added)
    verdict = scorer.verdicts([texts._replace(namespace=namespace)])[0]
    unread = not verdict.flagged and not verdict.served
    return {
        **result,
        "normalised_text": normalised,
        "rule_variant": rule_variant(normalised),
        "windows": len(scorer.windows(texts.added)) if texts.added else 0,
        "language": verdict.language,
        "skip_reason": f"unsupported_language:{verdict.language}" if unread else None,
        "score": round(verdict.score, 6),
        "flagged": verdict.flagged,
        "categories": list(verdict.categories),
        "severity": verdict.severity,
        "rules": list(verdict.rule_ids),
        "names_flagged": verdict.on_names,
        "routes": list(verdict.routes),
        "reasons": list(verdict.reasons),
        "settings_rev": verdict.settings_rev,  # the wiki's community settings page revision
    }


def explain_revision(
    settings: Settings,
    client: WikiClient,
    scorer: Scorer,
    wiki_id: str,
    rev_id: int,
    workers: Workers | None = None,
) -> dict[str, Any]:
    """`explain` for a revision on a configured wiki, read from the wiki as the pipeline reads
    an edit: `flagbot explain --rev` and the review queue's view of a reported diff. With
    `workers`, the reading runs under the pipeline's time budget (the web app: a parse bomb
    named in a report must not hold a server thread for a minute).

    Raises FetchError when the wiki cannot be read or has no such (visible) revision.
    """
    wiki = settings.wiki(wiki_id)
    if wiki is None:
        known = ", ".join(w.id for w in settings.wikis)
        raise FetchError(f"wiki {wiki_id!r} is not configured (configured: {known})")
    info = client.revision_info(wiki, rev_id)
    change = RecentChange(
        wiki=wiki.id,
        server_url=wiki.url,
        script_path=wiki.script_path,
        namespace=info["namespace"],
        title=info["title"],
        user=info.get("user", ""),
        bot=False,
        type="edit" if info.get("parentid") else "new",
        old_rev=info.get("parentid") or None,
        new_rev=rev_id,
        timestamp=0,
        comment=info.get("comment", ""),
    )
    where = {"wiki": wiki.id, "rev": rev_id, "title": change.title, "user": change.user}
    where["filter_reason"] = filters.skip_reason(change, settings)  # None: it would be scored
    names = filters.new_names(change, settings)
    if filters.is_account(change.user) and change.user not in names:
        names = (*names, change.user)
    try:
        old, new = fetch_revisions(client, wiki, change)
        edit, texts, _targets = read_within_budget(workers, change, old, new)
    except (SkipEdit, OverBudget) as skip:
        return {**where, "added_text": "", **not_scored(skip.reason)}
    if len(texts.added) > settings.budget.chars:
        return {**where, "added_text": "", **not_scored("over_budget:size")}
    texts = texts._replace(names=names, wiki=wiki.id)
    return {**where, **explain(scorer, edit.added, change.comment, change.namespace, names, texts)}
