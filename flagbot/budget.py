"""Per-edit work under a time budget it cannot overrun: worker processes, killed when late.

Why processes: wikitext parsing is pure Python, and a thread cannot be stopped. One talk-page
edit of 20,000 unclosed `<ref>` tags (349 KB) kept `wikitext.readable_text` busy for 50-80 s, and
a death threat posted a second later on another page waited behind it. Here each call runs in a
worker process; a call still running after `seconds` has its worker killed (a fresh one takes
its place on the next call) and raises OverBudget, which the pipeline counts and routes for
review: an edit too big to read is itself worth a look, never silently dropped.

Workers are started by a fork server (not forked from the bot, whose threads hold locks), with
flagbot's parsing modules preloaded, so a replacement costs milliseconds. A worker's crash is the
call's error (Poison for the one edit), never the bot's.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from flagbot.errors import FlagbotError

log = logging.getLogger(__name__)
PRELOAD = ["flagbot.pipeline"]  # what the workers need: diffs, wikitext, patterns, mwparserfromhell


class OverBudget(FlagbotError):
    """A per-edit step ran past its budget and was stopped; `reason` is the counted skip."""

    def __init__(self, stage: str, seconds: float):
        super().__init__(f"{stage} took more than {seconds:g} s")
        self.reason = f"over_budget:{stage}"


class WorkerDied(FlagbotError):
    """A worker process ended in the middle of a call (killed from outside, out of memory)."""


def _serve(conn: Connection) -> None:
    """A worker's loop: call what it is sent, send back ("ok", result) or ("error", exception)."""
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", function(*args)))
        except Exception as exc:  # noqa: BLE001 - the caller decides what it means
            try:
                conn.send(("error", exc))
            except Exception:  # noqa: BLE001 - an exception that does not pickle
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class Workers:
    """Up to `size` worker processes shared by the pipeline's threads; `run` takes an idle one
    (or starts one), and kills it if the call overruns `seconds`."""

    def __init__(self, seconds: float, size: int):
        self.seconds = seconds
        self._idle: list[tuple[Any, Connection]] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._context: Any = None

    def _start(self) -> tuple[Any, Connection]:
        with self._lock:
            if self._context is None:
                self._context = multiprocessing.get_context("forkserver")
                self._context.set_forkserver_preload(PRELOAD)
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        return process, ours

    def run(self, stage: str, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` in a worker, within the budget; raises OverBudget when late, and
        whatever the function raised."""
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            process, conn = worker or self._start()
            try:
                conn.send((function, args))
                ready = conn.poll(self.seconds)
                status, value = conn.recv() if ready else ("late", None)
            except (EOFError, OSError):
                status, value = "died", None
            if status in ("late", "died"):
                process.kill()
                process.join()
                conn.close()
                if status == "died":
                    raise WorkerDied(f"the {stage} worker ended during the call")
                log.warning(
                    "a %s step ran past its %g s budget; its worker was stopped",
                    stage,
                    self.seconds,
                )
                raise OverBudget(stage, self.seconds)
            with self._lock:
                self._idle.append((process, conn))
            if status == "error":
                raise value if isinstance(value, BaseException) else RuntimeError(value)
            return value

    def close(self) -> None:
        """Stop the idle workers (a busy one ends with its call, or with the bot)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for process, conn in idle:
            conn.close()  # its loop ends on EOF
            process.join(timeout=1)
            if process.is_alive():
                process.kill()
                process.join()
