"""The review queue: a Flask app where admins and oversighters decide on flagged diffs.

`create_app(settings, client)` is the WSGI app (`flagbot web` serves it on loopback; behind
gunicorn in production). Everyone logs in with their wiki account through MediaWiki OAuth 2.0; their
groups on the wiki decide what they see: admins see attacks, harassment, hate and threats;
only oversighters see personal information and outing; anyone else gets a 403 and learns
nothing. Every view and decision is written to the audit log.
"""

from __future__ import annotations

import inspect
import json
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request

from flagbot.config import Settings
from flagbot.errors import ConfigError
from flagbot.language import wiki_language
from flagbot.messages import best_language, html_message, message
from flagbot.store import Store
from flagbot.web.services import (
    AccountLookup,
    Assessments,
    Assessor,
    RevisionLookup,
    Services,
    TagsLookup,
)
from flagbot.wiki import WikiClient

# (user) → groups on every wiki, or (wiki id, user) → groups on that wiki
GroupsLookup = Callable[..., frozenset[str]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(
    settings: Settings,
    client: WikiClient,
    store: Store | None = None,
    groups_lookup: GroupsLookup | None = None,
    oauth_base: str | None = None,
    revision_lookup: RevisionLookup | None = None,
    account_lookup: AccountLookup | None = None,
    assessor: Assessor | None = None,
    tags_lookup: TagsLookup | None = None,
) -> Flask:
    """The app. The lookups, the assessor of reported diffs and `oauth_base` default to the
    configured wikis, asked through `client` (the process's one client)."""
    from flagbot.web import auth, views

    web = settings.web
    wiki = settings.wiki(web.oauth_wiki) if web.oauth_wiki else settings.wikis[0]
    if wiki is None:
        raise ConfigError(f"web.oauth_wiki: {web.oauth_wiki!r} is not a configured wiki")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get(web.secret_key_env) or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=web.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    store = store or Store(settings.store).open()
    app.extensions["flagbot"] = Services(
        settings=settings,
        store=store,
        wiki=wiki,
        groups=_per_wiki(groups_lookup) if groups_lookup else auth.wiki_groups(settings, client),
        revision=revision_lookup or _wiki_revision_state(settings, client),
        account=account_lookup or _wiki_account(settings, client),
        tags=tags_lookup or _wiki_revision_tags(settings, client),
        assessments=Assessments(assessor or _pipeline_assessor(settings, client), store),
    )
    content_language = wiki_language(wiki)

    @app.before_request
    def choose_language() -> None:
        """The reader's language: ?uselang= (as on MediaWiki), the browser's, the wiki's.
        Registered first: the login check's own pages are read in it too."""
        wanted = [request.args.get("uselang", ""), *request.accept_languages.values()]
        g.language = best_language(filter(None, wanted), content_language)

    app.jinja_env.globals.update(
        msg=lambda key, *params: html_message(g.get("language", "en"), key, *params),
        language=lambda: g.get("language", "en"),
    )
    auth.init(app, settings, wiki, oauth_base or f"{wiki.url}{wiki.script_path}")
    views.init(app)

    @app.get("/gadget.js")
    def gadget() -> Response:
        """The "Report privately" gadget with this flagbot's address and the wiki's label in
        it, for a wiki's interface admins to copy into MediaWiki:Gadget-flagbot-report.js (or a
        user's common.js to load). No login: it holds no data."""
        source = (Path(__file__).parent / "static" / "flagbot-report.js").read_text("utf-8")
        base = settings.web.base_url.rstrip("/") or request.url_root.rstrip("/")
        label = message(content_language, "flagbot-gadget-report")
        for placeholder, value in (("'__FLAGBOT_URL__'", base), ("'__LABEL__'", label)):
            source = source.replace(placeholder, json.dumps(value))
        return Response(source, mimetype="text/javascript")

    @app.get("/healthz")
    def healthz() -> Response:
        """For monitors and container restarts: the store answers. No login, no data."""
        try:
            app.extensions["flagbot"].store.outcome_counts()
        except Exception:  # noqa: BLE001 - any failure is "unhealthy", said plainly
            return Response("store unreachable\n", status=503, mimetype="text/plain")
        return Response("ok\n", mimetype="text/plain")

    if settings.web.metrics:

        @app.get("/metrics")
        def metrics() -> Response:
            from flagbot.metrics import CONTENT_TYPE, store_metrics
            from flagbot.sources import source_key

            store = app.extensions["flagbot"].store
            return Response(store_metrics(store, source_key(settings)), mimetype=CONTENT_TYPE)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # diff links must not leak the queue
        response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _per_wiki(lookup: Callable[..., frozenset[str]]) -> Callable[..., frozenset[str]]:
    """A lookup given as (user) → groups holds for every wiki; (wiki id, user) is per wiki."""
    if len(inspect.signature(lookup).parameters) >= 2:
        return lambda wiki_id, user, fresh=False: lookup(wiki_id, user)
    return lambda wiki_id, user, fresh=False: lookup(user)


def _wiki_revision_state(settings: Settings, client: WikiClient) -> RevisionLookup:
    def lookup(wiki_id: str, rev_id: int) -> str:
        wiki = settings.wiki(wiki_id)
        if wiki is None:
            return "visible"
        return client.revision_states(wiki, [rev_id])[rev_id]

    return lookup


def _wiki_revision_tags(settings: Settings, client: WikiClient) -> TagsLookup:
    def lookup(wiki_id: str, rev_ids: list[int]) -> dict[int, tuple[str, ...]]:
        wiki = settings.wiki(wiki_id)
        return client.revision_tags(wiki, rev_ids) if wiki else {}

    return lookup


def _wiki_account(settings: Settings, client: WikiClient) -> AccountLookup:
    def lookup(wiki_id: str, user: str) -> tuple[float | None, int]:
        wiki = settings.wiki(wiki_id)
        assert wiki is not None  # the caller checked the wiki is configured
        return client.account(wiki, user)

    return lookup


def _pipeline_assessor(settings: Settings, client: WikiClient) -> Assessor:
    """A reported diff read and scored as the pipeline would; the model and rules are loaded
    at the first report a reviewer opens, not when the queue starts."""
    from flagbot.budget import Workers

    lock = threading.Lock()
    scorers: list[Any] = []
    workers = Workers(settings.budget.seconds, 1)  # reading a diff, under the bot's budget

    def assess(wiki_id: str, rev_id: int) -> dict[str, Any]:
        from flagbot.bot import build_scorer
        from flagbot.explain import explain_revision

        with lock:
            if not scorers:
                scorers.append(build_scorer(settings))
        return explain_revision(settings, client, scorers[0], wiki_id, rev_id, workers)

    return assess
