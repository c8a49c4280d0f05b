"""Logs as people read them, on the demo through Flask's test client: a section per attempt with
its ending, a link to each line, and the search across every task of an execution or of one
failure group, its figures checked against the simulator's own lines."""

from __future__ import annotations

import hashlib
import html as markup
import re
from datetime import timedelta
from urllib.parse import unquote

import msgspec
import pytest

from webapp import create_app
from webapp.blaxel import LogLine, Task
from webapp.logs import search as searching
from webapp.logs.attempts import section_starts, task_attempts
from webapp.simulator import DEMO_TOKEN, create_simulator

from .test_simulator_logs import tasks as simulated_tasks

INVOICES = "/jobs/invoice-ocr/executions/exec-320-invoices"

HEADERS = {"Authorization": f"Bearer {DEMO_TOKEN}"}
WIRE = "%Y-%m-%dT%H:%M:%S"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def simulator(clock):
    """The simulator on the demo's clock: the same data the app is shown."""
    return create_simulator(clock=clock, secret=b"test-secret").test_client()


def simulated_lines(simulator, job: str, execution: str, task: str) -> list[dict]:
    """Every line of the task (of the whole execution when `task` is ""), oldest first."""
    now = simulator.application.extensions["simulator"].clock()
    query = {
        "start": (now - timedelta(days=2, hours=23)).strftime(WIRE),
        "end": (now + timedelta(minutes=5)).strftime(WIRE),
        "workloadIds": job,
        "executionId": execution,
        "taskId": task,
        "limit": 1000,
    }
    newest_first: list[dict] = []
    while True:
        query["offset"] = len(newest_first)
        body = simulator.get("/v0/observability/logs", headers=HEADERS, query_string=query).json
        found = body.get(job, {"logs": [], "totalCount": 0})
        newest_first += found["logs"]
        if not found["logs"] or len(newest_first) >= found["totalCount"]:
            return list(reversed(newest_first))


def items(page: str) -> list[tuple[str, str]]:
    """The panel's list in order: ("attempt", "N ending") for a section's heading, ("line",
    message) for a line."""
    found = re.finditer(
        r'<li class="log-attempt ending-(\w+)"[^>]*>\s*<h2>Attempt (\d+)'
        r'|<span class="msg">([^<]*)</span>',
        page,
    )
    return [
        ("attempt", f"{m[2]} {m[1]}") if m[1] else ("line", markup.unescape(m[3])) for m in found
    ]


def anchor_of(line: dict) -> str:
    """A line's id as the docs define it: its time to the nanosecond, a hash of its message."""
    day, clock = line["timestamp"].rstrip("Z").split("T")
    whole, fraction = clock.split(".")
    digest = hashlib.blake2b(line["message"].encode(), digest_size=4).hexdigest()
    return f"L{day.replace('-', '')}T{whole.replace(':', '')}{fraction:0<9}-{digest}"


def is_retried(task: dict, status: str) -> bool:
    return task["status"] == status and any(c["type"] == "Retrying" for c in task["conditions"])


@pytest.fixture
def retrying(simulator) -> tuple[str, list[dict]]:
    """A small demo execution (its path) with tasks that failed after retries and tasks that
    succeeded after them, and its tasks."""
    headers = {**HEADERS, "Blaxel-Version": "2026-04-28"}
    runs = simulator.get("/v0/jobs/orders-export/executions?limit=20", headers=headers).json
    for run in runs["data"]:
        execution = run["metadata"]["id"]
        tasks = simulated_tasks(simulator, "orders-export", execution)
        if all(any(is_retried(t, s) for t in tasks) for s in ("failed", "succeeded")):
            return f"/jobs/orders-export/executions/{execution}", tasks
    raise AssertionError("the demo has no such execution")


def retried(tasks: list[dict], status: str) -> dict:
    return next(task for task in tasks if is_retried(task, status))


@pytest.mark.parametrize("status", ["failed", "succeeded"])
def test_each_attempt_of_a_task_is_a_section_of_its_own_with_the_ending_its_conditions_say(
    client, retrying, status
):
    execution, tasks = retrying
    task = retried(tasks, status)
    retries = [c["message"] for c in task["conditions"] if c["type"] == "Retrying"]
    page = client.get(f"{execution}/tasks/{task['metadata']['name']}/logs").get_data(as_text=True)
    shown = items(page)
    headings = [value for kind, value in shown if kind == "attempt"]
    endings = [*(["retried"] * len(retries)), status]
    assert headings == [f"{n} {ending}" for n, ending in enumerate(endings, start=1)]
    # Each section starts at the line its attempt printed first, in the simulator's own words.
    for place, (kind, value) in enumerate(shown):
        if kind == "attempt":
            number = value.split()[0]
            assert shown[place + 1][1].startswith(f"Attempt {number} of up to ")
    # Each attempt's ending in the words of the condition that tells of it.
    told = re.findall(r'<bdi class="attempt-message">([^<]*)</bdi>', page)
    assert [markup.unescape(text) for text in told] == [*retries, task["conditions"][-1]["message"]]


