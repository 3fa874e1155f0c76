"""SMTP channel: mail to list addresses (oversight list, emergency address).

STARTTLS, implicit TLS or plain (loopback relays) per config; the password comes from the
environment variable the config names, never from flagbot.yaml.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import ssl
from collections.abc import Iterator

from flagbot.alerts import Alert, email_message
from flagbot.config import AlertSettings, Settings
from flagbot.errors import DeliveryError


@contextlib.contextmanager
def session(settings: AlertSettings) -> Iterator[smtplib.SMTP]:
    """A connected, secured and logged-in SMTP client (also `flagbot doctor`'s check)."""
    if settings.smtp_security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=settings.smtp_timeout,
            context=ssl.create_default_context(),
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = os.environ.get(settings.smtp_password_env)
            if password is None:
                raise DeliveryError(
                    f"alerts.smtp.username is set but ${settings.smtp_password_env} is not",
                    permanent=False,
                )
            client.login(settings.smtp_username, password)
        yield client


def send(alert: Alert, subject: str, body: str, full: Settings, _wiki: object = None) -> None:
    settings = full.alerts
    message = email_message(alert, subject, body, settings)
    try:
        with session(settings) as client:
            client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"recipient refused ({codes})", permanent=all(500 <= c < 600 for c in codes)
        ) from None
    except (smtplib.SMTPException, OSError) as exc:  # down, refused, timeout: try again later
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from None
