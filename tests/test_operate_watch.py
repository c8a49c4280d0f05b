"""The watcher (webapp/operate/watch.py) against the simulator and a real HTTP receiver on the
loopback: one message per failed execution, none again after a restart or from a second watcher,
messages kept while the receiver fails and all delivered once it answers. Time is the fake
clock's: backoff waits are clock readings, never sleeps."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug.test import Client

from webapp import create_app
from webapp.common.services import services_of
from webapp.operate import watch
from webapp.operate.cli import watcher_for
from webapp.operate.marks import Marks
from webapp.operate.watch import FAILING_AFTER, backoff, readiness
from webapp.runs.reading import MIN_BASELINE
from webapp.store import open_outbox
from webapp.web.cli import main

from .conftest import WEBHOOK_SECRET

# The live demo job fails every third 5-minute cycle: these two end failed in the first 20 min.
FAILED_IN_20_MINUTES = {"exec-crawl-20261128-0900", "exec-crawl-20261128-0915"}


class Receiver:
    """A webhook on the loopback: records each POST's JSON, or answers 500 while `failing`."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.refused = 0
        self.failing = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failing:
                    receiver.refused += 1
                    self.send_response(500)
                else:
                    receiver.received.append(json.loads(raw))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{WEBHOOK_SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def executions(self) -> Counter:
        return Counter(message["execution"] for message in self.received)


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


def watcher_app(clock, receiver, **config):
    return create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": "",
            "WEBAPP_WEBHOOK_URLS": receiver.url,
            "WEBAPP_PUBLIC_URL": "https://jobs.example.com",
            **config,
        },
        clock=clock,
    )


def new_watcher(clock, receiver, **config):
    """A watcher as `blaxel-jobs watch` makes it, on an app (and store connection) of its own."""
    return watcher_for(watcher_app(clock, receiver, **config), now=lambda: clock().timestamp())


def test_one_message_per_execution_that_ended_failed_with_counts_groups_and_link(clock, receiver):
    """Watching from 09:00, twenty minutes on: one message for each run that ended failed since,
    with its counts, its failure groups and its page's link; nothing from before watching."""
    watcher = new_watcher(clock, receiver)
    assert watcher.run_once() == (0, 0)  # watching begins: earlier failures are not news
    clock.advance(20 * 60)
    added, delivered = watcher.run_once()
    assert added == delivered == 2
    assert receiver.executions() == Counter(dict.fromkeys(FAILED_IN_20_MINUTES, 1))
    message = receiver.received[0]
    assert message["kind"] == "failed" and message["job"] == "sitemap-crawler"
    assert message["status"] == "failed"
    assert message["counts"]["failed"] == 2 and message["counts"]["total"] == 24
    assert message["url"] == (
        f"https://jobs.example.com/jobs/sitemap-crawler/executions/{message['execution']}/tasks"
    )
    groups = message["failure_groups"]
    assert sum(group["count"] for group in groups) == 2
    assert all(group["outcome"] == "failed" and "mark" not in group for group in groups)
    assert watcher.run_once() == (0, 0)
    assert len(receiver.received) == 2


