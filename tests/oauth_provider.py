"""A stand-in for MediaWiki's OAuth 2.0 provider, for browser tests (a real HTTP server).

It implements the three endpoints flagbot uses — `Special:OAuth/authorize`, `rest.php/oauth2/
access_token` and `rest.php/oauth2/resource/profile` — and approves every request as the user
the test names. Debian's MediaWiki 1.39 package has no OAuth extension, so the provider is this
helper; the user's groups still come from the real test wiki.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse


class OAuthProvider:
    def __init__(self, client_id: str, client_secret: str):
        self.client_id = client_id
        self.client_secret = client_secret
        self.user = ""  # who "logs in" at the wiki next
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.requests: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                provider.requests.append(url.path)
                if url.path == "/index.php" and query.get("title") == "Special:OAuth/authorize":
                    if query.get("client_id") != provider.client_id:
                        return self._json(400, {"error": "invalid_client"})
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = provider.user
                    target = (
                        query["redirect_uri"]
                        + "?"
                        + urlencode({"code": code, "state": query.get("state", "")})
                    )
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if url.path == "/rest.php/oauth2/resource/profile":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in provider.tokens:
                        return self._json(401, {"error": "invalid_token"})
                    return self._json(200, {"sub": 1, "username": provider.tokens[token]})
                return self._json(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.requests.append(self.path)
                if urlparse(self.path).path != "/rest.php/oauth2/access_token":
                    return self._json(404, {"error": "not found"})
                if (
                    form.get("client_id") != provider.client_id
                    or form.get("client_secret") != provider.client_secret
                    or form.get("code") not in provider.codes
                ):
                    return self._json(400, {"error": "invalid_grant"})
                token = secrets.token_urlsafe(24)
                provider.tokens[token] = provider.codes.pop(form["code"])
                return self._json(
                    200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OAuthProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
