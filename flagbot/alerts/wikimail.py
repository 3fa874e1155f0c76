"""Wiki email channel: the wiki's own email-this-user (`action=emailuser`) from the bot account.

The address is an account name on the wiki of the flagged edit (e.g. "Oversight"). The bot must
be logged in (pywikibot's user-config.py and password file), hold `sendemail`, and the target
must accept email; each is checked and reported plainly. A `ratelimited` answer is not waited
out inside pywikibot (it would sleep the sender): it comes back as a retry with a delay.
"""

from __future__ import annotations

from flagbot.alerts import Alert
from flagbot.config import Settings
from flagbot.errors import DeliveryError, FetchError
from flagbot.wiki import WikiClient

RATELIMIT_RETRY = 3600.0  # seconds; the wiki's emailuser limit is per day or per hour


def send(alert: Alert, subject: str, body: str, settings: Settings, client: WikiClient) -> None:
    import pywikibot
    from pywikibot.data.api import Request
    from pywikibot.exceptions import APIError, ApiTimeoutError, Error

    wiki = settings.wiki(alert.wiki)
    if wiki is None:
        raise DeliveryError(f"wikimail: {alert.wiki!r} is not a configured wiki", True)
    try:
        site = client.site(wiki)
        if not site.logged_in():
            site.login()
        if not site.has_right("sendemail"):
            raise DeliveryError(
                f"wikimail: the bot account {site.username()} on {wiki.id} lacks the "
                "`sendemail` right",
                permanent=True,
            )
        target = pywikibot.User(site, alert.address)
        if not target.isEmailable():
            raise DeliveryError(
                f"wikimail: {alert.address} on {wiki.id} does not accept email "
                "(no confirmed address, or email from other users disabled)",
                permanent=True,
            )
        answer = Request(
            site=site,
            parameters={
                "action": "emailuser",
                "target": alert.address,
                "subject": subject,
                "text": body,
                "token": site.get_tokens(["csrf"])["csrf"],
            },
            max_retries=0,  # ratelimited: give control back instead of sleeping here
        ).submit()
        result = answer.get("emailuser", {})
        if result.get("result") != "Success":  # e.g. the wiki's own mail server is down
            codes = [e.get("code", "?") for e in result.get("errors", [])] or [str(result)]
            raise DeliveryError(f"wikimail: {wiki.id} could not send: {', '.join(codes)}")
    except DeliveryError:
        raise
    except ApiTimeoutError:
        raise DeliveryError(
            f"wikimail: {wiki.id} rate-limits the bot's email", retry_after=RATELIMIT_RETRY
        ) from None
    except APIError as exc:
        if exc.code == "ratelimited":
            raise DeliveryError(
                f"wikimail: {wiki.id} rate-limits the bot's email", retry_after=RATELIMIT_RETRY
            ) from None
        permanent = exc.code in ("noemail", "notarget", "nowikiemail", "usermaildisabled")
        raise DeliveryError(f"wikimail: {wiki.id} answered {exc.code}", permanent) from None
    except (Error, FetchError) as exc:
        raise DeliveryError(f"wikimail: {wiki.id}: {exc}") from None