def test_no_message_is_sent_again_after_a_restart(clock, receiver):
    """A new watcher on the same data folder (a restart) sends none of what was sent."""
    first = new_watcher(clock, receiver)
    first.run_once()
    clock.advance(20 * 60)
    first.run_once()
    assert len(receiver.received) == 2
    restarted = new_watcher(clock, receiver)
    assert restarted.run_once() == (0, 0)
    clock.advance(5 * 60)
    restarted.run_once()
    assert max(receiver.executions().values()) == 1


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_two_watchers_at_once_send_each_message_once(clock, receiver, store, request):
    """Two watchers, each with its own app and store connection, pass at the same moment
    (started together by a barrier), twice: every failed execution reaches the receiver once."""
    config = {}
    if store == "redis":
        # Redis keeps answers on its own clock: none are kept, so each pass reads the fake one's.
        config = {"WEBAPP_CACHE_URL": request.getfixturevalue("redis_url"), "WEBAPP_CACHE_TTL": "0"}
    watchers = [new_watcher(clock, receiver, **config) for _ in range(2)]
    watchers[0].run_once()
    clock.advance(20 * 60)
    start = threading.Barrier(2)
    results = []

    def run(watcher) -> None:
        start.wait()
        results.append(watcher.run_once())
        results.append(watcher.run_once())

    threads = [threading.Thread(target=run, args=(watcher,)) for watcher in watchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert receiver.executions() == Counter(dict.fromkeys(FAILED_IN_20_MINUTES, 1))
    assert sum(added for added, _ in results) == 2
    assert sum(delivered for _, delivered in results) == 2


def test_messages_wait_while_the_receiver_fails_and_all_arrive_once_it_answers(
    clock, receiver, caplog
):
    """While the receiver answers 500, messages stay in the store and are retried with a
    growing backoff on the clock (not before it is due); after FAILING_AFTER tries the webhook
    is reported in the log and at the watcher's /readyz; once it answers, every message arrives,
    once, and /readyz is ready again."""
    caplog.set_level(logging.WARNING, logger="webapp.operate")
    watcher = new_watcher(clock, receiver)
    ready = Client(readiness(watcher))
    watcher.run_once()
    receiver.failing = True
    clock.advance(20 * 60)
    assert watcher.run_once() == (2, 0)
    assert receiver.refused == 2
    for tries in range(1, FAILING_AFTER):
        clock.advance(backoff(tries) - 1)
        assert watcher.deliver() == 0
        assert receiver.refused == 2 * tries  # not yet due: nothing was sent
        clock.advance(1)
        assert watcher.deliver() == 0
        assert receiver.refused == 2 * (tries + 1)
    assert watcher.failing() == {watcher.settings.webhooks[0].label: 2}
    answer = ready.get("/readyz")
    assert answer.status_code == 503
    assert "failing: 2 messages waiting" in answer.get_data(as_text=True)
    assert any("keeps failing" in record.getMessage() for record in caplog.records)
    assert receiver.url not in caplog.text and WEBHOOK_SECRET not in answer.get_data(as_text=True)

    receiver.failing = False
    clock.advance(backoff(FAILING_AFTER))
    assert watcher.deliver() == 2
    assert receiver.executions() == Counter(dict.fromkeys(FAILED_IN_20_MINUTES, 1))
    assert ready.get("/readyz").status_code == 200
    clock.advance(backoff(10))
    watcher.run_once()
    assert max(receiver.executions().values()) == 1


def test_backoff_doubles_from_15_seconds_up_to_15_minutes():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [15, 30, 60, 120]
    assert backoff(20) == 900


def test_each_failure_group_is_marked_new_or_recurring_from_the_digests_of_earlier_runs(
    clock, receiver
):
    """The watcher keeps the digest of each failed run it reports; a later run's groups are then
    marked from the digests of the runs created before it: recurring, seen in 2 of 2, when both
    earlier failures had the cause. Runs with no digested predecessor carry no mark."""
    watcher = new_watcher(clock, receiver)
    watcher.run_once()
    clock.advance(20 * 60)
    watcher.run_once()
    earlier = {m["execution"]: {g["cause"] for g in m["failure_groups"]} for m in receiver.received}
    assert all(earlier.values())
    groups = [group for message in receiver.received for group in message["failure_groups"]]
    assert all("mark" not in group for group in groups)
    clock.advance(15 * 60)
    watcher.run_once()
    (later,) = [m for m in receiver.received if m["execution"] not in FAILED_IN_20_MINUTES]
    assert later["failure_groups"]
    for group in later["failure_groups"]:
        seen = sum(group["cause"] in causes for causes in earlier.values())
        expected = "recurring" if seen else "new"
        assert (group["mark"], group["seen_in_runs"], group["runs_read"]) == (expected, seen, 2)


@dataclass(frozen=True)
class Past:
    """What Marks reads of a digested run: its times, and the causes it failed for (none)."""

    execution: str
    created: float
    run: float | None
    wait: float | None
    causes: tuple[str, ...] = ()


class EarlierRuns:
    """Digested runs, as the digests' store gives them (newest first)."""

    def __init__(self, runs: list[Past]) -> None:
        self.runs = runs

    def newest(self, job: str, count: int) -> list[Past]:
        return self.runs[:count]

    def get(self, job: str, execution: str) -> None:
        return None  # no digest of the run itself: its groups are walked

    def put(self, digest) -> bool:
        return False


def test_a_run_slower_than_the_digested_runs_before_it_gets_a_slower_message(clock, receiver):
    """WEBAPP_WATCH_SLOWER on: a finished run whose run time is above the p95 of the job's
    digested runs before it gets a "slower" message saying what was slower; with fewer than
    MIN_BASELINE runs digested, or the setting off, none is sent."""
    watcher = new_watcher(clock, receiver, WEBAPP_WATCH_SLOWER="1")
    watcher.run_once()
    clock.advance(20 * 60)
    watcher.run_once()
    assert {message["kind"] for message in receiver.received} == {"failed"}
    start = (clock() - timedelta(days=1)).timestamp()
    quick = [Past(f"earlier-{n}", start - n * 3600, 1.0, 0.0) for n in range(MIN_BASELINE)]
    watcher.marks = Marks(EarlierRuns(quick), 20)
    clock.advance(5 * 60)
    watcher.run_once()
    slower = [message for message in receiver.received if message["kind"] == "slower"]
    assert slower and all(message["slower"][0] == "run time" for message in slower)
    quiet = new_watcher(clock, receiver)  # the setting off: never asked
    quiet.marks = Marks(EarlierRuns(quick), 20)
    assert all(message["kind"] == "failed" for message in quiet.preview())


def test_a_slack_webhook_gets_slacks_incoming_webhook_body(clock, receiver):
    """`slack:` before a URL: the body is Slack's {"text": ...} with the job, counts and link."""
    watcher = new_watcher(clock, receiver, WEBAPP_WEBHOOK_URLS="slack:" + receiver.url)
    watcher.run_once()
    clock.advance(20 * 60)
    watcher.run_once()
    assert len(receiver.received) == 2
    text = receiver.received[0]["text"]
    assert set(receiver.received[0]) == {"text"}
    assert "*sitemap-crawler*" in text and "2 of 24 tasks failed" in text
    assert "<https://jobs.example.com/jobs/sitemap-crawler/executions/" in text


def test_dry_run_prints_what_it_would_send_and_keeps_nothing(receiver, data_dir, monkeypatch):
    """`blaxel-jobs watch --dry-run` prints each message for each webhook; nothing is posted and
    the store keeps nothing (a later real pass still sends them)."""
    monkeypatch.setenv("BLAXEL_API_KEY", "")
    monkeypatch.setenv("WEBAPP_WEBHOOK_URLS", receiver.url)
    result = main.main(["watch", "--dry-run"], standalone_mode=False, prog_name="blaxel-jobs")
    assert result is None
    assert receiver.received == []
    app = create_app({"TESTING": True, "BLAXEL_API_KEY": ""})
    assert open_outbox(services_of(app).settings).pending(10) == []


def test_dry_run_output_names_the_failed_runs(receiver, monkeypatch, capsys):
    monkeypatch.setenv("BLAXEL_API_KEY", "")
    monkeypatch.setenv("WEBAPP_WEBHOOK_URLS", receiver.url)
    main.main(["watch", "--dry-run"], standalone_mode=False, prog_name="blaxel-jobs")
    out = capsys.readouterr().out
    assert '"kind": "failed"' in out and "to webhook 127.0.0.1#" in out
    assert WEBHOOK_SECRET not in out


def test_once_runs_one_pass_and_exits(receiver, monkeypatch, capsys):
    """`--once` (for cron): one scan and delivery, then it exits, saying what it did."""
    monkeypatch.setenv("BLAXEL_API_KEY", "")
    monkeypatch.setenv("WEBAPP_WEBHOOK_URLS", receiver.url)
    main.main(["watch", "--once"], standalone_mode=False, prog_name="blaxel-jobs")
    assert "0 new messages, 0 delivered" in capsys.readouterr().out


def test_a_webhook_list_that_is_not_urls_stops_the_watcher_without_quoting_it(monkeypatch):
    from webapp.common.config import ConfigError

    with pytest.raises(ConfigError) as bad:
        watch.WatchSettings.load({"WEBAPP_WEBHOOK_URLS": "hooks.example/" + WEBHOOK_SECRET})
    assert WEBHOOK_SECRET not in str(bad.value)


def test_the_interval_is_a_setting_with_bounds():
    assert watch.WatchSettings.load({"WEBAPP_WATCH_INTERVAL": "120"}).interval == 120
    from webapp.common.config import ConfigError

    with pytest.raises(ConfigError, match="WEBAPP_WATCH_INTERVAL"):
        watch.WatchSettings.load({"WEBAPP_WATCH_INTERVAL": "1"})


def test_the_watch_loop_scans_every_interval_and_stops_when_asked(clock, receiver, monkeypatch):
    """run(stop) scans at once and again once the interval has passed on the clock."""
    watcher = new_watcher(clock, receiver, WEBAPP_WATCH_INTERVAL="60")
    scans = []
    stop = threading.Event()
    monkeypatch.setattr(watcher, "scan", lambda: scans.append(clock()) or 0)

    def deliver() -> int:
        # Each tick moves the clock 30 s; stop after three minutes.
        clock.advance(30)
        if clock() - scans[0] >= timedelta(minutes=3):
            stop.set()
        return 0

    monkeypatch.setattr(watcher, "deliver", deliver)
    monkeypatch.setattr(watch, "TICK_SECONDS", 0)
    watcher.run(stop)
    gaps = [
        (later - earlier).total_seconds() for earlier, later in zip(scans, scans[1:], strict=False)
    ]
    assert len(scans) == 3 and all(gap == 60 for gap in gaps)


def test_the_watcher_serves_its_healthz_and_readyz_on_a_socket(clock, receiver):
    """WEBAPP_WATCH_BIND: the running watcher answers /healthz and /readyz over HTTP."""
    import httpx

    from webapp.operate.watch import serve_readiness

    server = serve_readiness(new_watcher(clock, receiver), "127.0.0.1:0")
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert httpx.get(base + "/healthz").text == "ok\n"
        assert httpx.get(base + "/readyz").status_code == 200
        assert httpx.get(base + "/other").status_code == 404
    finally:
        server.shutdown()
