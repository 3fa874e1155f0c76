"""The WSGI entry point for production servers: `gunicorn 'flagbot.web.wsgi:app'`.

The configuration file comes from the FLAGBOT_CONFIG environment variable. A production server
runs several workers: without the session secret (`web.secret_key_env`, FLAGBOT_WEB_SECRET by
default) each would make its own, and reviewers were logged out at random and OAuth callbacks
failed, so the app refuses to start without it.
"""

from __future__ import annotations

import os

from flagbot.errors import ConfigError
from flagbot.settings_file import load_settings
from flagbot.web import create_app
from flagbot.wiki import WikiClient

settings = load_settings(os.environ["FLAGBOT_CONFIG"])
if not os.environ.get(settings.web.secret_key_env):
    raise ConfigError(
        f"${settings.web.secret_key_env} is not set: every worker would make its own session "
        "secret (random logouts, failed logins); set it to one random value for all workers"
    )
app = create_app(settings, WikiClient(settings))
