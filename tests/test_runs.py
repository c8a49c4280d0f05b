"""Runs remembered: each finished execution's digest made once from the failure-groups walk and
kept in the store (SQLite or Redis) across restarts; causes new or recurring among the job's
last runs; failures over time, flaky tasks, slower than usual; all within the scan budget."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from webapp.blaxel import Execution
from webapp.common.config import Settings
from webapp.failures.triage import Triage
from webapp.runs.digest import Digest
from webapp.runs.kept import Digests
from webapp.runs.reading import recurrence
from webapp.store import FILE_NAME, RedisDigestRows, SqliteDigestRows, StoreError, open_digest_rows

from .conftest import app_on, task_json, task_page

HTMX = {"HX-Request": "true"}
START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
OOM = "Container exited with code 137 (OOMKilled) at 4411 MB"
KEY = "exit code 1: KeyError: 'text' in row 4411"


def failed(index: int, message: str) -> dict:
    task = task_json(index, "failed")
    task["conditions"] = [
        {"type": "Failed", "reason": "Error", "severity": "Error", "message": message}
    ]
    return task


def retried(index: int) -> dict:
    """A task that succeeded at its second attempt."""
    task = task_json(index)
    task["conditions"] = [
        {"type": "Retrying", "reason": "AttemptFailed", "message": "Attempt 1 failed: HTTP 503"}
    ]
    return task


class Nightly:
    """A job "nightly" whose runs, one a day, each have `size` tasks in pages of 200: the test
    says which tasks fail, how, and how long each run took; every request is recorded."""

    def __init__(self, runs: int, size: int = 400) -> None:
        self.size = size
        self.failures: dict[int, dict[int, str]] = {day: {} for day in range(runs)}
        self.retried: dict[int, set[int]] = {day: set() for day in range(runs)}
        self.minutes = dict.fromkeys(range(runs), 30)
        self.running: set[int] = set()
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def execution(self, day: int) -> dict:
        created = START + timedelta(days=day)
        done = day not in self.running
        stats = {"total": self.size, "failure": len(self.failures[day])}
        metadata = {"id": f"exec-{day:02d}", "job": "nightly", "createdAt": _iso(created)}
        metadata["startedAt"] = _iso(created + timedelta(minutes=1))
        if done:
            metadata["completedAt"] = _iso(created + timedelta(minutes=1 + self.minutes[day]))
        status = ("failed" if self.failures[day] else "succeeded") if done else "running"
        return {"metadata": metadata, "stats": stats, "status": status}

    def task(self, day: int, index: int) -> dict:
        if index in self.failures[day]:
            return failed(index, self.failures[day][index])
        if index in self.retried[day]:
            return retried(index)
        return task_json(index, "running" if day in self.running else "succeeded")

    @property
    def walks(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/tasks")]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        parts = request.url.path.split("/")
        if parts[-1] == "executions":
            days = sorted(self.failures, reverse=True)
            return httpx.Response(200, json=task_page([self.execution(d) for d in days]))
        if parts[-1] == "tasks":
            day = int(parts[-2][5:])
            page = int(request.url.params.get("cursor", "UEFHR0")[5:])
            indexes = range(page * 200, min(self.size, (page + 1) * 200))
            more = f"UEFHR{page + 1}" if (page + 1) * 200 < self.size else ""
            tasks = [self.task(day, index) for index in indexes]
            return httpx.Response(200, json=task_page(tasks, more, total=self.size))
        return httpx.Response(200, json=self.execution(int(parts[-1][5:])))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def app_for(upstream: Nightly, clock, **config):
    return app_on(upstream, clock=clock, WEBAPP_SCAN_BUDGET="50", **config)


def groups_page(client, day: int) -> str:
    response = client.get(f"/jobs/nightly/executions/exec-{day:02d}/triage", headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def settled(client, day: int, tries: int = 20) -> str:
    """The failure groups once the panel stops asking again."""
    for _ in range(tries):
        html = groups_page(client, day)
        if 'aria-busy="false"' in html:
            return html
    raise AssertionError("the failure groups never settled")


def recurrences(html: str) -> dict[str, str]:
    """Each group's pattern and what the panel says of its past."""
    found = {}
    for item in re.findall(r'<li class="group.*?</li>', html, re.S):
        pattern = re.search(r'<code class="pattern">([^<]+)</code>', item).group(1)
        past = re.search(r'class="recurrence">(.*)</li>', item, re.S)
        text = re.sub(r"<[^>]+>", "", past.group(1)) if past else ""
        found[pattern] = " ".join(text.split())
    return found


