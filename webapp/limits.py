"""Fair shares of the expensive request: an export walks a whole execution (5,000 tasks are 25
upstream calls), so each person, and each worker process, runs only a few at once. A download
holds its share until its last byte is sent or its reader leaves."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from flask import Flask, Response, g, request
from werkzeug.wrappers import Response as BaseResponse

from .auth import client_address
from .config import Settings
from .handlers import error_page

EXPORT_ENDPOINTS = frozenset({"tasks.download"})


class ExportShares:
    """Running exports, per person and in all; enter() says whether one more may start."""

    def __init__(self, per_person: int, in_all: int) -> None:
        self.per_person = per_person
        self.in_all = in_all
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    def enter(self, person: str) -> Callable[[], None] | str:
        """A release function, or why not: "person" (theirs are running) or "server"."""
        with self._lock:
            if self._running[person] >= self.per_person:
                return "person"
            if self._running.total() >= self.in_all:
                return "server"
            self._running[person] += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if not released.is_set():
                    released.set()
                    self._running[person] -= 1
                    if not self._running[person]:
                        del self._running[person]

        return release


def _refuse(reason: str, settings: Settings) -> BaseResponse:
    if reason == "person":
        response = error_page(
            429,
            "Too many downloads at once",
            f"You already have {settings.exports_per_person} downloads running. This one can "
            f"start once one of them has finished.",
        )
        response.headers["Retry-After"] = "10"
    else:
        response = error_page(
            503,
            "The server is busy with other downloads",
            "Each download reads a whole execution from Blaxel, so only a few run at once. "
            "Try again in a little while; the pages themselves are not affected.",
        )
        response.headers["Retry-After"] = "30"
    return response


def register(app: Flask, settings: Settings) -> None:
    """After auth.register: a person is who auth says, or their address when nobody signs in."""
    shares = ExportShares(settings.exports_per_person, settings.exports_per_worker)

    @app.before_request
    def take_a_share() -> BaseResponse | None:
        if request.endpoint not in EXPORT_ENDPOINTS:
            return None
        entered = shares.enter(g.get("identity") or client_address(settings))
        if isinstance(entered, str):
            return _refuse(entered, settings)
        g.export_release = entered
        return None

    @app.after_request
    def release_once_sent(response: Response) -> Response:
        release = g.pop("export_release", None)
        if release is not None:
            response.call_on_close(release)
        return response

    @app.teardown_request
    def release_if_never_sent(_: BaseException | None) -> None:
        release = g.pop("export_release", None)
        if release is not None:
            release()
