"""The WSGI entry point for production servers: `gunicorn 'flagbot.web.wsgi:app'`.

The configuration file comes from the FLAGBOT_CONFIG environment variable.
"""

from __future__ import annotations

import os

from flagbot.config import load_settings
from flagbot.web import create_app

app = create_app(load_settings(os.environ["FLAGBOT_CONFIG"]))
