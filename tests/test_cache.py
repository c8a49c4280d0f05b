"""The upstream micro-cache: one upstream call per TTL window for threads, apps and processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import msgspec
import pytest
import redis
from flask import template_rendered

from bench.serving import RedisServer, free_port, stop, wait_for
from webapp.blaxel import (
    BlaxelClient,
    CachedClient,
    CallScope,
    ErrorKind,
    LocalStore,
    PageRequest,
    RedisStore,
    UpstreamError,
)
from webapp.blaxel.transport import retry_after_seconds
from webapp.common.config import ConfigError, Settings
from webapp.common.services import services_of
from webapp.simulator import create_simulator

from .browser import serve
from .conftest import (
    EXECUTION,
    TOKEN,
    ScriptedUpstream,
    app_on,
    needs_redis,
    task_json,
    task_page,
)

ROOT = Path(__file__).resolve().parent.parent
TASKS = "/jobs/nightly/executions/exec-1/tasks"
FRAGMENT = {"HX-Request": "true"}


def three_tasks(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=task_page([task_json(i) for i in range(3)]))


class Overlap:
    """Holds an upstream's answers until `requests` identical requests overlap: in process, all
    of them have asked their store for the answer; through Redis, all but the one making the
    call have looked for its answer while it was under way."""

    def __init__(self, requests: int) -> None:
        self.requests = requests
        self.reached = threading.Event()
        self._lock = threading.Lock()
        self._seen: dict[str, set[int]] = defaultdict(set)

    def watch(self, *apps) -> None:
        for app in apps:
            store = services_of(app).client.store
            if isinstance(store, RedisStore):
                store._redis.mget = self._counting(store._redis.mget, self.requests - 1)
            else:
                store.fetch = self._counting(store.fetch, self.requests)

    def _counting(self, look, needed: int):
        def counted(key, *rest, **options):
            with self._lock:
                # Each thread once: a follower on Redis looks again and again.
                self._seen[key].add(threading.get_ident())
                if len(self._seen[key]) >= needed:
                    self.reached.set()
            return look(key, *rest, **options)

        return counted

    def answering(self, handler):
        def held(request: httpx.Request) -> httpx.Response:
            if not self.reached.wait(10):
                return httpx.Response(500, json={"error": "the requests never overlapped"})
            return handler(request)

        return held


def concurrently(count: int, call):
    """Run `call(i)` in `count` threads released together; return the results in order."""
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        return call(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_identical_requests_make_one_upstream_call(scripted):
    overlap = Overlap(12)
    client, upstream = scripted(overlap.answering(three_tasks))
    app = client.application
    overlap.watch(app)
    responses = concurrently(12, lambda _: app.test_client().get(TASKS, headers=FRAGMENT))
    assert [r.status_code for r in responses] == [200] * 12
    assert len({r.data for r in responses}) == 1
    assert len(upstream.listing_requests) == 1


def test_a_repeat_within_the_ttl_is_served_from_the_cache_and_after_it_goes_upstream(
    scripted, clock
):
    client, upstream = scripted(three_tasks, WEBAPP_CACHE_TTL="0.3")
    first = client.get(TASKS, headers=FRAGMENT)
    second = client.get(TASKS, headers=FRAGMENT)
    assert first.data == second.data
    assert len(upstream.listing_requests) == 1
    clock.advance(0.35)
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 2


def test_every_parameter_is_part_of_the_key(scripted):
    client, upstream = scripted(three_tasks)
    for url in (TASKS, TASKS + "?sort=name:asc", TASKS + "?q=task", TASKS + "?limit=20"):
        client.get(url, headers=FRAGMENT)
        client.get(url, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 4


def test_ttl_zero_turns_the_cache_off(scripted):
    client, upstream = scripted(three_tasks, WEBAPP_CACHE_TTL="0")
    for _ in range(3):
        client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 3


def test_errors_are_not_cached(scripted):
    answers = iter([httpx.Response(500, json={"error": "boom"})])

    def handler(request):
        return next(answers, None) or httpx.Response(200, json=task_page([task_json(1)]))

    client, upstream = scripted(handler)
    assert client.get(TASKS, headers=FRAGMENT).status_code == 502
    assert client.get(TASKS, headers=FRAGMENT).status_code == 200
    assert len(upstream.listing_requests) == 2


def test_a_429_holds_every_call_with_these_credentials_until_its_retry_after(scripted, clock):
    # 60 s is beyond the client's deadline, so the client does not wait and retry by itself.
    limited = [True]

    def handler(request):
        if limited[0]:
            return httpx.Response(429, headers={"Retry-After": "60"}, json={"error": "slow"})
        return httpx.Response(200, json=task_page([task_json(1)]))

    client, upstream = scripted(handler)
    assert client.get(TASKS, headers=FRAGMENT).status_code == 503
    limited[0] = False
    clock.advance(20)
    held = client.get(TASKS + "?sort=name:asc", headers=FRAGMENT)
    assert held.status_code == 503
    assert held.headers["Retry-After"] == "40"
    assert len(upstream.requests) == 1
    clock.advance(40.5)
    assert client.get(TASKS, headers=FRAGMENT).status_code == 200
    assert len(upstream.requests) == 2


def a_day_ahead() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)


def test_a_429_asking_for_a_day_holds_calls_60_s_and_the_page_says_so(scripted, clock):
    """A Retry-After far ahead (a date a day away) holds every call for 60 s at most, not the
    300 s cap of a Retry-After: the page and its Retry-After say how long the pause lasts."""
    limited = [True]

    def handler(request):
        if limited[0]:
            return httpx.Response(429, headers={"Retry-After": a_day_ahead()}, json={})
        return httpx.Response(200, json=task_page([task_json(1)]))

    client, upstream = scripted(handler)
    first = client.get(TASKS)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "60")
    assert "pauses its calls to it for 60 seconds" in first.text
    sent = len(upstream.requests)
    limited[0] = False
    clock.advance(45)
    held = client.get(TASKS + "?sort=name:asc")
    assert (held.status_code, held.headers["Retry-After"]) == (503, "15")
    assert "for 15 seconds" in held.text
    assert len(upstream.requests) == sent
    clock.advance(15.5)
    assert client.get(TASKS, headers=FRAGMENT).status_code == 200


def test_the_longest_hold_is_a_setting(scripted, clock):
    client, upstream = scripted(
        lambda request: httpx.Response(429, headers={"Retry-After": "250"}, json={}),
        WEBAPP_RATE_LIMIT_MAX_HOLD="20",
    )
    assert client.get(TASKS, headers=FRAGMENT).headers["Retry-After"] == "20"
    clock.advance(19.5)
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.requests) == 1
    clock.advance(1)
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.requests) == 2


@pytest.mark.parametrize("value", ["0", "301", "soon"])
def test_a_longest_hold_out_of_range_stops_the_app_with_its_name(value):
    with pytest.raises(ConfigError, match="WEBAPP_RATE_LIMIT_MAX_HOLD"):
        Settings.load({"WEBAPP_RATE_LIMIT_MAX_HOLD": value})


def test_readyz_stays_ready_during_a_hold_without_asking_blaxel(scripted, clock):
    """The token reached Blaxel, which asked for a pause: a balancer reading 503 here would pull
    every instance at once, so /readyz says ready and the probe is not sent during the hold."""
    client, upstream = scripted(
        lambda request: httpx.Response(429, headers={"Retry-After": "30"}, json={}),
        readiness_ttl=0,
    )
    assert client.get(TASKS, headers=FRAGMENT).status_code == 503
    ready = client.get("/readyz")
    assert (ready.status_code, ready.get_json()) == (200, {"status": "ready"})
    assert len(upstream.requests) == 1


def test_task_pages_of_a_finished_execution_are_kept_for_the_final_ttl(scripted, clock):
    client, upstream = scripted(three_tasks, WEBAPP_CACHE_TTL="0.2")
    assert client.get(TASKS).status_code == 200  # the page asks GetJobExecution: "failed"
    clock.advance(0.25)
    client.get(TASKS, headers=FRAGMENT)
    client.get(TASKS)
    assert len(upstream.listing_requests) == 1
    assert len(upstream.requests) == 2


class StoredFirst:
    """GetJobExecution ("failed") answering only once the task list asked beside it is stored."""

    def __init__(self) -> None:
        self.stored = threading.Event()
        self._serving = threading.local()

    def tasks(self, request: httpx.Request) -> httpx.Response:
        self._serving.tasks = True  # this thread's store call is the task list's
        return three_tasks(request)

    def execution(self, request: httpx.Request) -> httpx.Response:
        if not self.stored.wait(10):
            return httpx.Response(500, json={"error": "the task list was never stored"})
        return httpx.Response(200, json=EXECUTION)

    def watch(self, app) -> None:
        store = services_of(app).client.store
        fetch = store.fetch

        def fetched(key, load, lifetime, *deadline):
            self._serving.tasks = False
            found = fetch(key, load, lifetime, *deadline)
            if self._serving.tasks:
                self.stored.set()
            return found

        store.fetch = fetched


def test_a_task_page_stored_before_its_execution_was_seen_finished_is_kept_for_the_final_ttl(
    scripted, clock
):
    late = StoredFirst()
    client, upstream = scripted(late.tasks, late.execution, WEBAPP_CACHE_TTL="0.2")
    late.watch(client.application)
    assert client.get(TASKS).status_code == 200  # the rows are stored first, for 0.2 s
    clock.advance(0.25)
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 1


def test_the_same_holds_for_task_pages_kept_in_redis(scripted, redis_url):
    """The rows, stored for the 1 s TTL, then seen finished: Redis keeps them for the final
    TTL (its own clock: the key's time to live says so)."""
    late = StoredFirst()
    client, upstream = scripted(
        late.tasks, late.execution, WEBAPP_CACHE_TTL="1", WEBAPP_CACHE_URL=redis_url
    )
    late.watch(client.application)
    assert client.get(TASKS).status_code == 200
    with redis.Redis.from_url(redis_url) as kept:
        [rows] = [key for key in kept.keys("*data:*") if b"task-0" in kept.get(key)]
        assert 60_000 < kept.pttl(rows) <= 600_000  # the final TTL, 10 minutes; not 1 s
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 1


def test_searched_task_pages_of_a_finished_execution_keep_the_short_ttl(scripted, clock):
    # Every distinct search would otherwise stay for the final TTL: memory for nothing.
    client, upstream = scripted(three_tasks, WEBAPP_CACHE_TTL="0.2")
    client.get(TASKS + "?q=task")  # the page asks GetJobExecution: "failed"
    clock.advance(0.25)
    client.get(TASKS + "?q=task", headers=FRAGMENT)
    assert len(upstream.listing_requests) == 2


def test_the_test_redis_runs_with_a_memory_bound_as_the_readme_asks(redis_server):
    with redis_server.client() as client:
        config = client.config_get("maxmemory*")
    assert int(config["maxmemory"]) == 64 * 1024 * 1024
    assert config["maxmemory-policy"] == "volatile-lru"


def test_task_pages_of_a_running_execution_keep_the_short_ttl(scripted, clock):
    running = {**EXECUTION, "status": "running"}
    client, upstream = scripted(
        three_tasks,
        execution=lambda request: httpx.Response(200, json=running),
        WEBAPP_CACHE_TTL="0.2",
    )
    client.get(TASKS)
    clock.advance(0.25)
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 2


def test_keys_depend_on_the_token_without_containing_it():
    store = LocalStore()
    one = CachedClient(BlaxelClient("https://api.example/v0", TOKEN), store, ttl=5, final_ttl=600)
    other = CachedClient(
        BlaxelClient("https://api.example/v0", "another-token"), store, ttl=5, final_ttl=600
    )
    assert one._scope != other._scope
    assert TOKEN not in one._scope
    one.close()
    other.close()


def test_the_token_is_nowhere_in_redis(redis_url):
    upstream = ScriptedUpstream(three_tasks)
    app = app_on(upstream, WEBAPP_CACHE_URL=redis_url)
    assert app.test_client().get(TASKS).status_code == 200
    with redis.Redis.from_url(redis_url) as client:
        keys = client.keys("*")
        assert len(keys) >= 3  # the task page, the execution, and that it is finished
        for key in keys:
            assert TOKEN.encode() not in key
            assert TOKEN.encode() not in (client.get(key) or b"")


def test_two_app_instances_share_one_upstream_call_through_redis(redis_url):
    overlap = Overlap(12)
    upstream = ScriptedUpstream(overlap.answering(three_tasks))
    apps = [app_on(upstream, WEBAPP_CACHE_URL=redis_url) for _ in range(2)]
    overlap.watch(*apps)
    responses = concurrently(12, lambda i: apps[i % 2].test_client().get(TASKS, headers=FRAGMENT))
    assert [r.status_code for r in responses] == [200] * 12
    assert len({r.data for r in responses}) == 1
    assert len(upstream.listing_requests) == 1
    apps[1].test_client().get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 1


def test_an_answer_stored_just_before_the_lock_is_claimed_serves_without_a_second_call(
    redis_url,
):
    """Between a first look that finds nothing and the claim of the lock, another process may
    store its answer and let go of the lock: that answer serves, and no second call goes out."""
    store, other = RedisStore(redis_url), RedisStore(redis_url)
    claim = store._redis.set

    def claim_once_the_other_has_finished(name, value, **options):
        if options.get("nx"):
            other.fetch("tasks", lambda: b"the other's answer", lambda body: 60.0)
        return claim(name, value, **options)

    store._redis.set = claim_once_the_other_has_finished
    calls = []
    body, hit = store.fetch("tasks", lambda: calls.append(1) or b"a second call", lambda b: 60.0)
    assert (body, hit, calls) == (b"the other's answer", True, [])
    store.close()
    other.close()


def test_an_upstream_error_reaches_every_waiting_request_once(redis_url):
    overlap = Overlap(8)
    upstream = ScriptedUpstream(
        overlap.answering(lambda request: httpx.Response(404, json={"error": "no such execution"}))
    )
    apps = [app_on(upstream, WEBAPP_CACHE_URL=redis_url) for _ in range(2)]
    overlap.watch(*apps)
    responses = concurrently(8, lambda i: apps[i % 2].test_client().get(TASKS, headers=FRAGMENT))
    assert [r.status_code for r in responses] == [404] * 8
    assert len(upstream.listing_requests) == 1
    apps[0].test_client().get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 2


def test_a_429_seen_by_one_process_holds_the_others_through_redis(redis_url):
    upstream = ScriptedUpstream(
        lambda request: httpx.Response(429, headers={"Retry-After": "60"}, json={"error": "slow"})
    )
    first, second = (app_on(upstream, WEBAPP_CACHE_URL=redis_url) for _ in range(2))
    assert first.test_client().get(TASKS, headers=FRAGMENT).status_code == 503
    held = second.test_client().get(TASKS + "?q=task", headers=FRAGMENT)
    assert held.status_code == 503
    assert 59 <= int(held.headers["Retry-After"]) <= 60
    assert len(upstream.requests) == 1


def test_pages_are_served_when_redis_goes_away_and_the_log_says_so_once(caplog, pytestconfig):
    needs_redis(pytestconfig)
    server = RedisServer()
    server.start()
    try:
        upstream = ScriptedUpstream(three_tasks)
        app = app_on(upstream, WEBAPP_CACHE_URL=server.url)
        services_of(app).client.store.retry_seconds = 0
        client = app.test_client()
        assert client.get(TASKS, headers=FRAGMENT).status_code == 200
        server.stop()
        with caplog.at_level(logging.WARNING, logger="webapp.blaxel.cache"):
            for limit in (11, 12, 13):
                assert client.get(f"{TASKS}?limit={limit}", headers=FRAGMENT).status_code == 200
            assert client.get(TASKS).status_code == 200
        outages = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert outages == [
            f"shared cache at 127.0.0.1:{server.port} unreachable (ConnectionError): "
            "calling Blaxel directly until it is back"
        ]
        assert len(upstream.listing_requests) == 5
        server.start()
        with caplog.at_level(logging.WARNING, logger="webapp.blaxel.cache"):
            client.get(TASKS + "?limit=20", headers=FRAGMENT)
            client.get(TASKS + "?limit=20")  # a page: rendered anew, its task list from Redis
        assert any("is back" in r.getMessage() for r in caplog.records)
        assert len(upstream.listing_requests) == 6
    finally:
        server.stop()


def test_a_redis_that_never_answered_still_serves_pages(caplog):
    upstream = ScriptedUpstream(three_tasks)
    app = app_on(upstream, WEBAPP_CACHE_URL=f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="webapp.blaxel.cache"):
        assert app.test_client().get(TASKS).status_code == 200
    assert "unreachable" in caplog.text


def test_the_redis_backend_is_chosen_by_url_and_its_log_names_no_password():
    store = RedisStore("redis://:hunter2@127.0.0.1:1/0")
    assert store.where == "127.0.0.1:1"
    store.close()


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("WEBAPP_CACHE_TTL", "soon"),
        ("WEBAPP_CACHE_TTL", "-1"),
        ("WEBAPP_CACHE_FINAL_TTL", "forever"),
        ("WEBAPP_CACHE_URL", "memcached://localhost"),
    ],
)
def test_unusable_cache_settings_are_refused_with_the_setting_named(setting, value):
    with pytest.raises(ConfigError, match=setting):
        Settings.load({setting: value})