def test_a_finished_runs_groups_are_read_from_its_digest_after_a_restart_with_no_upstream_call(
    clock,
):
    """The digest outlives the process: a new app (a restart) answers the groups from the
    data file, without walking the tasks again."""
    upstream = Nightly(runs=3)
    upstream.failures[2] = {5: OOM, 7: OOM, 9: KEY}
    first = settled(app_for(upstream, clock).test_client(), 2)
    assert len(upstream.walks) == 2 * 3  # each of the three runs walked once, two pages each
    upstream.requests.clear()
    again = settled(app_for(upstream, clock).test_client(), 2)
    assert upstream.walks == []
    assert recurrences(again) == recurrences(first)
    assert re.findall(r'group-count">(\d+)', again) == ["2", "1"]


def test_a_running_execution_is_never_stored(clock, data_dir):
    """Its groups are shown, but no digest is kept while it runs; once finished it is."""
    upstream = Nightly(runs=2)
    upstream.running.add(1)
    upstream.failures[1] = {3: OOM}
    client = app_for(upstream, clock).test_client()
    settled(client, 1)
    kept = Digests(SqliteDigestRows(data_dir / FILE_NAME), 10)
    assert kept.get("nightly", "exec-01") is None
    assert kept.get("nightly", "exec-00") is not None  # the finished run before it is
    upstream.running.clear()
    clock.advance(60)  # past the running execution's short TTL
    settled(client, 1)
    assert kept.get("nightly", "exec-01").statuses == {"failed": 1, "succeeded": 399}


def test_a_cause_seen_before_says_in_how_many_of_the_last_runs_and_a_new_one_says_new(clock):
    """Recurring: "also in K of the last M runs", first and last seen, links to those runs'
    groups; a cause the past runs never had: "new". Causes match on their normalised text."""
    upstream = Nightly(runs=6)
    for day in (1, 3, 4):
        upstream.failures[day] = {day: OOM.replace("4411", f"{day}00")}
    upstream.failures[5] = {10: OOM, 11: KEY}
    html = settled(app_for(upstream, clock).test_client(), 5)
    said = recurrences(html)
    oom = next(text for pattern, text in said.items() if "137" in pattern)
    assert oom.startswith("recurring also in 3 of the last 5 runs")
    assert "first seen 2 Nov" in oom and "last seen 5 Nov" in oom
    assert next(text for pattern, text in said.items() if "KeyError" in pattern) == "new"
    for day in (1, 3, 4):
        assert f"/jobs/nightly/executions/exec-{day:02d}/tasks?cause=" in html
    assert "Compared with the last 5 finished runs of this job." in html


def test_each_request_spends_at_most_the_scan_budget_and_says_how_many_runs_it_analysed(clock):
    """Never in the way: runs not yet digested are walked a few per request, the panel says
    "Analysed K of N" and asks again; no request makes more than the budget of calls."""
    upstream = Nightly(runs=8)
    upstream.failures[7] = {1: OOM}
    client = app_on(upstream, clock=clock, WEBAPP_SCAN_BUDGET="5").test_client()
    seen = []
    for _ in range(12):
        before = len(upstream.requests)
        html = groups_page(client, 7)
        calls = [r for r in upstream.requests[before:] if not r.url.path.endswith("/exec-07")]
        assert len(calls) <= 5
        seen.append(re.search(r"Analysed (\d+) of 7 runs", html))
        if 'aria-busy="false"' in html:
            break
    progress = [int(found.group(1)) for found in seen if found]
    assert progress and progress == sorted(progress) and progress[-1] < 7
    assert 'aria-busy="false"' in html and "Compared with the last 7 finished runs" in html


