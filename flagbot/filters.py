"""Cheap filters, cheapest first: wiki, type, namespace, bot, exempt users. No I/O."""

from __future__ import annotations

import ipaddress

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


def is_activity(change: RecentChange, settings: Settings) -> bool:
    """An edit the hounding detector keeps: any namespace on a watched wiki, never a bot's
    (whatever `skip_bots` says: bots overlap with everyone) or an exempt user's."""
    wiki = settings.wiki(change.wiki)
    return (
        wiki is not None
        and change.type in EDIT_TYPES
        and bool(change.new_rev)
        and bool(change.user)
        and not change.bot
        and change.user not in wiki.exempt_users
    )


def new_names(change: RecentChange, settings: Settings) -> tuple[str, ...]:
    """Titles and user names this change makes public: a new page's title, a move's target, a
    new account's name. Checked by the rules in any namespace: an address in a title is as
    public as one on a talk page. Bots and exempt users are trusted here as everywhere."""
    wiki = settings.wiki(change.wiki)
    if wiki is None or (change.bot and wiki.skip_bots) or change.user in wiki.exempt_users:
        return ()
    names = []
    if change.type == "new":
        names.append(change.title)
    if change.target_title:
        names.append(change.target_title)
    if change.log_type == "newusers" and is_account(change.user):
        names.append(change.user)
    return tuple(names)


def is_account(user: str) -> bool:
    """A named account, not an IP address or a temporary account (`~2025-12345-67`)."""
    if not user or user.startswith("~"):
        return False
    try:
        ipaddress.ip_address(user)
    except ValueError:
        return True
    return False
