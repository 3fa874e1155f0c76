"""A throw-away real MediaWiki (Debian's `mediawiki` package, 1.39) on loopback, for tests.

SQLite database and `php -S` in a temp dir; the code stays in /usr/share/mediawiki and
MW_CONFIG_FILE points at this wiki's LocalSettings.php. Editors act through the raw Action API
(requests), which is what a person's browser does; flagbot itself talks to the wiki through
pywikibot, as in production. Every process started here is stopped by PID in `stop()`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

CODE = Path("/usr/share/mediawiki")
PASSWORD = "flagbot-test-Pa55word-9731"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MediaWiki:
    def __init__(self, root: Path, smtp_port: int | None = None, udp_port: int | None = None):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api.php"
        self.smtp_port = smtp_port
        self.udp_port = udp_port
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "MW_CONFIG_FILE": str(root / "LocalSettings.php"),
            "PHP_CLI_SERVER_WORKERS": "4",  # flagbot fetches diffs in parallel
        }

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> MediaWiki:
        if not (CODE / "maintenance" / "install.php").exists():
            raise RuntimeError(
                "MediaWiki is not installed; ./dev.sh test installs Debian's mediawiki package"
            )
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        self.maintenance(
            "install.php",
            "--dbtype=sqlite",
            f"--dbpath={self.root / 'data'}",
            "--dbname=testwiki",
            f"--server={self.url}",
            "--scriptpath=",
            f"--confpath={self.root}",
            "--lang=en",
            f"--pass={PASSWORD}",
            "TestWiki",
            "Admin",
        )
        with (self.root / "LocalSettings.php").open("a", encoding="utf-8") as f:
            f.write(self._settings())
        log = (self.root / "php.log").open("wb")
        self.process = subprocess.Popen(
            # revalidate_freq=0: a LocalSettings.php change (extra_settings) applies at once
            [
                "php",
                "-d",
                "opcache.revalidate_freq=0",
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(CODE),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.api_url, params={"format": "json"}, timeout=2).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"MediaWiki did not answer at {self.api_url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def _settings(self) -> str:
        lines = [
            "",
            "# flagbot test harness",
            "$wgRateLimits['edit'] = []; $wgRateLimits['emailuser'] = [];",
            "$wgRateLimits['emailuser-new'] = [];",
            "$wgEnableEmail = true; $wgEnableUserEmail = true; $wgEmailAuthentication = false;",
            '$wgPasswordSender = "wiki@testwiki.test";',
            "$wgMainCacheType = CACHE_NONE;",
            "$wgRCMaxAge = 90 * 24 * 3600;",
            "$wgShowExceptionDetails = true;",
        ]
        if self.smtp_port:
            lines.append(
                f"$wgSMTP = ['host' => '127.0.0.1', 'port' => {self.smtp_port}, "
                "'IDHost' => 'testwiki.test', 'localhost' => 'testwiki.test', 'auth' => false];"
            )
        if self.udp_port:
            lines.append(
                "$wgRCFeeds['udp'] = ['class' => UDPRCFeedEngine::class, "
                "'formatter' => JSONRCFeedFormatter::class, "
                f"'uri' => 'udp://127.0.0.1:{self.udp_port}'];"
            )
        return "\n".join(lines) + "\n"

    @contextlib.contextmanager
    def extra_settings(self, php: str) -> Iterator[None]:
        """Add LocalSettings.php lines for the duration (read on every request by php -S)."""
        path = self.root / "LocalSettings.php"
        original = path.read_text(encoding="utf-8")
        path.write_text(original + "\n" + php + "\n", encoding="utf-8")
        try:
            yield
        finally:
            path.write_text(original, encoding="utf-8")

    def maintenance(self, script: str, *args: str) -> str:
        done = subprocess.run(
            ["php", str(CODE / "maintenance" / script), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{script} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return done.stdout

    # --- accounts and edits -----------------------------------------------------------------
    def create_user(
        self, name: str, groups: tuple[str, ...] = (), email: str | None = None, bot: bool = False
    ) -> None:
        args = [name, PASSWORD, "--force"]
        if bot:
            args.append("--bot")
        if "sysop" in groups:
            args.append("--sysop")
        custom = [g for g in groups if g != "sysop"]
        if custom:
            args.append(f"--custom-groups={','.join(custom)}")
        self.maintenance("createAndPromote.php", *args)
        if email:
            self.maintenance("resetUserEmail.php", "--no-reset-password", name, email)

    def session(self, name: str) -> Editor:
        return Editor(self, name)


class Editor:
    """A logged-in account editing through the Action API, as a browser would."""

    def __init__(self, wiki: MediaWiki, name: str):
        self.wiki = wiki
        self.name = name
        self.http = requests.Session()
        token = self.get(action="query", meta="tokens", type="login")["query"]["tokens"]
        result = self.post(
            action="login", lgname=name, lgpassword=PASSWORD, lgtoken=token["logintoken"]
        )
        if result.get("login", {}).get("result") != "Success":
            raise RuntimeError(f"login of {name} failed: {result}")
        self.csrf = self.get(action="query", meta="tokens")["query"]["tokens"]["csrftoken"]

    def get(self, **params: Any) -> dict[str, Any]:
        params.update(format="json", formatversion=2)
        response = self.http.get(self.wiki.api_url, params=params, timeout=30)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def post(self, **params: Any) -> dict[str, Any]:
        params.update(format="json", formatversion=2)
        response = self.http.post(self.wiki.api_url, data=params, timeout=30)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        if "error" in data:
            raise RuntimeError(f"API error: {data['error']}")
        return data

    def edit(
        self, title: str, text: str, summary: str = "", append: bool = False, bot: bool = False
    ) -> dict:
        """Save an edit (with `bot`, marked as a bot edit, as bot frameworks do); returns the
        API's edit result (newrevid, oldrevid, new…)."""
        params: dict[str, Any] = {"action": "edit", "title": title, "summary": summary}
        if bot:
            params["bot"] = 1
        params["appendtext" if append else "text"] = text
        result: dict[str, Any] = self.post(**params, token=self.csrf)["edit"]
        if result.get("result") != "Success":
            raise RuntimeError(f"edit of {title} failed: {result}")
        return result

    def hide_revision(self, rev_id: int, suppress: bool = True) -> None:
        """Revision deletion of the text (and with suppress, hidden from admins too)."""
        self.post(
            action="revisiondelete",
            type="revision",
            ids=rev_id,
            hide="content",
            suppress="yes" if suppress else "nochange",
            reason="test",
            token=self.csrf,
        )
