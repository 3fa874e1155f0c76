"""Run flagbot as operators do — `flagbot run --config flagbot.yaml` in its own process — against
the test wiki, the relay and the SMTP server (test helper)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ALERT_ADDRESSES = {
    "admins": "admins@wiki.test",
    "oversight": "oversight@wiki.test",
    "emergency": "emergency@wiki.test",
}


def write_config(directory: Path, wiki: Any, relay: Any, mailbox: Any, **changes: Any) -> Path:
    source = {
        "type": "eventstreams",
        "url": relay.url,
        "read_timeout": 2,
        "max_backoff": 2,
        "overlap_seconds": 5,
        **changes.pop("source", {}),
    }
    config = {
        "user_agent_contact": "User:FlagBot <operator@wiki.test>",
        "wikis": [{"id": "testwiki", "url": wiki.url, "script_path": ""}],
        "source": source,
        "store": f"sqlite:///{directory / 'flagbot.sqlite3'}",
        "batch_size": 50,
        "alerts": {
            "recipients": {route: [f"smtp:{a}"] for route, a in ALERT_ADDRESSES.items()},
            "smtp": {"host": "127.0.0.1", "port": mailbox.port, "security": "none", "timeout": 5},
            "limits": {"smtp": 0},
            "burst_seconds": 0.5,
            "interval": 0.2,
        },
        **changes,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "flagbot.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class Bot:
    """One `flagbot run` process; started, killed or stopped by PID."""

    def __init__(self, config: Path):
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.log = config.parent / "bot.log"

    def start(self) -> Bot:
        # A fresh pywikibot directory per process: pywikibot slows every process down by the
        # number of others it finds registered there, and a killed process stays registered.
        # The user-config.py is what an operator of a small self-hosted wiki would write:
        # no pause between reads (pywikibot's default is 0.1 s, polite for Wikimedia).
        pywikibot_dir = Path(tempfile.mkdtemp(prefix="flagbot-bot-pwb-"))
        (pywikibot_dir / "user-config.py").write_text("minthrottle = 0\n", encoding="utf-8")
        env = {**os.environ, "PYWIKIBOT_DIR": str(pywikibot_dir), "OMP_NUM_THREADS": "1"}
        env.pop("PYWIKIBOT_NO_USER_CONFIG", None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flagbot.cli", "run", "--config", str(self.config)],
                cwd=self.config.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """kill -9: no chance to save anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as an operator's service manager would; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def __enter__(self) -> Bot:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.kill()


def wait_for(condition: Any, timeout: float = 60, bot: Bot | None = None) -> bool:
    """Poll `condition`; give up at the timeout, or at once if `bot` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if bot is not None and bot.process is not None and bot.process.poll() is not None:
            return bool(condition())
        time.sleep(0.2)
    return bool(condition())
