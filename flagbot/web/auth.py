"""Login with the wiki account (MediaWiki OAuth 2.0 through Authlib), roles from wiki groups,
CSRF tokens, and the access rules every view goes through."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, redirect, request, session, url_for

from flagbot.config import OVERSIGHT_CATEGORIES, Settings, WikiSettings
from flagbot.errors import FetchError
from flagbot.store import Flag
from flagbot.web.services import GroupsOnWiki, services
from flagbot.wiki import WikiClient

ADMIN, OVERSIGHTER = "admin", "oversighter"
# no login: the login flow itself, and the monitors' endpoints (counts only, no flag data)
MAX_AFTER_LOGIN = 2000  # characters of a report link kept across the login
PUBLIC_ENDPOINTS = (
    "login", "login_start", "oauth_callback", "static", "healthz", "metrics", "gadget",
)  # fmt: skip


def wiki_groups(settings: Settings, client: WikiClient) -> GroupsOnWiki:
    """Groups from each wiki itself (`list=users&usprop=groups`); `fresh` skips the cache (a
    login must see today's groups, not the last hour's)."""

    def lookup(wiki_id: str, user: str, fresh: bool = False) -> frozenset[str]:
        wiki = settings.wiki(wiki_id)
        if wiki is None:
            return frozenset()
        return client.user_groups(wiki, user, fresh=fresh)

    return lookup


def init(app: Flask, settings: Settings, wiki: WikiSettings, base: str) -> None:
    oauth = OAuth(app)
    oauth.register(
        "mediawiki",
        client_id=settings.web.oauth_client_id,
        client_secret=os.environ.get(settings.web.oauth_client_secret_env, ""),
        authorize_url=f"{base}/index.php?title=Special:OAuth/authorize",
        access_token_url=f"{base}/rest.php/oauth2/access_token",
        api_base_url=f"{base}/rest.php/oauth2/",
        client_kwargs={"token_endpoint_auth_method": "client_secret_post"},
    )

    @app.get("/login")
    def login() -> Any:
        if "user" in session:
            return redirect(url_for("queue"))
        from flask import render_template

        return render_template("login.html", wiki=wiki.id)

    @app.get("/login/start")
    def login_start() -> Any:
        # a link, not a form: the CSP's form-action 'self' would stop the redirect to the wiki;
        # Authlib's `state` parameter protects the round trip instead
        # the configured address, never one built from the request's Host header (which
        # whoever sends the request chooses)
        base = settings.web.base_url.rstrip("/")
        callback = f"{base}/oauth/callback" if base else url_for("oauth_callback", _external=True)
        return oauth.mediawiki.authorize_redirect(callback)

    @app.get("/oauth/callback")
    def oauth_callback() -> Any:
        try:
            token = oauth.mediawiki.authorize_access_token()
            profile = oauth.mediawiki.get("resource/profile", token=token).json()
        except Exception:  # noqa: BLE001 - a refused or broken login: back to the start
            abort(403)
        name = profile.get("username")
        if not isinstance(name, str) or not name:
            abort(403)
        after = session.get("after_login", "")
        session.clear()
        session["user"] = name
        session["csrf"] = secrets.token_urlsafe(32)
        session["login_at"] = time.time()
        refresh_role(force=True)
        services().store.audit(name, "login", None, "")
        # only this app's report form: never a redirect elsewhere
        return redirect(after if after.startswith("/report?") else url_for("queue"))

    @app.post("/logout")
    def logout() -> Any:
        check_csrf()
        # the session cookie lives in the browser: remember the logout here, so a copy of the
        # cookie (another tab, a stolen one) is refused from now on
        services().store.set_control(_logout_key(session["user"]), str(time.time()))
        session.clear()
        return redirect(url_for("login"))

    @app.before_request
    def require_login() -> Any:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if "user" not in session:
            # from the wiki's "Report privately" link: the form, filled in, after login (a
            # gadget's link is a few hundred characters; a longer one would make the session
            # cookie too large for the browser, and the login would fail)
            report_link = request.endpoint == "report" and request.method == "GET"
            if report_link and len(request.full_path) <= MAX_AFTER_LOGIN:
                session["after_login"] = request.full_path
            return redirect(url_for("login"))
        logged_out = services().store.get_control(_logout_key(session["user"]))
        if logged_out is not None and session.get("login_at", 0) <= float(logged_out):
            session.clear()  # a session from before a logout
            return redirect(url_for("login"))
        refresh_role()
        if request.method == "POST":
            check_csrf()
        return None


def _logout_key(user: str) -> str:
    return "logout:" + hashlib.sha256(user.encode()).hexdigest()[:40]


def refresh_role(force: bool = False) -> None:
    """Read the user's groups on every configured wiki, from the wiki itself (never a cache),
    at login and every `groups_refresh_seconds`: rights are per wiki, as on the wikis themselves.
    A wiki that cannot be read keeps the last role it gave for at most two more re-checks;
    after that the user has no role there. (The re-check was answered from an hour's cache,
    and an unreadable wiki kept a revoked reviewer's role without bound.)"""
    settings = services().settings
    web = settings.web
    now = time.time()
    if not force and now - session.get("groups_at", 0) < web.groups_refresh_seconds:
        return
    known: dict[str, str] = session.get("roles", {})
    confirmed: dict[str, float] = dict(session.get("roles_at", {}))
    roles: dict[str, str] = {}
    for wiki in settings.wikis:
        try:
            groups = services().groups(wiki.id, session["user"], True)
        except FetchError:
            fresh_enough = now - confirmed.get(wiki.id, 0) <= 3 * web.groups_refresh_seconds
            if wiki.id in known and not force and fresh_enough:
                roles[wiki.id] = known[wiki.id]  # keep the last known role for a while
            continue
        confirmed[wiki.id] = now
        if groups & set(web.oversight_groups):
            roles[wiki.id] = OVERSIGHTER
        elif groups & set(web.admin_groups):
            roles[wiki.id] = ADMIN
        else:
            roles[wiki.id] = ""
    if not roles and force:
        abort(503)  # no wiki answered: nobody can say what this user may see
    session["roles"] = roles
    session["roles_at"] = confirmed
    session["role"] = next((r for r in (OVERSIGHTER, ADMIN) if r in roles.values()), "")
    session["groups_at"] = now


def role_on(wiki_id: str) -> str:
    return str(session.get("roles", {}).get(wiki_id, ""))


def oversees() -> set[str]:
    """The wikis where the user is an oversighter."""
    return {w for w, r in session.get("roles", {}).items() if r == OVERSIGHTER}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, "missing or wrong CSRF token")


def role() -> str:
    return str(session.get("role", ""))


def oversight_only(flag: Flag) -> bool:
    """Personal information and outing, and what a reviewer sent to oversight."""
    return not OVERSIGHT_CATEGORIES_SET.isdisjoint(flag.categories) or flag.status == "oversight"


OVERSIGHT_CATEGORIES_SET = frozenset(OVERSIGHT_CATEGORIES)


def can_see(flag: Flag) -> bool:
    """By the user's role on the flag's own wiki."""
    wiki_role = role_on(flag.wiki)
    if wiki_role == OVERSIGHTER:
        return True
    return wiki_role == ADMIN and not oversight_only(flag)


def reviewer(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admins and oversighters only; anyone else: 403 with nothing about flags."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if role() not in (ADMIN, OVERSIGHTER):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def oversighter(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if role() != OVERSIGHTER:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
