"""Cheap filters, cheapest first: wiki, type, namespace, bot, exempt users. No I/O."""

from __future__ import annotations

from flagbot.config import Settings
from flagbot.events import EDIT_TYPES, RecentChange


def skip_reason(change: RecentChange, settings: Settings) -> str | None:
    """Why this change is not for flagbot, or None when it should be scored."""
    wiki = settings.wiki(change.wiki)
    if wiki is None:
        return "other_wiki"
    if change.type not in EDIT_TYPES:
        return "not_an_edit"
    in_namespace = (
        change.namespace in wiki.namespaces if wiki.namespaces else change.namespace % 2 == 1
    )
    if not in_namespace and change.title not in wiki.extra_pages:
        return "namespace"
    if change.bot and wiki.skip_bots:
        return "bot"
    if change.user in wiki.exempt_users:
        return "exempt_user"
    return None