def test_a_filtered_view_or_a_part_of_the_lines_has_no_sections(client, retrying):
    execution, tasks = retrying
    logs = f"{execution}/tasks/{retried(tasks, 'failed')['metadata']['name']}/logs"
    assert "log-attempt" in client.get(logs).get_data(as_text=True)
    assert "log-attempt" not in client.get(logs + "?severity=ERROR").get_data(as_text=True)
    assert "log-attempt" not in client.get(logs + "?limit=5").get_data(as_text=True)


def test_each_line_has_an_id_from_its_time_and_message_and_a_link_to_itself(
    client, simulator, retrying
):
    execution, tasks = retrying
    name = retried(tasks, "failed")["metadata"]["name"]
    lines = simulated_lines(simulator, "orders-export", execution.rsplit("/", 1)[1], name)
    page = client.get(f"{execution}/tasks/{name}/logs").get_data(as_text=True)
    ids = re.findall(r'<li id="(L[^"]+)" class="log-line', page)
    assert ids == [anchor_of(line) for line in lines]
    for anchor in ids:
        assert f'<a class="line-link" href="#{anchor}"' in page
    # The same after a reload: nothing in an id depends on the request.
    again = client.get(f"{execution}/tasks/{name}/logs").get_data(as_text=True)
    assert re.findall(r'<li id="(L[^"]+)" class="log-line', again) == ids


def test_a_link_at_a_line_opens_the_page_of_lines_around_it(client, simulator, retrying):
    execution, tasks = retrying
    name = retried(tasks, "failed")["metadata"]["name"]
    lines = simulated_lines(simulator, "orders-export", execution.rsplit("/", 1)[1], name)
    assert len(lines) > 10
    wanted = lines[3]
    logs = f"{execution}/tasks/{name}/logs?limit=5"
    assert anchor_of(wanted) not in client.get(logs).get_data(as_text=True)
    at = wanted["timestamp"][:19] + "Z"
    page = client.get(f"{logs}&around={at}").get_data(as_text=True)
    assert f'id="{anchor_of(wanted)}"' in page
    assert "Newer lines" in page  # a page of its own, further back than the newest
    # Paging on from there leaves `around` behind: its links are ordinary offsets.
    assert "around=" not in "".join(re.findall(r'href="([^"]*(?:offset|follow)[^"]*)"', page))


def hits(page: str) -> dict[str, int]:
    found = re.findall(r'<bdi>([^<]+)</bdi></a> <span class="hit-count">([\d,]+) lines?', page)
    return {task: int(count.replace(",", "")) for task, count in found}


def test_the_execution_search_counts_each_tasks_hits_as_the_simulator_printed_them(
    client, simulator
):
    response = client.get(f"{INVOICES}/logs?q=Traceback")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    every = simulated_lines(simulator, "invoice-ocr", "exec-320-invoices", "")
    total = sum("traceback" in line["message"].lower() for line in every)
    assert total > 0
    assert f'<span id="hits-total">{total}</span> lines' in page
    expected = {}
    for task in simulated_tasks(simulator, "invoice-ocr", "exec-320-invoices"):
        name = task["metadata"]["name"]
        own = simulated_lines(simulator, "invoice-ocr", "exec-320-invoices", name)
        count = sum("traceback" in line["message"].lower() for line in own)
        if count:
            expected[name] = count
    assert hits(page) == expected
    assert "Incomplete" not in page


def test_each_hit_links_to_its_tasks_logs_opened_at_that_line(client):
    page = client.get(f"{INVOICES}/logs?q=Traceback").get_data(as_text=True)
    links = re.findall(r'<a class="line-link" href="([^"]+)"', page)
    assert links
    for link in links[:4]:
        path, anchor = markup.unescape(link).split("#")
        assert re.fullmatch(
            r"/jobs/invoice-ocr/executions/exec-320-invoices/tasks/task-\d+/logs"
            r"\?around=[\dT:-]+Z",
            unquote(path),
        )
        assert f'id="{anchor}"' in client.get(path).get_data(as_text=True)


def test_a_failure_groups_search_is_limited_to_its_tasks(client):
    groups = client.get(f"{INVOICES}/triage").get_data(as_text=True)
    cause = re.findall(r"/logs\?cause=([^\"&]+)\">Search their logs", groups)[0]
    members_page = client.get(f"{INVOICES}/tasks?cause={cause}&limit=200")
    members = set(
        re.findall(
            r'class="task-link" href="[^"]*"[^>]*>([^<]+)</a>', members_page.get_data(as_text=True)
        )
    )
    everyone = hits(client.get(f"{INVOICES}/logs?q=Traceback").get_data(as_text=True))
    page = client.get(f"{INVOICES}/logs?q=Traceback&cause={cause}").get_data(as_text=True)
    found = hits(page)
    assert found == {task: count for task, count in everyone.items() if task in members}
    assert "Only the tasks of the group" in page
    # The heading counts the group's lines; the execution's count is said beside it.
    assert f'<span id="hits-total">{sum(found.values())}</span>' in page
    assert f"{sum(everyone.values())} lines contain it in the whole execution" in page