def test_cache_settings_default_to_five_seconds_in_process_and_ten_minutes_final():
    settings = Settings.load({"WEBAPP_CACHE_TTL": "", "WEBAPP_CACHE_URL": ""})
    assert (settings.cache_url, settings.cache_ttl, settings.cache_final_ttl) == ("", 5.0, 600.0)
    assert "cache_url" not in repr(Settings(cache_url="redis://:secret@host"))


def test_the_in_process_store_stays_within_its_byte_budget_least_recently_used_out():
    store = LocalStore(max_bytes=30)
    for index in range(10):
        store.fetch(f"key-{index}", lambda index=index: b"%010d" % index, lambda _: 60)
    assert store.size == 30
    assert store.fetch("key-9", lambda: b"reloaded", lambda _: 60) == (b"0000000009", True)
    assert store.fetch("key-0", lambda: b"reloaded", lambda _: 60) == (b"reloaded", False)


def test_an_answer_larger_than_the_entry_limit_is_not_kept():
    def handler(request):
        return httpx.Response(200, json=task_page([task_json(i) for i in range(40)]))

    upstream = ScriptedUpstream(handler)
    app = app_on(upstream)
    cached = services_of(app).client
    cached.max_entry_bytes = 1000  # the page is about 7 kB
    for _ in range(2):
        cached.list_tasks("nightly", "exec-1", PageRequest(), CallScope.starting_now(5))
    assert len(upstream.listing_requests) == 2 and cached.store.size == 0


