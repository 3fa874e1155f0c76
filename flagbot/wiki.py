"""Everything flagbot asks its wikis goes through one `WikiClient`: sites (URL → APISite, with
flagbot's User-Agent), user groups, revision states, page text, the kill switch.

pywikibot reads its configuration (user-config.py in PYWIKIBOT_DIR) when it is first imported,
so it is imported here, lazily, and never at flagbot's import time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

from flagbot import __version__
from flagbot.config import Settings, WikiSettings
from flagbot.errors import ConfigError, FetchError

log = logging.getLogger(__name__)

READ_MAXLAG = 5  # seconds; Wikimedia's recommendation for bots
PYWIKIBOT_RETRIES = 2
GROUPS_TTL = 3600.0  # seconds a user's groups are trusted before asking the wiki again


def user_agent(contact: str) -> str:
    return f"flagbot/{__version__} ({contact})"


class WikiClient:
    """Everything flagbot asks its wikis, with the caches that go with it: built once where
    the program is put together (`bot.build`, the web app, a CLI command) and handed to
    the pipeline, the sources, the sender, the purge and the review queue.

    Each wiki has its own lock, held only while its site is first made, so a slow wiki never
    holds up the others; pywikibot's own retries are few and short (see `site`), and the long
    waits for a wiki that is away belong to the callers, which a stop can cut short.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._sites: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._groups: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self._switches: dict[tuple[str, str], tuple[float, bool]] = {}
        self._link_names: dict[str, dict[str, str]] = {}

    def site(self, wiki: WikiSettings) -> Any:
        """The pywikibot APISite for a configured wiki (made once per client)."""
        with self._locks[wiki.id]:
            if wiki.id not in self._sites:
                self._sites[wiki.id] = _make_site(wiki, self.settings)
            return self._sites[wiki.id]

    def user_groups(self, wiki: WikiSettings, user: str, fresh: bool = False) -> frozenset[str]:
        """The user's groups on the wiki (`list=users&usprop=groups`), cached for GROUPS_TTL
        unless `fresh`."""
        key = (wiki.id, user)
        cached = self._groups.get(key)
        if not fresh and cached is not None and time.monotonic() - cached[0] < GROUPS_TTL:
            return cached[1]
        site = self.site(wiki)
        try:
            found: dict[str, Any] = next(iter(site.users([user])), {})
        except Exception as exc:  # pywikibot has retried already; the batch will wait and retry
            raise FetchError(f"cannot read the groups of a user on {wiki.id}: {exc}") from None
        groups = frozenset(found.get("groups", ()))
        self._groups[key] = (time.monotonic(), groups)
        return groups

    def link_names(self, wiki: WikiSettings) -> dict[str, str]:
        """The wiki's own names for user pages, user talk pages, contributions and the ping,
        unsigned and outdent templates (flagbot.localnames), read once per client (they change
        with an upgrade or a rare page move, not from edit to edit)."""
        from flagbot.localnames import link_names, template_names

        if wiki.id not in self._link_names:
            site = self.site(wiki)
            try:  # asked directly: pywikibot's own siteinfo may be from an earlier client
                answer = site.simple_request(
                    action="query",
                    meta="siteinfo",
                    siprop="namespaces|namespacealiases|specialpagealiases",
                    formatversion=2,
                ).submit()
                names = link_names(answer.get("query", {}))
                templates = site.simple_request(  # every local name of the templates read
                    action="query",
                    titles="Template:Ping|Template:Unsigned|Template:Outdent",
                    redirects=1,
                    prop="redirects",
                    rdnamespace=10,
                    rdlimit="max",
                    formatversion=2,
                ).submit()
                names.update(template_names(templates.get("query", {})))
                self._link_names[wiki.id] = names
            except Exception as exc:  # pywikibot has retried already
                raise FetchError(f"cannot read the namespaces of {wiki.id}: {exc}") from None
        return self._link_names[wiki.id]

    def account(self, wiki: WikiSettings, user: str) -> tuple[float | None, int]:
        """When the account was registered (epoch seconds; None for the oldest accounts, which
        have no date) and its edit count on the wiki. A user the wiki does not know counts as
        an account made now: answered as "no date", an account made today and refused on its
        home wiki reported about every other wiki with the oldest accounts' limit."""
        import calendar

        site = self.site(wiki)
        try:
            found: dict[str, Any] = next(iter(site.users([user])), {})
        except Exception as exc:  # pywikibot has retried already
            raise FetchError(f"cannot read the account of a user on {wiki.id}: {exc}") from None
        if not found or "missing" in found or "invalid" in found:
            return time.time(), 0
        registered = found.get("registration")
        when = (
            float(calendar.timegm(time.strptime(registered, "%Y-%m-%dT%H:%M:%SZ")))
            if registered
            else None
        )
        return when, int(found.get("editcount") or 0)

    def revision_states(self, wiki: WikiSettings, rev_ids: list[int]) -> dict[int, str]:
        """Each revision's state now: visible, hidden (deleted/suppressed), reverted, or missing.

        A log entry's key (-log_id: a move, a new account) counts as visible: the API cannot
        look a log entry up by its id.
        """
        states: dict[int, str] = {key: "visible" for key in rev_ids if key <= 0}
        found = self._revisions(wiki, [r for r in rev_ids if r > 0])
        for rev_id in rev_ids:
            if rev_id > 0:  # a deleted page's revisions vanish from the API: missing
                states[rev_id] = _state(found[rev_id]) if rev_id in found else "missing"
        return states

    def revision_tags(self, wiki: WikiSettings, rev_ids: list[int]) -> dict[int, tuple[str, ...]]:
        """Each revision's change tags now (`mw-undo`, `mw-rollback`, `mw-reverted`, …); a
        missing or hidden revision has none to show."""
        found = self._revisions(wiki, [r for r in rev_ids if r > 0])
        return {rev_id: tuple(found.get(rev_id, {}).get("tags", ())) for rev_id in rev_ids}

    def _revisions(self, wiki: WikiSettings, rev_ids: list[int]) -> dict[int, dict[str, Any]]:
        """ids, tags and sha1 of revisions the wiki still has, 50 per request."""
        found: dict[int, dict[str, Any]] = {}
        if not rev_ids:
            return found
        site = self.site(wiki)
        try:
            for start in range(0, len(rev_ids), 50):
                data = site.simple_request(
                    action="query",
                    prop="revisions",
                    revids=rev_ids[start : start + 50],
                    rvprop=["ids", "tags", "sha1"],
                    formatversion=2,
                ).submit()
                for page in data.get("query", {}).get("pages", []):
                    for rev in page.get("revisions", []):
                        found[int(rev["revid"])] = rev
        except Exception as exc:  # pywikibot has retried already
            raise FetchError(f"cannot check revisions on {wiki.id}: {exc}") from None
        return found

    def page_text(self, wiki: WikiSettings, title: str) -> str | None:
        """The current text of a page, or None when it does not exist."""
        import pywikibot

        site = self.site(wiki)
        try:
            page = pywikibot.Page(site, title)
            return page.get(force=True) if page.exists() else None
        except Exception as exc:  # pywikibot has retried already
            raise FetchError(f"cannot read {title} on {wiki.id}: {exc}") from None

    def page_revisions(
        self, wiki: WikiSettings, title: str, limit: int = 10, rev_id: int = 0
    ) -> tuple[str, list[dict[str, Any]]]:
        """A page's title in the wiki's own names ("Project:X" is "Wikipedia:X") and its newest
        revisions, newest first (or with `rev_id` that one revision, of whatever page): revid,
        user, timestamp and the text of each (`content`; absent when hidden); no revisions when
        the page or revision does not exist."""
        site = self.site(wiki)
        which = {"revids": [rev_id]} if rev_id else {"titles": [title], "rvlimit": limit}
        try:
            data = site.simple_request(
                action="query",
                prop="revisions",
                rvprop=["ids", "user", "timestamp", "content"],
                rvslots="main",
                formatversion=2,
                **which,
            ).submit()
        except Exception as exc:  # pywikibot has retried already
            raise FetchError(f"cannot read {title or rev_id} on {wiki.id}: {exc}") from None
        pages = data.get("query", {}).get("pages", [])
        if not pages or "invalid" in pages[0]:
            return title, []
        out = []
        for rev in pages[0].get("revisions", []):
            main = rev.get("slots", {}).get("main", {})
            out.append({**rev, "content": main.get("content")} if "content" in main else rev)
        return str(pages[0].get("title", title)), out

    def edit_protection(self, wiki: WikiSettings, title: str) -> tuple[int, tuple[str, ...]]:
        """A page's namespace and who may edit it by protection (`prop=info&inprop=protection`:
        the edit levels, e.g. ("sysop",); none when anyone may)."""
        site = self.site(wiki)
        try:
            data = site.simple_request(
                action="query", prop="info", inprop="protection", titles=[title], formatversion=2
            ).submit()
        except Exception as exc:  # pywikibot has retried already
            raise FetchError(f"cannot read the protection of {title} on {wiki.id}: {exc}") from None
        page = (data.get("query", {}).get("pages") or [{}])[0]
        levels = tuple(p["level"] for p in page.get("protection", []) if p.get("type") == "edit")
        return int(page.get("ns", 0)), levels

    def site_matrix(self, wiki: WikiSettings) -> dict[str, Any]:
        """The farm's site matrix (`action=sitematrix`, every page of it), asked of `wiki`."""
        site = self.site(wiki)
        params: dict[str, Any] = {"action": "sitematrix", "smlimit": "max", "formatversion": 2}
        merged: dict[str, Any] = {"specials": []}
        try:
            while True:
                data = site.simple_request(**params).submit()
                for key, value in data.get("sitematrix", {}).items():
                    if key == "specials":
                        merged["specials"].extend(value)
                    elif key != "count":
                        merged[str(len(merged) - 1)] = value
                if "continue" not in data:
                    return {"sitematrix": merged}
                params.update(data["continue"])
        except Exception as exc:  # pywikibot has retried already
            raise FetchError(f"cannot read the site matrix of {wiki.id}: {exc}") from None

    def kill_switch_on(self, wiki: WikiSettings, page: str, now: float, ttl: float) -> bool:
        """Whether the on-wiki kill switch page says "yes" (cached for `ttl` seconds); an
        unreadable page keeps its last answer, or counts as off."""
        key = (wiki.id, page)
        cached = self._switches.get(key)
        if cached is not None and now - cached[0] < ttl:
            return cached[1]
        try:
            on = (self.page_text(wiki, page) or "").strip().lower() == "yes"
        except FetchError as exc:
            log.warning("cannot read the kill switch %s: %s; alerts stay queued", page, exc)
            return cached[1] if cached else False
        self._switches[key] = (now, on)
        return on

    def revision_info(self, wiki: WikiSettings, rev_id: int) -> dict[str, Any]:
        """A revision's parent, page, namespace, user and summary (for `flagbot explain`)."""
        site = self.site(wiki)
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


def _state(rev: dict[str, Any]) -> str:
    if rev.get("texthidden") or rev.get("sha1hidden") or rev.get("suppressed"):
        return "hidden"
    return "reverted" if "mw-reverted" in rev.get("tags", []) else "visible"


def _make_site(wiki: WikiSettings, settings: Settings) -> Any:
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
    return site