def test_the_jobs_failures_over_time_and_flaky_tasks_count_what_the_runs_had(clock):
    """The job's panel: each cause with the runs it hit and its tasks; a task that failed or
    was retried in 2+ runs and succeeded in another is flaky, at its true rate."""
    upstream = Nightly(runs=5)
    for day in range(5):
        upstream.failures[day] = {100 + day: KEY}
    upstream.failures[1][42] = OOM
    upstream.retried[3].add(42)
    client = app_for(upstream, clock).test_client()
    for _ in range(10):
        html = client.get("/jobs/nightly/runs?runs=5").get_data(as_text=True)
        if 'aria-busy="false"' in html:
            break
    rows = re.findall(
        r'<tr class="outcome-(\w+)">.*?<code class="pattern">([^<]+)</code>'
        r'.*?>(\d+) of (\d+)</a></td>\s*<td class="num" data-label="Tasks">(\d+)</td>',
        html,
        re.S,
    )
    assert ("failed", "exit code 1: KeyError: ‹value› in row ‹n›", "5", "5", "5") in rows
    assert any("137" in row[1] and row[2:] == ("1", "5", "1") for row in rows)
    flaky = re.findall(
        r'<tr class="flaky">\s*<th scope="row"><a [^>]+>([^<]+)</a></th>'
        r'\s*<td class="num" data-label="[^"]+" data-rate="([\d.]+)">',
        html,
    )
    assert flaky == [("task-42", "0.400")]


def test_a_run_above_the_p95_of_the_last_runs_is_badged_slower_than_usual(clock):
    """On the executions list, in its summary and in the jobs page's strip: the slow run only,
    once the runs before it are digested."""
    upstream = Nightly(runs=8)
    upstream.minutes[7] = 90
    client = app_for(upstream, clock).test_client()
    for _ in range(10):
        if 'aria-busy="false"' in client.get("/jobs/nightly/runs").get_data(as_text=True):
            break
    page = client.get("/jobs/nightly/executions").get_data(as_text=True)
    # The run-time chart draws the job's usual run time, p50 to p95, as a band.
    assert re.search(
        r'<rect class="usual-band" x="0" y="[\d.]+" width="600" height="[\d.]+">', page
    )
    rows = page.split('<tr class="execution">')
    badged = [row for row in rows if "slower than usual" in row]
    assert len(badged) == 1 and "exec-07" in badged[0]
    summary = client.get("/jobs/nightly/executions/exec-07/tasks").get_data(as_text=True)
    assert 'class="tag tag-slow"' in summary
    usual = client.get("/jobs/nightly/executions/exec-06/tasks").get_data(as_text=True)
    assert 'class="tag tag-slow"' not in usual
    strip = client.get("/jobs/nightly/recent", headers=HTMX).get_data(as_text=True)
    assert re.findall(r'class="run run-\w+ run-slow" href="[^"]*/exec-(\d+)/', strip) == ["07"]


def digest_of(day: int, causes: dict[int, str]) -> Digest:
    """A digest made the way the walk makes one: a Triage fed each task."""
    upstream = Nightly(runs=day + 1, size=20)
    upstream.failures[day] = causes
    walked = Triage(complete=True)
    import msgspec

    from webapp.blaxel import Task

    for index in range(20):
        walked.add(msgspec.convert(upstream.task(day, index), Task))
    execution = msgspec.convert(upstream.execution(day), Execution)
    return Digest.of(("nightly", f"exec-{day:02d}"), execution, walked)