def test_a_held_call_raises_rate_limited_without_calling_upstream():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "30"}, json={"error": "slow"})

    client = BlaxelClient("https://api.example/v0", TOKEN, transport=httpx.MockTransport(handler))
    cached = CachedClient(client, LocalStore(), ttl=5, final_ttl=600)
    for _ in range(2):
        with pytest.raises(UpstreamError) as caught:
            cached.list_jobs(PageRequest(), CallScope.starting_now(5), shared=False)
        assert caught.value.kind is ErrorKind.RATE_LIMITED
        assert 29 <= caught.value.retry_after <= 30
    assert len(calls) == 1


class CountingUpstream:
    """The simulator over a socket, counting task-list calls and slowing them to overlap."""

    def __init__(self) -> None:
        self.simulator = create_simulator()
        self.task_lists = 0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"].endswith("/tasks"):
            with self._lock:
                self.task_lists += 1
            time.sleep(0.3)
        return self.simulator(environ, start_response)


def test_gunicorn_worker_processes_share_one_upstream_call_through_redis(redis_url):
    upstream = CountingUpstream()
    port = free_port()
    with serve(upstream) as upstream_url:
        env = {
            **os.environ,
            "BLAXEL_API_KEY": TOKEN,
            "BLAXEL_API_URL": upstream_url + "/v0",
            "WEBAPP_CACHE_URL": redis_url,
            "WEBAPP_CACHE_TTL": "30",
            "WEBAPP_SECRET_KEY": "gunicorn-test-secret",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "3", "--threads", "4"]
            + ["--graceful-timeout", "2", "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT)]
            + ["webapp:create_app()"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/healthz")
            url = base + "/jobs/weekly-digest/executions/exec-4-digest/tasks"
            responses = concurrently(
                12, lambda _: httpx.get(url, headers={**FRAGMENT, "Connection": "close"})
            )
        finally:
            stop(server, seconds=10)
    assert [r.status_code for r in responses] == [200] * 12
    assert upstream.task_lists == 1


def test_each_request_renders_its_own_page_from_the_shared_answer(scripted):
    client, upstream = scripted(three_tasks, WEBAPP_CACHE_TTL="30")
    renderings = []
    with template_rendered.connected_to(
        lambda sender, template, context, **extra: renderings.append(template.name),
        client.application,
    ):
        first = client.get(TASKS, headers=FRAGMENT)
        assert client.get(TASKS, headers=FRAGMENT).data == first.data
    assert renderings == ["_task_rows.html", "_task_rows.html"]
    assert len(upstream.listing_requests) == 1


def test_the_in_process_cache_ages_with_the_apps_clock(scripted, clock):
    client, upstream = scripted(three_tasks)
    client.get(TASKS, headers=FRAGMENT)
    clock.advance(4.9)
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 1
    clock.advance(0.2)
    client.get(TASKS, headers=FRAGMENT)
    assert len(upstream.listing_requests) == 2


def test_exports_walk_the_whole_list_without_filling_the_cache(scripted):
    client, upstream = scripted(three_tasks)
    for _ in range(2):
        response = client.get(TASKS + ".csv")
        assert response.status_code == 200
        assert "task-2" in response.get_data(as_text=True)
    # Each export asked upstream itself: no page of the walk was kept.
    assert len(upstream.listing_requests) == 2


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("Sat, 28 Nov 2026 09:02:00 GMT", 120.0),
        ("Sat, 28 Nov 2026 08:59:00 GMT", 0.0),  # already past: no wait
        ("soon", None),  # unreadable: none given
        ("100000", 300.0),  # bounded
        ("inf", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value, seconds):
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds(value, now) == seconds


@pytest.mark.parametrize("shared", ["local", "redis"])
def test_a_request_waiting_on_another_ones_call_gives_up_at_its_own_deadline(shared, request):
    """One deadline per request bounds its wait on an identical call another request made (an
    export's call may have most of its own BLAXEL_TIMEOUT left): the waiter answers 504 when its
    time is up, while that call still runs, instead of waiting it out."""
    entered, release, answered = threading.Event(), threading.Event(), threading.Event()

    def handler(request):
        entered.set()
        release.wait(10)  # the leader's call outlasts the waiter's deadline
        answered.set()
        return httpx.Response(200, json=task_page([task_json(1)]))

    upstream = ScriptedUpstream(handler)
    config = {"BLAXEL_TIMEOUT": "0.5"}
    if shared == "redis":
        config["WEBAPP_CACHE_URL"] = request.getfixturevalue("redis_url")
    # Through Redis, two apps stand for two workers; in memory, both requests share one app.
    leader = app_on(upstream, **config)
    follower = app_on(upstream, **config) if shared == "redis" else leader
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(leader.test_client().get, TASKS, headers=FRAGMENT)
        assert entered.wait(10)
        try:
            waited = follower.test_client().get(TASKS, headers=FRAGMENT)
            gave_up_first = not answered.is_set()
        finally:
            release.set()
        first.result()
    assert waited.status_code == 504 and "Blaxel took too long to answer" in waited.text
    assert gave_up_first
    assert len(upstream.listing_requests) == 1


def test_a_kept_answer_is_decoded_once_and_decoded_again_only_when_its_bytes_change():
    """A warm page reads its kept answers decoded (a failed-first view reads every page of its
    execution): the same bytes give the same objects, new bytes a new decoding."""
    now = [0.0]
    names = iter(["first", "first", "second"])

    def handler(request):
        return httpx.Response(200, json=task_page([task_json(0, name=next(names))]))

    client = BlaxelClient("https://api.example/v0", TOKEN, transport=httpx.MockTransport(handler))
    cached = CachedClient(client, LocalStore(clock=lambda: now[0]), ttl=5, final_ttl=600)

    def read():
        return cached.list_tasks("nightly", "exec-1", PageRequest(), CallScope.starting_now(5))

    loaded, hit, again = read(), read(), read()
    assert loaded is hit is again and loaded.items[0].name == "first"
    now[0] += 6  # the kept answer expires: Blaxel answers the same bytes, then new ones
    assert read() == loaded
    now[0] += 6
    changed = read()
    assert changed.items[0].name == "second" and changed is not loaded


def test_answers_kept_decoded_are_bounded_by_their_bytes_oldest_dropped_first():
    from webapp.blaxel.cache import Decoded
    from webapp.blaxel.models import Page, Task

    kept = Decoded(max_bytes=1_500)
    bodies = [msgspec.json.encode(task_page([task_json(i) for i in range(3)])) for _ in range(4)]
    assert 500 < len(bodies[0]) <= 750
    first = [kept.get(f"key-{n}", body, Page[Task]) for n, body in enumerate(bodies)]
    # Two answers fit: the newest two are still the same objects, the oldest decoded anew.
    assert kept.get("key-3", bodies[3], Page[Task]) is first[3]
    assert kept.get("key-2", bodies[2], Page[Task]) is first[2]
    assert kept.get("key-0", bodies[0], Page[Task]) is not first[0]
    # A key's bytes are compared, never trusted: other bytes under a key are decoded.
    other = msgspec.json.encode(task_page([task_json(9)]))
    assert kept.get("key-3", other, Page[Task]).items[0].name == "task-9"
