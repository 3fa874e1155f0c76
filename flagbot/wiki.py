"""The one place that makes pywikibot sites: URL → APISite, with flagbot's User-Agent.

pywikibot reads its configuration (user-config.py in PYWIKIBOT_DIR) when it is first imported,
so it is imported here, lazily, and never at flagbot's import time.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flagbot import __version__
from flagbot.config import Settings, WikiSettings
from flagbot.errors import ConfigError, FetchError

_sites: dict[str, Any] = {}
_lock = threading.Lock()
READ_MAXLAG = 5  # seconds; Wikimedia's recommendation for bots
PYWIKIBOT_RETRIES = 2
GROUPS_TTL = 3600.0  # seconds a user's groups are trusted before asking the wiki again
_groups: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}


def user_agent(contact: str) -> str:
    return f"flagbot/{__version__} ({contact})"


def connect_site(wiki: WikiSettings, settings: Settings) -> Any:
    """The pywikibot APISite for a configured wiki (cached: one per wiki per process)."""
    with _lock:
        if wiki.id in _sites:
            return _sites[wiki.id]
        try:
            import pywikibot
            from pywikibot import config as pwb_config
        except RuntimeError as exc:  # pywikibot refuses to start without a user-config.py
            raise ConfigError(f"pywikibot: {exc} (see user-config.py.sample)") from None
        pwb_config.user_agent_description = user_agent(settings.user_agent_contact)
        pwb_config.read_maxlag = READ_MAXLAG
        # flagbot never edits; its only writes are alert emails, which alerts.limits paces per
        # recipient. pywikibot's edit pacing would delay every alert by ~10 s.
        pwb_config.put_throttle = 0
        # a few quick retries only: the long waits for a wiki that is down are flagbot's own
        # (the batch waits, backing off up to source.max_backoff), which a stop can cut short;
        # pywikibot's default (15 retries, up to 120 s apart) kept Ctrl-C waiting for minutes
        pwb_config.max_retries = PYWIKIBOT_RETRIES
        pwb_config.retry_wait = 1
        pwb_config.retry_max = 5
        api = f"{wiki.url}{wiki.script_path}/api.php"
        try:
            # a Wikimedia URL finds its family; any other wiki gets an automatic family named
            # after the wiki's id (the name user-config.py uses in `usernames`)
            site = pywikibot.Site(url=api, fam=wiki.id)
            site.version()  # ask the wiki once now: a wrong URL fails here, clearly
        except Exception as exc:  # pywikibot raises many kinds on an unreachable or odd wiki
            raise FetchError(f"cannot reach wiki {wiki.id} at {api}: {exc}") from None
        _sites[wiki.id] = site
        return site


def user_groups(wiki: WikiSettings, settings: Settings, user: str) -> frozenset[str]:
    """The user's groups on the wiki (`list=users&usprop=groups`), cached for GROUPS_TTL."""
    key = (wiki.id, user)
    cached = _groups.get(key)
    if cached is not None and time.monotonic() - cached[0] < GROUPS_TTL:
        return cached[1]
    site = connect_site(wiki, settings)
    try:
        found: dict[str, Any] = next(iter(site.users([user])), {})
    except Exception as exc:  # pywikibot has retried already; the batch will wait and retry
        raise FetchError(f"cannot read the groups of a user on {wiki.id}: {exc}") from None
    groups = frozenset(found.get("groups", ()))
    _groups[key] = (time.monotonic(), groups)
    return groups


def revision_states(wiki: WikiSettings, settings: Settings, rev_ids: list[int]) -> dict[int, str]:
    """Each revision's state now: visible, hidden (deleted/suppressed), reverted, or missing.

    A log entry's key (-log_id: a move, a new account) counts as visible: the API cannot look
    a log entry up by its id.
    """
    states: dict[int, str] = {key: "visible" for key in rev_ids if key <= 0}
    rev_ids = [r for r in rev_ids if r > 0]
    if not rev_ids:
        return states
    site = connect_site(wiki, settings)
    try:
        for start in range(0, len(rev_ids), 50):
            chunk = rev_ids[start : start + 50]
            data = site.simple_request(
                action="query",
                prop="revisions",
                revids=chunk,
                rvprop=["ids", "tags", "sha1"],
                formatversion=2,
            ).submit()
            query = data.get("query", {})
            for bad in (query.get("badrevids") or {}).values():  # keyed by revid
                states[int(bad["revid"])] = "missing"
            for page in query.get("pages", []):
                for rev in page.get("revisions", []):
                    if rev.get("texthidden") or rev.get("sha1hidden") or rev.get("suppressed"):
                        state = "hidden"
                    elif "mw-reverted" in rev.get("tags", []):
                        state = "reverted"
                    else:
                        state = "visible"
                    states[int(rev["revid"])] = state
    except Exception as exc:  # pywikibot has retried already
        raise FetchError(f"cannot check revisions on {wiki.id}: {exc}") from None
    for rev_id in rev_ids:
        states.setdefault(rev_id, "missing")  # a deleted page's revisions vanish from the API
    return states


def page_text(wiki: WikiSettings, settings: Settings, title: str) -> str | None:
    """The current text of a page, or None when it does not exist."""
    import pywikibot

    site = connect_site(wiki, settings)
    try:
        page = pywikibot.Page(site, title)
        return page.get(force=True) if page.exists() else None
    except Exception as exc:  # pywikibot has retried already
        raise FetchError(f"cannot read {title} on {wiki.id}: {exc}") from None


def revision_info(wiki: WikiSettings, settings: Settings, rev_id: int) -> dict[str, Any]:
    """A revision's parent, page, namespace, user and summary (for `flagbot explain`)."""
    site = connect_site(wiki, settings)
    try:
        data = site.simple_request(
            action="query",
            prop="revisions",
            revids=[rev_id],
            rvprop=["ids", "user", "comment", "timestamp"],
            formatversion=2,
        ).submit()
    except Exception as exc:  # pywikibot has retried already
        raise FetchError(f"cannot read revision {rev_id} on {wiki.id}: {exc}") from None
    for page in data.get("query", {}).get("pages", []):
        for rev in page.get("revisions", []):
            return {"title": page["title"], "namespace": page["ns"], **rev}
    raise FetchError(f"{wiki.id} has no revision {rev_id} (or it is hidden)")