def test_two_workers_making_the_same_digest_store_it_once(data_dir):
    """Two processes' connections to one file, racing to keep the same execution: one stores."""
    digest = digest_of(1, {3: OOM})
    first = Digests(SqliteDigestRows(data_dir / FILE_NAME), 10)
    second = Digests(SqliteDigestRows(data_dir / FILE_NAME), 10)
    barrier = threading.Barrier(2)
    results = []

    def keep(kept: Digests) -> None:
        barrier.wait()
        results.append(kept.put(digest))

    threads = [threading.Thread(target=keep, args=(k,)) for k in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    db = sqlite3.connect(data_dir / FILE_NAME)
    assert db.execute("SELECT count(*) FROM digests").fetchone() == (1,)


def test_the_number_kept_per_job_is_bounded_the_newest_kept(data_dir):
    kept = Digests(SqliteDigestRows(data_dir / FILE_NAME), 3)
    for day in range(5):
        kept.put(digest_of(day, {}))
    assert [t.execution for t in kept.timings("nightly", 10)] == ["exec-04", "exec-03", "exec-02"]


def test_redis_keeps_digests_once_bounded_and_readable_by_task_name(redis_url):
    """The same interface on a real redis-server: set once, the newest kept, records by name."""
    kept = Digests(RedisDigestRows(redis_url), 2)
    first = digest_of(0, {4: OOM})
    assert kept.put(first) is True and kept.put(first) is False
    kept.put(digest_of(1, {}))
    kept.put(digest_of(2, {5: OOM}))
    assert [t.execution for t in kept.timings("nightly", 10)] == ["exec-02", "exec-01"]
    assert kept.get("nightly", "exec-00") is None
    again = Digests(RedisDigestRows(redis_url), 2)  # another app server
    record = again.get("nightly", "exec-02").task("task-5")
    assert (record.status, record.cause) == ("failed", first.task("task-4").cause)
    assert recurrence(again, "nightly", record.cause, runs=20, excluding="exec-02").looked_at == 1


def test_a_corrupt_data_file_stops_the_app_at_start_naming_it_and_is_left_untouched(
    data_dir, clock
):
    path = data_dir / FILE_NAME
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=re.escape(str(path))):
        app_on(Nightly(runs=1), clock=clock)
    assert path.read_bytes() == before


def test_the_plain_recurrence_function_says_new_or_in_how_many_runs(data_dir):
    """For other features (a watch command): from the store alone, leaving out the asker."""
    kept = Digests(open_digest_rows(Settings.load({"WEBAPP_DATA_DIR": str(data_dir)})), 50)
    for day, causes in enumerate([{1: OOM}, {}, {2: OOM}, {3: OOM, 4: KEY}]):
        kept.put(digest_of(day, causes))
    oom = kept.get("nightly", "exec-03").task("task-3").cause
    key = kept.get("nightly", "exec-03").task("task-4").cause
    found = recurrence(kept, "nightly", oom, runs=20, excluding="exec-03")
    assert (found.new, len(found.hits), found.looked_at) == (False, 2, 3)
    assert found.first_seen.execution == "exec-00" and found.last_seen.execution == "exec-02"
    assert recurrence(kept, "nightly", key, excluding="exec-03").new


def test_runs_outside_2_to_200_is_refused_with_a_clear_error(clock):
    client = app_for(Nightly(runs=2), clock).test_client()
    for bad in ("1", "201", "ten", "-3"):
        response = client.get(f"/jobs/nightly/runs?runs={bad}")
        assert response.status_code == 400
        assert "“runs” must be a whole number from 2 to 200." in response.get_data(as_text=True)


def test_a_tasks_page_line_says_in_how_many_of_the_last_runs_it_failed_or_was_retried(clock):
    upstream = Nightly(runs=4)
    upstream.failures[0] = {8: KEY}
    upstream.retried[2].add(8)
    client = app_for(upstream, clock).test_client()
    html = client.get("/jobs/nightly/task-runs/task-8?runs=4", headers=HTMX).get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", "", html).split())
    assert text.startswith("Failed or needed retries in 2 of the last 4 runs")
    assert html.count('class="run-mark hit"') == 2 and html.count('class="run-mark"') == 2


def test_the_digest_command_fills_the_store_ahead_and_skips_runs_already_digested(data_dir):
    """`blaxel-jobs digest JOB --runs N` on the demo: N digests kept; run again, none made."""
    from click.testing import CliRunner

    from webapp.web.cli import main

    runner = CliRunner()
    env = {"BLAXEL_API_KEY": "", "WEBAPP_DATA_DIR": str(data_dir)}
    first = runner.invoke(main, ["digest", "invoice-ocr", "--runs", "3"], env=env)
    assert first.exit_code == 0, first.output
    assert "3 digests made, 0 failures." in first.output
    kept = Digests(SqliteDigestRows(data_dir / FILE_NAME), 10)
    assert len(kept.timings("invoice-ocr", 10)) == 3
    again = runner.invoke(main, ["digest", "invoice-ocr", "--runs", "3"], env=env)
    assert "0 digests made, 0 failures." in again.output


