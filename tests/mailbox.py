"""A real SMTP server (aiosmtpd) on loopback for tests and benchmarks."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.mediawiki import free_port


class Mailbox:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives; can be stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.arrivals: list[float] = []  # time.time() of each message, same order
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                mailbox.arrivals.append(time.time())
                mailbox.messages.append((list(envelope.rcpt_tos), message))
                return "250 OK"

        self.handler = Handler()
        self.controller: Controller | None = None

    def start(self) -> None:
        # a stopped aiosmtpd controller cannot start again: a new one on the same port
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]

    def clear(self) -> None:
        self.messages.clear()
        self.arrivals.clear()
