"""Login with the wiki account (MediaWiki OAuth 2.0 through Authlib), roles from wiki groups,
CSRF tokens, and the access rules every view goes through."""

from __future__ import annotations

import functools
import hmac
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, current_app, redirect, request, session, url_for

from flagbot.config import OVERSIGHT_CATEGORIES, OVERSIGHT_ROUTE, Settings, WikiSettings
from flagbot.errors import FetchError
from flagbot.store import Flag
from flagbot.wiki import WikiClient

ADMIN, OVERSIGHTER = "admin", "oversighter"
# no login: the login flow itself, and the monitors' endpoints (counts only, no flag data)
PUBLIC_ENDPOINTS = ("login", "login_start", "oauth_callback", "static", "healthz", "metrics")


def wiki_groups(client: WikiClient, wiki: WikiSettings) -> Callable[[str], frozenset[str]]:
    """Groups from the wiki itself (`list=users&usprop=groups`)."""
    return lambda user: client.user_groups(wiki, user)


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
        callback = url_for("oauth_callback", _external=True)
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
        session.clear()
        session["user"] = name
        session["csrf"] = secrets.token_urlsafe(32)
        refresh_role(force=True)
        context()["store"].audit(name, "login", None, "")
        return redirect(url_for("queue"))

    @app.post("/logout")
    def logout() -> Any:
        check_csrf()
        session.clear()
        return redirect(url_for("login"))

    @app.before_request
    def require_login() -> Any:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if "user" not in session:
            return redirect(url_for("login"))
        refresh_role()
        if request.method == "POST":
            check_csrf()
        return None


def context() -> dict[str, Any]:
    found: dict[str, Any] = current_app.extensions["flagbot"]
    return found


def refresh_role(force: bool = False) -> None:
    """Read the user's groups from the wiki at login and every `groups_refresh_seconds`."""
    web = context()["settings"].web
    if not force and time.time() - session.get("groups_at", 0) < web.groups_refresh_seconds:
        return
    try:
        groups = context()["groups"](session["user"])
    except FetchError:
        if force:
            abort(503)
        return  # keep the last known role for now
    role = ""
    if groups & set(web.oversight_groups):
        role = OVERSIGHTER
    elif groups & set(web.admin_groups):
        role = ADMIN
    session["role"] = role
    session["groups_at"] = time.time()


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
    """Private categories, anything routed to oversight, and what a reviewer sent there."""
    return (
        not OVERSIGHT_CATEGORIES_SET.isdisjoint(flag.categories)
        or OVERSIGHT_ROUTE in flag.routes
        or flag.status == "oversight"
    )


OVERSIGHT_CATEGORIES_SET = frozenset(OVERSIGHT_CATEGORIES)


def can_see(flag: Flag) -> bool:
    if role() == OVERSIGHTER:
        return True
    return role() == ADMIN and not oversight_only(flag)


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