def test_with_redis_digests_survive_a_restart_and_the_caches_flush_with_no_upstream_call(
    clock, redis_url, redis_server
):
    """Kept in the team's Redis: another app (a restart, another server) reads them, even once
    the cached answers are gone, and walks nothing."""
    upstream = Nightly(runs=3)
    upstream.failures[2] = {5: OOM}
    first = settled(app_for(upstream, clock, WEBAPP_CACHE_URL=redis_url).test_client(), 2)
    with redis_server.client() as client:
        for key in client.keys("*"):
            if not key.startswith(b"blaxel-webapp:digest"):
                client.delete(key)  # every cached answer and saved walk gone
    upstream.requests.clear()
    again = settled(app_for(upstream, clock, WEBAPP_CACHE_URL=redis_url).test_client(), 2)
    assert upstream.walks == []
    assert recurrences(again) == recurrences(first)


def test_a_walk_that_spends_the_whole_budget_leaves_listing_the_runs_to_the_next_request(clock):
    """The groups' walk took every call the request may make: the runs are listed (and
    compared) by the next request, never by a call beyond the budget."""
    upstream = Nightly(runs=3, size=400)  # two pages a run
    upstream.failures[2] = {1: OOM}
    client = app_on(upstream, clock=clock, WEBAPP_SCAN_BUDGET="2").test_client()
    html = groups_page(client, 2)
    calls = [r for r in upstream.requests if not r.url.path.endswith("/exec-02")]
    assert len(calls) == 2 and all(r.url.path.endswith("/tasks") for r in calls)
    assert "Comparing with the job" in html and 'aria-busy="true"' in html
    settled_html = settled(client, 2)
    assert "Compared with the last 2 finished runs of this job." in settled_html


def test_a_digest_this_version_cannot_read_is_made_again_from_the_walk(clock, data_dir):
    upstream = Nightly(runs=1)
    upstream.failures[0] = {2: OOM}
    settled(app_for(upstream, clock).test_client(), 0)
    db = sqlite3.connect(data_dir / FILE_NAME)
    db.execute("UPDATE digests SET body = ?", (b"not a digest",))
    db.commit()
    upstream.requests.clear()
    html = settled(app_for(upstream, clock).test_client(), 0)
    assert len(upstream.walks) == 2 and re.findall(r'group-count">(\d+)', html) == ["1"]
    kept = Digests(SqliteDigestRows(data_dir / FILE_NAME), 10)
    assert kept.get("nightly", "exec-00").statuses == {"failed": 1, "succeeded": 399}


def test_the_production_server_refuses_to_start_on_a_data_file_it_cannot_read(data_dir):
    """Before any worker starts, whatever the sign-in mode: the digests live in that file."""
    from webapp.web.production import start_problems

    path = data_dir / FILE_NAME
    path.write_bytes(b"\x00garbage" * 64)
    environ = {"WEBAPP_SECRET_KEY": "k" * 32, "WEBAPP_DATA_DIR": str(data_dir)}
    problems = start_problems(environ, ["127.0.0.1:8000"])
    assert any(str(path) in problem for problem in problems)
    assert path.read_bytes() == b"\x00garbage" * 64


def test_a_digest_keeps_where_each_groups_members_were_read_and_reads_older_ones_without(data_dir):
    """A digest keeps each group's members (page, row) and the cursor of each page the walk
    read, so that its groups can list their members; a digest kept before it did still reads,
    its groups then without members (their views scan, as before)."""
    import json
    import zlib

    import msgspec

    from webapp.blaxel import Task

    upstream = Nightly(runs=2, size=20)
    upstream.failures[1] = {3: OOM, 12: OOM}
    walked = Triage(complete=True)
    for page, cursor in enumerate(["", "cursor-b"]):
        walked.pages.append(cursor)
        for row in range(10):
            walked.add(msgspec.convert(upstream.task(1, page * 10 + row), Task), row)
    execution = msgspec.convert(upstream.execution(1), Execution)
    digest = Digest.of(("nightly", "exec-01"), execution, walked)
    read = Digest.decode(digest.encode()).triage()
    [group] = [group for group in read.groups.values() if group.cause.outcome == "failed"]
    assert group.members == [(0, 3), (1, 2)] and read.pages == ["", "cursor-b"]
    assert read.group(group.cause.id) is group  # complete: its view lists the members
    body = json.loads(zlib.decompress(digest.encode()))
    del body["pages"], body["members"]
    older = Digest.decode(zlib.compress(json.dumps(body).encode())).triage()
    assert older.pages == [] and older.group(group.cause.id) is None