def test_a_search_that_runs_out_of_its_task_budget_says_it_is_incomplete(client, monkeypatch):
    monkeypatch.setattr(searching, "MAX_TASKS", 3)
    page = client.get(f"{INVOICES}/logs?q=Traceback").get_data(as_text=True)
    assert "Incomplete: searched 3 of" in page
    assert "one search reads at most 3 tasks" in page
    assert sum(hits(page).values()) < int(re.search(r'hits-total">(\d+)', page)[1])


def test_a_search_out_of_time_says_it_is_incomplete_and_places_nothing(clock):
    config = {"TESTING": True, "BLAXEL_API_KEY": "", "BLAXEL_TIMEOUT": "1"}
    client = create_app(config, clock=clock).test_client()
    page = client.get(f"{INVOICES}/logs?q=Traceback").get_data(as_text=True)
    assert "Incomplete: searched 0 of" in page
    assert "the time one page may take ran out" in page


def test_once_every_hit_is_placed_the_tasks_left_are_not_asked(client):
    page = client.get(f"{INVOICES}/logs?q=Traceback").get_data(as_text=True)
    assert re.search(r"Every line is placed: the other [\d,]+ tasks have none", page)


def test_a_search_nothing_matches_says_so(client):
    page = client.get(f"{INVOICES}/logs?q=no-such-text-anywhere").get_data(as_text=True)
    assert "No line contains “no-such-text-anywhere”" in page


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("q=" + "x" * 201, "at most 200"),
        ("q=a%01b", "control characters"),
        ("q=OOM&cause=no-such-group", "no failure group"),
    ],
)
def test_a_bad_search_is_a_clear_400(client, query, said):
    response = client.get(f"{INVOICES}/logs?{query}")
    assert response.status_code == 400
    assert said in response.get_data(as_text=True)


def test_the_execution_page_and_each_failure_group_link_to_the_search(client):
    tasks = client.get(f"{INVOICES}/tasks").get_data(as_text=True)
    assert f'action="{INVOICES}/logs"' in tasks
    groups = client.get(f"{INVOICES}/triage").get_data(as_text=True)
    assert re.search(rf'href="{INVOICES}/logs\?cause=[^"]+">Search their logs', groups)


def a_task(status: str, *conditions: tuple[str, str, str]) -> Task:
    raw = {
        "metadata": {"name": "task-1", "startedAt": "2026-11-28T08:00:00Z"},
        "spec": {"maxRetries": 3},
        "status": status,
        "conditions": [{"type": t, "reason": r, "message": m} for t, r, m in conditions],
    }
    return msgspec.convert(raw, Task)


def at(second: float, text: str = "") -> LogLine:
    whole, fraction = divmod(round(second * 1000), 1000)
    return LogLine(
        f"2026-11-28T08:{whole // 60:02d}:{whole % 60:02d}.{fraction:03d}Z", text or f"{second}"
    )


RETRY = ("Retrying", "AttemptFailed", "Attempt 1 failed: exit code 1; retrying in 10s")


def test_a_task_still_reconciling_has_every_attempt_so_far_ended_by_its_retry():
    made = task_attempts(a_task("reconciling", ("Running", "TaskStarted", "started"), RETRY))
    assert [(a.number, a.ending, a.message) for a in made] == [(1, "retried", RETRY[2])]


def test_a_running_retried_tasks_last_attempt_is_still_running():
    made = task_attempts(a_task("running", RETRY, ("Running", "TaskStarted", "again")))
    assert [(a.number, a.ending, a.allowed) for a in made] == [(1, "retried", 4), (2, "running", 4)]


def test_sections_start_after_the_longest_silences_and_untimed_lines_stay_before_them():
    made = task_attempts(a_task("failed", RETRY, ("Failed", "Error", "exit code 1 after 1 retry")))
    lines = [LogLine(None, "no time"), at(1), at(2), at(4), at(30), at(31), at(33)]
    starts = section_starts(lines, made)
    assert {line.text: attempt.number for line in lines if (attempt := starts.get(line.key))} == {
        "1": 1,
        "30": 2,
    }


def test_fewer_lines_than_attempts_start_as_many_sections_as_there_are_lines():
    made = task_attempts(a_task("failed", RETRY, RETRY, ("Failed", "Error", "after 2 retries")))
    assert len(made) == 3
    assert [a.number for a in section_starts([at(1), at(20)], made).values()] == [1, 2]


def test_a_link_at_a_line_on_the_newest_page_opens_the_ordinary_view(client, simulator, retrying):
    """When the newest page holds the line, `around` changes nothing but the line pointed at: the
    window stays the task's run, not one the link set."""
    execution, tasks = retrying
    name = retried(tasks, "failed")["metadata"]["name"]
    lines = simulated_lines(simulator, "orders-export", execution.rsplit("/", 1)[1], name)
    at = lines[-2]["timestamp"][:19] + "Z"
    page = client.get(f"{execution}/tasks/{name}/logs?around={at}").get_data(as_text=True)
    assert f'id="{anchor_of(lines[-2])}"' in page
    assert "the task&#39;s run and a margin" in page and "Newer lines" not in page
