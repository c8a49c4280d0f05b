"""`blaxel-jobs watch`: reads the workspace's executions every WEBAPP_WATCH_INTERVAL seconds and
posts a message to each webhook once for every execution that ends failed.

Exactly once, across restarts and watchers: each (execution, webhook) message is put in the
store's outbox once (the first to enqueue it wins), and each due message is claimed by one
watcher at a time (a transaction in SQLite, a script in Redis) before it is posted. A webhook
that fails is retried with backoff until it answers; its messages wait in the outbox meanwhile.
A watcher stopped between a webhook's 2xx and noting it may post that one message again once
its claim has lapsed: the one case of a second copy.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from werkzeug.serving import make_server

from ..blaxel import CachedClient, CallScope, Execution, PageRequest, Session, UpstreamError
from ..common.config import ConfigError, Settings, flag
from ..runs.window import groups_of
from ..store import DELIVERED_KEPT, Delivery, Outbox, StoreUnavailable
from .marks import Marks
from .webhooks import DeliveryFailed, Poster, Webhook, body, parse_webhooks

log = logging.getLogger(__name__)

FAILED_STATUSES = frozenset({"failed", "timeout"})
JOB_PAGES = 20  # pages of 100 jobs read per pass at most
EXECUTIONS_READ = 20  # each job's newest executions read per pass
TRIAGE_PAGES = 50  # pages of 200 tasks walked to group a failed run's causes (10,000 tasks)
LEASE_SECONDS = 120.0  # a claimed message is another watcher's again after this
BACKOFF_SECONDS = 15.0  # the first retry's wait; each further one doubles it...
MAX_BACKOFF_SECONDS = 900.0  # ...up to this
FAILING_AFTER = 3  # failed tries after which a webhook is reported failing
DELIVERIES_PER_ROUND = 200
TICK_SECONDS = 5.0  # how often the loop looks for messages due again
DRY_RUN_HOURS = 24  # how far back --dry-run looks


@dataclass(frozen=True)
class WatchSettings:
    interval: float = 60.0
    webhooks: tuple[Webhook, ...] = ()
    public_url: str = ""
    slower: bool = False
    bind: str = "127.0.0.1:8001"

    @classmethod
    def load(cls, source: Mapping[str, Any]) -> WatchSettings:
        raw = str(source.get("WEBAPP_WATCH_INTERVAL") or "60").strip()
        try:
            interval = float(raw)
        except ValueError:
            interval = 0.0
        if not 10 <= interval <= 86400:
            raise ConfigError(f"WEBAPP_WATCH_INTERVAL must be 10 to 86400 seconds, not {raw!r}")
        public_url = str(source.get("WEBAPP_PUBLIC_URL") or "").strip().rstrip("/")
        if public_url and not public_url.startswith(("https://", "http://")):
            raise ConfigError("WEBAPP_PUBLIC_URL must be the app's http(s) address")
        return cls(
            interval=interval,
            webhooks=parse_webhooks(str(source.get("WEBAPP_WEBHOOK_URLS") or "")),
            public_url=public_url,
            slower=flag(source.get("WEBAPP_WATCH_SLOWER")),
            bind=str(source.get("WEBAPP_WATCH_BIND") or "127.0.0.1:8001").strip(),
        )


def backoff(attempts: int) -> float:
    """Seconds before the next try of a message that has failed `attempts` times."""
    return min(BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def message_key(kind: str, job: str, execution: str) -> str:
    return json.dumps([kind, job, execution])


class Watcher:
    """One watcher: `scan` finds runs that ended failed and enqueues their messages, `deliver`
    posts the due ones. `now` (seconds since the epoch) is the only clock it reads."""

    def __init__(
        self,
        api: CachedClient,
        outbox: Outbox,
        settings: WatchSettings,
        app_settings: Settings,
        *,
        marks: Marks,
        link: Callable[[str, str], str],
        now: Callable[[], float],
        poster: Poster | None = None,
    ) -> None:
        self.api = api
        self.marks = marks
        self.outbox = outbox
        self.settings = settings
        self.app_settings = app_settings
        self.link = link
        self.now = now
        self.poster = poster or Poster(settings.webhooks)
        self.hooks = {hook.label: hook for hook in settings.webhooks}
        self._enqueued: set[str] = set()  # keys this process has enqueued: no second walk
        self._failing: set[str] = set()  # labels reported failing, until they answer again
        self.scan_problem = ""  # why the last scan failed, "" if it did not

    # --- finding failed runs ---------------------------------------------------------------

    def scan(self) -> int:
        """Enqueue a message per webhook for each run that ended failed since watching began;
        how many messages were new."""
        now = self.now()
        since = max(self.outbox.baseline(now), now - DELIVERED_KEPT)
        added = 0
        for message in self.messages(since):
            key = message_key(message["kind"], message["job"], message["execution"])
            for hook in self.settings.webhooks:
                delivery = Delivery(key, hook.label, json.dumps(message))
                added += self.outbox.enqueue(delivery, now)
            self._enqueued.add(key)
        return added

    def preview(self) -> list[dict[str, Any]]:
        """What a scan of the last DRY_RUN_HOURS would send, touching no store."""
        return list(self.messages(self.now() - DRY_RUN_HOURS * 3600, fresh=True))

    def messages(self, since: float, fresh: bool = False) -> Iterator[dict[str, Any]]:
        for job, execution in self._ended(since):
            kinds = []
            if execution.status in FAILED_STATUSES:
                kinds.append("failed")
            slower = self.marks.slower_than_usual(job, execution) if self.settings.slower else []
            if slower:
                kinds.append("slower")
            for kind in kinds:
                if fresh or message_key(kind, job, execution.id) not in self._enqueued:
                    yield self._message(kind, job, execution, slower)

    def _ended(self, since: float) -> Iterator[tuple[str, Execution]]:
        session = self._session()
        cursor = ""
        for _ in range(JOB_PAGES):
            page = session.list_jobs(PageRequest(limit=100, cursor=cursor), shared=False)
            for job in page.items:
                executions = self._session().list_executions(
                    job.name, PageRequest(limit=EXECUTIONS_READ)
                )
                for execution in executions.items:
                    ended = execution.completed_at or execution.updated_at
                    if execution.is_finished and ended and ended.timestamp() >= since:
                        yield job.name, execution
            if not page.has_more:
                return
            cursor = page.next_cursor

    def _message(
        self, kind: str, job: str, execution: Execution, slower: list[str]
    ) -> dict[str, Any]:
        stats = execution.stats
        groups, complete = self._groups(job, execution)
        ended = execution.completed_at or execution.updated_at
        return {
            "kind": kind,
            "job": job,
            "execution": execution.id,
            "status": execution.status,
            "ended_at": ended.astimezone(UTC).isoformat() if ended else None,
            "url": self.link(job, execution.id),
            "counts": {"total": stats.total, **stats.task_counts(), "retried": stats.retried},
            "failure_groups": groups,
            "failure_groups_complete": complete,
            # What was above the usual p95 ("run time", "queue wait"), on a "slower" message.
            **({"slower": slower} if kind == "slower" else {}),
        }

    def _groups(self, job: str, execution: Execution) -> tuple[list[dict[str, Any]], bool]:
        """The run's failure groups, each marked new or recurring when the digests know; the
        run's own digest is kept once its walk is whole, for the runs after it."""
        if not (execution.stats.failure or execution.stats.retried):
            return [], True
        try:
            found = groups_of(
                self._session(),
                self.marks.kept,
                (job, execution.id),
                execution,
                budget=TRIAGE_PAGES,
                lifetime=self.app_settings.cache_final_ttl,
            )
        except UpstreamError as error:
            log.warning("watch: failure groups of %s/%s unread (%s)", job, execution.id, error)
            return [], False
        groups = []
        # The causes of failures; tasks that recovered after retries are only counted.
        for group in (group for group in found.ordered if group.cause.outcome == "failed"):
            entry = {
                "cause": group.cause.id,  # the key of the run page's `cause=` view
                "count": group.count,
                "outcome": group.cause.outcome,
                "reason": group.cause.reason,
                "pattern": group.cause.pattern,
                "tasks": group.tasks,
            }
            marked = self.marks.mark(job, execution, group.cause.id)
            if marked is not None:
                entry["mark"], entry["seen_in_runs"], entry["runs_read"] = marked
            groups.append(entry)
        return groups, found.complete and not found.stopped

    def _session(self) -> Session:
        return Session(self.api, CallScope.starting_now(self.app_settings.timeout))

    # --- delivering ------------------------------------------------------------------------

    def deliver(self) -> int:
        """Post every due message, each claimed first; how many were delivered."""
        delivered = 0
        for _ in range(DELIVERIES_PER_ROUND):
            claimed = self.outbox.claim(self.now(), LEASE_SECONDS, 1)
            if not claimed:
                break
            delivered += self._post(claimed[0])
        return delivered

    def _post(self, delivery: Delivery) -> bool:
        hook = self.hooks.get(delivery.webhook)
        attempts = delivery.attempts + 1
        try:
            if hook is None:
                raise DeliveryFailed("this watcher has no such webhook configured")
            self.poster.send(hook, body(hook, json.loads(delivery.body)))
        except DeliveryFailed as failure:
            self.outbox.retry(delivery, self.now() + backoff(attempts), str(failure))
            if attempts >= FAILING_AFTER and delivery.webhook not in self._failing:
                self._failing.add(delivery.webhook)
                log.warning(
                    "watch: webhook %s keeps failing (%s, %d tries of one message); its "
                    "messages wait in the store and are retried",
                    delivery.webhook,
                    failure,
                    attempts,
                )
            return False
        self.outbox.delivered(delivery, self.now())
        if delivery.webhook in self._failing:
            self._failing.discard(delivery.webhook)
            log.warning("watch: webhook %s answers again", delivery.webhook)
        return True

    def failing(self) -> dict[str, int]:
        """Webhooks with a message that has failed FAILING_AFTER times or more: how many of
        their messages wait."""
        waiting: dict[str, int] = {}
        for delivery in self.outbox.pending(1000):
            if delivery.attempts >= FAILING_AFTER:
                waiting[delivery.webhook] = waiting.get(delivery.webhook, 0) + 1
        return waiting

    # --- running ---------------------------------------------------------------------------

    def run_once(self) -> tuple[int, int]:
        """One pass: scan, then deliver; (new messages, delivered)."""
        added = self._safely("scan", self.scan)
        return added, self._safely("delivery", self.deliver)

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set: a scan every interval, deliveries every tick."""
        next_scan = 0.0
        while not stop.is_set():
            if self.now() >= next_scan:
                next_scan = self.now() + self.settings.interval
                self._safely("scan", self.scan)
            self._safely("delivery", self.deliver)
            stop.wait(TICK_SECONDS)

    def _safely(self, what: str, work: Callable[[], int]) -> int:
        try:
            done = work()
        except (UpstreamError, StoreUnavailable) as error:
            if what == "scan":
                self.scan_problem = str(error)
            log.warning("watch: %s failed (%s); tried again next pass", what, error)
            return 0
        if what == "scan":
            self.scan_problem = ""
        return done


def readiness(watcher: Watcher) -> Callable[..., Any]:
    """The watcher's own /healthz and /readyz (WEBAPP_WATCH_BIND): not ready while a webhook
    keeps failing or the last scan failed, saying which."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            status, text = "200 OK", "ok"
        elif path == "/readyz":
            problems = [
                f"webhook {label} failing: {count} messages waiting"
                for label, count in sorted(_failing_or_unknown(watcher).items())
            ]
            if watcher.scan_problem:
                problems.append(f"reading Blaxel failed: {watcher.scan_problem}")
            status = "503 Service Unavailable" if problems else "200 OK"
            text = "\n".join(problems) or "ready"
        else:
            status, text = "404 Not Found", "not found"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [text.encode() + b"\n"]

    return app


def _failing_or_unknown(watcher: Watcher) -> dict[str, int]:
    try:
        return watcher.failing()
    except StoreUnavailable:
        return {"(store unreadable)": 0}


def serve_readiness(watcher: Watcher, bind: str) -> Any:
    """Serve /healthz and /readyz on `bind` (host:port) from a thread; the server, to shut."""
    host, _, port = bind.rpartition(":")
    server = make_server(host or "127.0.0.1", int(port), readiness(watcher), threaded=True)
    threading.Thread(target=server.serve_forever, name="watch-readiness", daemon=True).start()
    return server
