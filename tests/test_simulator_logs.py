"""The simulator's task logs: consistent with each task's history, deterministic, live for the
crawl, late as Blaxel's lines are, and refusing what the API refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.simulator import DEMO_TOKEN, create_simulator, data, live_execution_id

from .conftest import FakeClock

START = datetime(2026, 8, 21, 12, 0, 30, tzinfo=UTC)
PAGINATED = "2026-04-28"
WIRE = "%Y-%m-%dT%H:%M:%S"


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def client(clock):
    return create_simulator(clock=clock, secret=b"test-secret").test_client()


HEADERS = {"Authorization": f"Bearer {DEMO_TOKEN}"}


def tasks(client, job: str, execution: str) -> list[dict]:
    found, cursor = [], ""
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        body = client.get(
            f"/v0/jobs/{job}/executions/{execution}/tasks",
            headers={**HEADERS, "Blaxel-Version": PAGINATED},
            query_string=params,
        ).json
        found += body["data"]
        if not body["meta"]["hasMore"]:
            return found
        cursor = body["meta"]["nextCursor"]


def logs(client, job, execution="", task="", start=None, end=None, **params):
    now = client.application.extensions["simulator"].clock()
    query = {
        "start": (start or now - timedelta(days=2, hours=23)).strftime(WIRE),
        "end": (end or now + timedelta(minutes=5)).strftime(WIRE),
        "resourceType": "jobs",
        "workloadIds": job,
        "executionId": execution,
        "taskId": task,
        **params,
    }
    return client.get("/v0/observability/logs", headers=HEADERS, query_string=query)


def lines(client, job, execution, task, **params) -> list[dict]:
    """Every line of the task, oldest first."""
    body = logs(client, job, execution, task, limit=1000, **params).json
    found = body.get(job, {"logs": [], "totalCount": 0})
    assert found["totalCount"] == len(found["logs"])
    return list(reversed(found["logs"]))


def conditions_of(task: dict, kind: str) -> list[dict]:
    return [c for c in task["conditions"] if c["type"] == kind]


@pytest.mark.parametrize(
    ("job", "execution"),
    [
        ("nightly-embeddings", "exec-5k-embeddings"),
        ("invoice-ocr", "exec-320-invoices"),
        ("thumbnail-render", "exec-slow-thumbnails"),
    ],
)
def test_each_tasks_log_tells_its_history(client, job, execution):
    checked = {"failed": 0, "retried": 0, "succeeded": 0}
    for task in tasks(client, job, execution)[:400]:
        name, status = task["metadata"]["name"], task["status"]
        if status not in ("failed", "succeeded"):
            continue
        shown = lines(client, job, execution, name)
        texts = [line["message"] for line in shown]
        attempts = len(conditions_of(task, "Running"))
        # Each attempt is there, from its first line.
        starts = sum(text.startswith("Attempt ") and " of up to " in text for text in texts)
        assert starts == attempts, name
        retries = conditions_of(task, "Retrying")
        for retry in retries:  # each failed attempt ends with what the Retrying condition says
            assert retry["message"] in texts
        checked["retried"] += bool(retries)
        if status == "failed":
            failed = conditions_of(task, "Failed")[0]
            assert texts[-1] == failed["message"], name  # ends with the reported error
            assert shown[-1]["severity"] >= 17
            if "137" in failed["message"]:
                assert any(text.startswith("Out of memory: Killed process") for text in texts)
            elif any(word in failed["message"] for word in ("KeyError", "HTTP 503", "HTTP 429")):
                assert any(text.startswith("Traceback (most recent call last):") for text in texts)
            checked["failed"] += 1
        else:
            assert shown[-1]["severity"] == 9 and "error" not in texts[-1].lower()
            checked["succeeded"] += 1
        # Within the task's run: nothing before it started, nothing after it ended.
        assert shown[0]["timestamp"] >= task["metadata"]["startedAt"][:-1]
        assert shown[-1]["timestamp"][:19] <= task["metadata"]["completedAt"][:19]
    assert checked["succeeded"] and checked["retried"]
    if job != "invoice-ocr":  # all of its tasks succeed in the end
        assert checked["failed"]


def test_the_same_anchor_gives_the_same_lines(clock):
    first = create_simulator(clock=clock).test_client()
    second = create_simulator(clock=clock).test_client()
    for client_ in (first, second):
        assert logs(client_, "invoice-ocr", "exec-320-invoices", "task-7").status_code == 200
    assert (
        logs(first, "invoice-ocr", "exec-320-invoices", "task-7").json
        == logs(second, "invoice-ocr", "exec-320-invoices", "task-7").json
    )


def test_a_running_crawl_task_prints_lines_as_time_goes_by(clock, client):
    cycle = START.replace(second=0, minute=START.minute - START.minute % 5)
    clock.now = cycle + timedelta(seconds=50)
    execution = live_execution_id(clock.now)
    running = [t for t in tasks(client, "sitemap-crawler", execution) if t["status"] == "running"]
    name = running[0]["metadata"]["name"]
    counts = []
    for _ in range(4):
        counts.append(len(lines(client, "sitemap-crawler", execution, name)))
        clock.now += timedelta(seconds=5)
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_some_lines_are_read_only_after_later_ones(clock, client):
    cycle = START.replace(second=0, minute=START.minute - START.minute % 5)
    execution = live_execution_id(cycle)
    late = 0
    for seconds in range(20, 60, 2):
        clock.now = cycle + timedelta(seconds=seconds)
        before = {line["timestamp"] for line in lines(client, "sitemap-crawler", execution, "")}
        clock.now += timedelta(seconds=2)
        after = lines(client, "sitemap-crawler", execution, "")
        newest_before = max(before, default="")
        arrived = [line["timestamp"] for line in after if line["timestamp"] not in before]
        late += sum(1 for stamp in arrived if stamp < newest_before)
    assert late > 0  # a line that shows up after lines printed later than it


def test_pages_are_newest_first_with_limit_offset_and_the_total(client):
    every = lines(client, "invoice-ocr", "exec-320-invoices", "task-7")
    first = logs(client, "invoice-ocr", "exec-320-invoices", "task-7", limit=5).json["invoice-ocr"]
    second = logs(client, "invoice-ocr", "exec-320-invoices", "task-7", limit=5, offset=5).json[
        "invoice-ocr"
    ]
    assert first["totalCount"] == second["totalCount"] == len(every)
    assert first["logs"] + second["logs"] == list(reversed(every))[:10]


def test_severity_and_search_filter_and_count_the_matches(client):
    every = lines(client, "invoice-ocr", "exec-320-invoices", "task-7")
    warnings = lines(client, "invoice-ocr", "exec-320-invoices", "task-7", severity="WARNING")
    assert warnings and all(13 <= line["severity"] <= 16 for line in warnings)
    assert warnings == [line for line in every if 13 <= line["severity"] <= 16]
    found = lines(client, "invoice-ocr", "exec-320-invoices", "task-7", search="PAGE 2")
    assert found == [line for line in every if "page 2" in line["message"].lower()]
    assert found and len(found) < len(every)


def test_the_window_bounds_the_lines(client):
    every = lines(client, "invoice-ocr", "exec-320-invoices", "task-7")
    middle = datetime.fromisoformat(every[len(every) // 2]["timestamp"][:19] + "+00:00")
    later = logs(client, "invoice-ocr", "exec-320-invoices", "task-7", start=middle, limit=1000)
    assert later.json["invoice-ocr"]["logs"][-1]["timestamp"] >= middle.strftime(WIRE)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-08-21 12:00"}, "start and end must be UTC times"),
        ({"end": "yesterday"}, "start and end must be UTC times"),
        ({"start": "2026-08-17T12:00:00", "end": "2026-08-21T12:00:00"}, "may not exceed 3 days"),
        ({"start": "2026-08-21T12:00:00", "end": "2026-08-21T11:00:00"}, "end must not be before"),
        ({"severity": "LOUD"}, "severity must list values"),
        ({"limit": "0"}, "limit must be an integer"),
        ({"offset": "-1"}, "offset must be an integer"),
    ],
)
def test_what_the_api_refuses_is_a_400(client, params, message):
    query = {"start": "2026-08-21T11:00:00", "end": "2026-08-21T12:00:00", "workloadIds": "x"}
    response = client.get(
        "/v0/observability/logs", headers=HEADERS, query_string={**query, **params}
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "BAD_REQUEST"
    assert message in response.json["error"]["message"]


def test_no_credentials_is_a_401(client):
    response = client.get("/v0/observability/logs")
    assert response.status_code == 401


def test_an_unknown_job_task_or_resource_type_has_no_lines(client):
    assert logs(client, "no-such-job").json == {}
    assert logs(client, "invoice-ocr", "exec-320-invoices", "task-999999").json == {}
    assert (
        logs(client, "invoice-ocr", "exec-320-invoices", "task-7", resourceType="agents").json == {}
    )


def test_the_cli_s_all_severity_and_a_whole_execution_are_served(client):
    body = logs(client, "weekly-digest", "exec-4-digest", "", severity="all,INFO").json
    assert body["weekly-digest"]["totalCount"] > 4  # every task's lines


def test_a_whole_executions_answer_is_every_tasks_lines_together_newest_first(client):
    """Without a task, the execution's lines as the contract shapes them: every task's own lines
    merged, newest first, the search applied, a count of them all, and nothing naming a task."""
    names = [task["metadata"]["name"] for task in tasks(client, "weekly-digest", "exec-4-digest")]
    each = [lines(client, "weekly-digest", "exec-4-digest", name) for name in names]
    merged = sorted((line for own in each for line in own), key=lambda line: line["timestamp"])
    whole = logs(client, "weekly-digest", "exec-4-digest", "", limit=1000).json["weekly-digest"]
    assert whole["totalCount"] == len(merged) == sum(map(len, each))
    assert whole["logs"] == merged[::-1]
    assert all(set(line) == {"timestamp", "message", "severity", "trace_id"} for line in merged)
    searched = logs(client, "weekly-digest", "exec-4-digest", "", search="SENT BATCH", limit=2)
    found = searched.json["weekly-digest"]
    assert found["totalCount"] == sum("sent batch" in line["message"].lower() for line in merged)
    assert len(found["logs"]) == 2


@pytest.mark.parametrize("job", [job.name for job in data.JOBS])
def test_every_demo_jobs_logs_are_served_whatever_its_runs_failed_of(client, job):
    # Each failure its runs met prints its own output (a job with no run in the window: none).
    response = logs(client, job, limit=1000)
    assert response.status_code == 200


def test_a_failed_orders_export_task_prints_the_missing_columns_traceback(client):
    body = logs(client, "orders-export", severity="ERROR", limit=1000).json
    printed = [line["message"] for line in body["orders-export"]["logs"]]
    assert any("KeyError: 'customer_id'" in text and "Traceback" in text for text in printed)
    # Each attempt prints its own failure's output, the last one too, never another job's.
    assert not any("KeyError: 'text'" in text for text in printed)
