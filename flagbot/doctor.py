"""`flagbot doctor`: read-only checks of everything an operator gets wrong, one function each.

Each check returns a list of Findings (what was checked, the problem or None, the fix). Nothing is
written anywhere: the store is opened read-only in spirit (migrations do run, as on any start),
no alert is sent, no page edited.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flagbot.config import Settings, WikiSettings
from flagbot.errors import FetchError
from flagbot.wiki import WikiClient


@dataclass(frozen=True)
class Finding:
    check: str
    problem: str | None  # None: OK
    fix: str = ""


Check = Callable[[Settings, WikiClient], list[Finding]]


def check_store(settings: Settings, _client: WikiClient) -> list[Finding]:
    from flagbot.store import Store

    try:
        store = Store(settings.store).open()  # also migrates, as `flagbot run` would
        store.outcome_counts()
        store.close()
    except Exception as exc:  # noqa: BLE001 - every failure is a finding
        return [Finding("store reachable and migrated", str(exc), "check `store:` and the server")]
    return [Finding("store reachable and migrated", None)]


def check_model_and_rules(settings: Settings, _client: WikiClient) -> list[Finding]:
    from flagbot.classifier import load_model
    from flagbot.rules import load_rules

    found = []
    try:
        load_model(settings.model, settings.cascade)
        found.append(Finding(f"model {settings.model} loads", None))
    except Exception as exc:  # noqa: BLE001
        found.append(Finding(f"model {settings.model} loads", str(exc), "see the message"))
    try:
        failures = load_rules(settings.rules).check_examples()
        problem = f"{len(failures)} rule example(s) fail" if failures else None
        found.append(Finding("rules load, examples pass", problem, "flagbot rules check"))
    except Exception as exc:  # noqa: BLE001
        found.append(Finding("rules load, examples pass", str(exc), "flagbot rules check"))
    return found


def check_wikis(settings: Settings, client: WikiClient) -> list[Finding]:
    """Each wiki answers; for wikimail, the bot logs in, may send email, and each recipient
    accepts it; the kill switch page exists."""
    import pywikibot

    found = []
    for wiki in settings.wikis:
        try:
            site = client.site(wiki)
        except Exception as exc:  # noqa: BLE001
            found.append(Finding(f"{wiki.id} answers", str(exc), "check `url`/`script_path`"))
            continue
        found.append(Finding(f"{wiki.id} answers", None))
        found.append(_language(settings, wiki, site))
        mailed = [
            address.partition(":")[2]
            for route in {
                *settings.alerts.recipients,
                *settings.alerts.wiki_recipients.get(wiki.id, {}),
            }
            for address in settings.alerts.recipients_for(wiki.id, route)
            if address.startswith("wikimail:")
        ]
        if mailed:
            found.extend(_wikimail(site, wiki.id, mailed, pywikibot))
        page = settings.alerts.kill_switch_page
        if page:
            try:
                exists = pywikibot.Page(site, page).exists()
                problem = None if exists else f"{page} does not exist: alerts stay queued"
            except Exception as exc:  # noqa: BLE001
                problem = str(exc)
            found.append(Finding(f"{wiki.id} kill switch page", problem, f'create {page}: "yes"'))
    return found


def served_languages(settings: Settings) -> frozenset[str]:
    """The languages the configured models read, from their cards (a card that names none:
    English)."""
    from flagbot.classifier import resolve_model_path
    from flagbot.modelcard import card_languages

    served: frozenset[str] = frozenset()
    for spec in filter(None, (settings.model, settings.language_model)):
        card = resolve_model_path(spec).with_suffix(".json")
        if card.exists():
            served |= card_languages(json.loads(card.read_text(encoding="utf-8")))
    return served or frozenset({"en"})


def _language(settings: Settings, wiki: WikiSettings, site: Any) -> Finding:
    """Whether the model reads the wiki's content language (its setting, its address, or
    siteinfo): on an unread wiki, edits are counted as `unsupported_language:<code>`."""
    from flagbot.language import wiki_language

    check = f"{wiki.id} content language is read by the model"
    try:
        language = wiki_language(wiki) or str(site.siteinfo["lang"])
        served = served_languages(settings)
    except Exception as exc:  # noqa: BLE001 - every failure is a finding
        return Finding(check, str(exc), "set `language:` for the wiki in flagbot.yaml")
    if language.split("-")[0] in served or language in served:
        return Finding(check, None)
    return Finding(
        check,
        f"the wiki writes {language!r}; the model reads {', '.join(sorted(served))}: its edits are "
        f"counted as unsupported_language:{language}, only the rules for every language apply",
        "use a model whose card lists the language, or expect rule-only coverage",
    )


def _wikimail(site: object, wiki_id: str, targets: list[str], pywikibot: object) -> list[Finding]:
    found = []
    check = f"{wiki_id} bot account logs in with `sendemail`"
    try:
        if not site.logged_in():  # type: ignore[attr-defined]
            site.login()  # type: ignore[attr-defined]
        ok = site.has_right("sendemail")  # type: ignore[attr-defined]
        found.append(Finding(check, None if ok else "no `sendemail` right", "confirm its email"))
    except Exception as exc:  # noqa: BLE001
        found.append(Finding(check, str(exc), "check user-config.py and the password file"))
        return found
    for target in targets:
        check = f"{wiki_id} wikimail:{target} accepts email"
        try:
            ok = pywikibot.User(site, target).isEmailable()  # type: ignore[attr-defined]
            problem = None if ok else "no confirmed address, or email from users disabled"
        except Exception as exc:  # noqa: BLE001
            problem = str(exc)
        found.append(Finding(check, problem, "the account's email preferences"))
    return found


def check_smtp(settings: Settings, _client: WikiClient) -> list[Finding]:
    alerts = settings.alerts
    if not any(a.startswith("smtp:") for a in alerts.addresses()):
        return []
    from flagbot.alerts.smtp import session

    check = f"SMTP {alerts.smtp_host}:{alerts.smtp_port} connects and logs in"
    try:
        with session(alerts) as client:
            client.noop()
    except Exception as exc:  # noqa: BLE001
        return [Finding(check, str(exc), "check alerts.smtp and the password variable")]
    return [Finding(check, None)]


def check_oauth(settings: Settings, _client: WikiClient) -> list[Finding]:
    web = settings.web
    if not web.oauth_client_id:
        return [
            Finding("review queue OAuth", "web.oauth_client_id is empty", "register a consumer")
        ]
    missing = [
        v for v in (web.oauth_client_secret_env, web.secret_key_env) if not os.environ.get(v)
    ]
    problem = f"${', $'.join(missing)} not set" if missing else None
    return [Finding("review queue OAuth", problem, "set the environment variables")]


def check_global_routes(settings: Settings, _client: WikiClient) -> list[Finding]:
    """Which wikis' alerts go to a global route (`alerts.global_routes`), and why: they have
    no recipients of their own for the route (no local oversighters to mail)."""
    found = []
    for route, target in settings.alerts.global_routes.items():
        using = [w.id for w in settings.wikis if settings.alerts.uses_global_route(w.id, route)]
        shown = ", ".join(using[:10]) + (f" and {len(using) - 10} more" if len(using) > 10 else "")
        check = (
            f"{route} alerts of {len(using)} of {len(settings.wikis)} wikis go to {target} "
            f"(no alerts.wiki_recipients.<wiki>.{route} of their own)"
        ) + (f": {shown}" if using else "")
        found.append(Finding(check, None))
    return found


MEDIAWIKI_NAMESPACE = 8  # only interface admins edit its .json pages


def check_community(settings: Settings, client: WikiClient) -> list[Finding]:
    """Each wiki's community settings page, read now: which revision would be in force, and
    what keeps a newer one out (flagbot.community)."""
    from flagbot.community import CommunityPages

    if not settings.community.page:
        return []
    pages = CommunityPages(settings, client)
    found = []
    for wiki in settings.wikis:
        state = pages.refresh_wiki(wiki)
        check = f"{wiki.id} community settings {settings.community.page}"
        check += f" (revision {state.rev} in force)" if state.rev else " (none: flagbot.yaml alone)"
        fix = f"an admin corrects {settings.community.page} (flagbot/community.schema.json)"
        found.append(Finding(check, state.problem or None, fix))
        found.append(_protection(settings, client, wiki))
    return found


def _protection(settings: Settings, client: WikiClient, wiki: WikiSettings) -> Finding:
    """Whether only admins can edit the settings page: the MediaWiki namespace (interface
    admins) or edit protection. Others' revisions never count, but each shows as a problem."""
    page = settings.community.page
    check = f"{wiki.id} only admins can edit {page}"
    try:
        namespace, levels = client.edit_protection(wiki, page)
    except FetchError as exc:
        return Finding(check, str(exc), "check the wiki answers")
    if namespace == MEDIAWIKI_NAMESPACE or levels:
        return Finding(check, None)
    fix = "protect it (edit: administrators only), or use a MediaWiki: page"
    return Finding(check, "anyone can edit it: their revisions are ignored, and named", fix)


CHECKS: tuple[Check, ...] = (
    check_store,
    check_model_and_rules,
    check_wikis,
    check_global_routes,
    check_community,
    check_smtp,
    check_oauth,
)


def run_checks(settings: Settings, client: WikiClient) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(settings, client)]


def table(findings: list[Finding]) -> str:
    width = max((len(f.check) for f in findings), default=10)
    lines = []
    for f in findings:
        status = "OK" if f.problem is None else f"PROBLEM: {f.problem} (fix: {f.fix})"
        lines.append(f"{f.check:<{width}}  {status}")
    return "\n".join(lines)
