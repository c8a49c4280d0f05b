"""Fair shares of the expensive requests. An export walks a whole execution (5,000 tasks are 25
upstream calls), and so do the heavy pages: the timeline of every task, the failure groups, the
search of every task's logs, and task lists filtered or ordered by the app. Each person, and each
worker process, runs only a few of each kind at once; beyond them the answer says so at once,
with a time to try again. A page holds its share while it is made; a download, whose work goes
on while it is sent, until its last byte is sent or its reader leaves."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Request, Response, abort, g, request
from werkzeug.wrappers import Response as BaseResponse

from ..common.config import Settings
from ..common.formatting import plural
from ..common.services import provide, services
from ..listing.query import FAILED_FIRST, LONGEST_WAIT_FIRST, SLOWEST_FIRST
from .auth import client_address
from .errorpage import error_page

EXPORT_ENDPOINTS = frozenset({"tasks.download", "runs.compare_export"})
HEAVY_ENDPOINTS = frozenset({"tasks.failure_groups", "runs.compare_runs", "logs.search_page"})
# Task-list parameters that make the app, not Blaxel, walk the execution.
WALKING_FILTERS = ("status", "cause")
WALKING_ORDERS = frozenset({SLOWEST_FIRST, LONGEST_WAIT_FIRST, FAILED_FIRST})


class Shares:
    """Running requests of one kind, per person and in all; enter() says whether one more may
    start."""

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


@dataclass(frozen=True)
class Refusal:
    """What a person is told beyond a share: `explanation` may name the share as {limit} (a
    count and the kind's noun, "2 downloads")."""

    status: int
    title: str
    explanation: str
    retry_after: int


@dataclass(frozen=True)
class Kind:
    """A kind of expensive request: its shares and what is said beyond each."""

    shares: Shares
    noun: str
    person: Refusal
    server: Refusal

    def refuse(self, reason: str) -> BaseResponse:
        refusal = self.person if reason == "person" else self.server
        explanation = refusal.explanation.format(limit=plural(self.shares.per_person, self.noun))
        response = error_page(refusal.status, refusal.title, explanation)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response


def exports(settings: Settings) -> Kind:
    return Kind(
        Shares(settings.exports_per_person, settings.exports_per_worker),
        "download",
        Refusal(
            429,
            "Too many downloads at once",
            "You already have {limit} running. This one can start once one of them has finished.",
            10,
        ),
        Refusal(
            503,
            "The server is busy with other downloads",
            "Each download reads a whole execution from Blaxel, so only a few run at once. "
            "Try again in a little while; the pages themselves are not affected.",
            30,
        ),
    )


def heavy_pages(settings: Settings) -> Kind:
    return Kind(
        Shares(settings.heavy_pages_per_person, settings.heavy_pages_per_worker),
        "view",
        Refusal(
            429,
            "Too many whole-execution views at once",
            "You already have {limit} loading, each reading a whole execution (a timeline of "
            "every task, failure groups, a filtered or slowest-first task list). This one can "
            "load once one of them has finished; try again in a few seconds.",
            5,
        ),
        Refusal(
            429,
            "The server is busy with other whole-execution views",
            "Timelines of every task, failure groups and filtered or slowest-first task lists "
            "each read a whole execution, so only a few load at once. Try again in a few "
            "seconds; other pages are not affected.",
            5,
        ),
    )


def enter(kind: Kind, settings: Settings) -> BaseResponse | None:
    """This request's share of `kind`, released when it is done; or the refusal to answer."""
    entered = kind.shares.enter(g.get("identity") or client_address(settings))
    if isinstance(entered, str):
        return kind.refuse(entered)
    g.share_release = entered
    return None


def take_heavy_share() -> None:
    """For a view that finds only once it has read upstream that it walks a whole execution (a
    failed execution's tasks open failed first): its share now, or the refusal."""
    heavy = services().heavy_pages
    if "share_release" in g or heavy is None:
        return
    refused = enter(heavy, services().settings)
    if refused is not None:
        abort(refused)


def kind_of(asked: Request) -> str | None:
    """Which share a request takes: an export, a page that walks a whole execution, or none."""
    if asked.endpoint in EXPORT_ENDPOINTS:
        return "export"
    if asked.endpoint in HEAVY_ENDPOINTS:
        return "heavy"
    if asked.endpoint == "tasks.index":
        args = asked.args
        # A timeline reads the whole execution unless it asks for the list's page alone.
        whole = bool(args.get("view")) and args.get("span") != "page"
        walked = args.get("sort") in WALKING_ORDERS or any(map(args.get, WALKING_FILTERS))
        return "heavy" if whole or walked else None
    return None


def register(app: Flask, settings: Settings) -> None:
    """After auth.register: a person is who auth says, or their address when nobody signs in."""
    kinds = {"export": exports(settings), "heavy": heavy_pages(settings)}
    provide(app, heavy_pages=kinds["heavy"])

    @app.before_request
    def take_a_share() -> BaseResponse | None:
        kind = kinds.get(kind_of(request) or "")
        return enter(kind, settings) if kind is not None else None

    @app.after_request
    def release_once_sent(response: Response) -> Response:
        if response.is_streamed:  # made while it is sent: its share goes once it is
            release = g.pop("share_release", None)
            if release is not None:
                response.call_on_close(release)
        return response

    @app.teardown_request
    def release_once_made(_: BaseException | None) -> None:
        release = g.pop("share_release", None)
        if release is not None:
            release()
