"""Comparing two runs of a job (/jobs/JOB/compare?base=&head=): each list checked against the
simulator's own data for the demo's nightly embeddings, whose run tonight breaks tasks that
succeeded in its last successful run, brings a new cause and follows a revision; the cost of
two digested runs; the CSV export; and each bad input."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from webapp import create_app
from webapp.blaxel import BlaxelClient, CallScope
from webapp.failures.causes import Cause
from webapp.runs.compare import compare
from webapp.runs.digest import CauseCount, Digest
from webapp.simulator import create_simulator

from .conftest import FakeClock

NOW = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
JOB = "nightly-embeddings"
TONIGHT = "exec-5k-embeddings"
LAST_SUCCESS = (
    "exec-10afee65"  # the newest succeeded run before tonight's (the night before failed)
)
COMPARE = f"/jobs/{JOB}/compare?base={LAST_SUCCESS}&head={TONIGHT}"
HEADERS = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}


class Recording(httpx.BaseTransport):
    """The simulator, recording the path of every call that reaches it; `refuse` answers
    ListJobRevisions with 403 instead."""

    def __init__(self, clock, refuse: bool = False) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.paths: list[str] = []
        self.refuse = refuse

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.refuse and request.url.path.endswith("/revisions"):
            body = {"error": {"code": "FORBIDDEN", "message": "this key lacks jobs:list"}}
            return httpx.Response(403, json=body)
        return self.inner.handle_request(request)

    def task_calls(self) -> list[str]:
        return [path for path in self.paths if path.endswith("/tasks")]


def build(refuse: bool = False, **config):
    clock = FakeClock(NOW)
    upstream = Recording(clock, refuse)
    settings = {"TESTING": True, "BLAXEL_API_KEY": "t"}
    app = create_app({**settings, **config}, transport=upstream, clock=clock)
    return app.test_client(), upstream


@pytest.fixture(scope="module")
def simulated():
    """Every task of both runs, by name, straight from the simulator: name → (status, cause
    message of its last condition)."""
    client = create_simulator(clock=lambda: NOW).test_client()

    def tasks(execution: str) -> dict[str, dict]:
        found, cursor = {}, ""
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            path = f"/v0/jobs/{JOB}/executions/{execution}/tasks"
            body = client.get(path, query_string=params, headers=HEADERS).json
            found.update({task["metadata"]["name"]: task for task in body["data"]})
            if not body["meta"]["hasMore"]:
                return found
            cursor = body["meta"]["nextCursor"]

    revisions = client.get(f"/v0/jobs/{JOB}/revisions", headers=HEADERS).json
    return tasks(LAST_SUCCESS), tasks(TONIGHT), revisions


def read_whole(client, url: str = COMPARE):
    """The comparison once both runs are digested (each request reads on within its budget)."""
    for _ in range(10):
        response = client.get(url)
        assert response.status_code == 200
        if "not read whole yet" not in response.text:
            return response
    raise AssertionError("the runs were never read whole")


def listed(page: str, name: str) -> list[str]:
    found = re.search(rf'<ul class="compare-tasks" data-list="{name}">(.*?)</ul>', page, re.S)
    return re.findall(r"/tasks/(task-\d+)\"", found.group(1)) if found else []


def counted(page: str, name: str) -> int:
    found = re.search(rf'<h3 id="{name}">.*?<span class="subtitle">([\d,]+) task', page, re.S)
    return int(found.group(1).replace(",", ""))


def test_the_compare_page_lists_tasks_broken_mended_and_in_one_run_as_the_simulator_has_them(
    simulated,
):
    """Each task list is counted and holds exactly the tasks the simulator's two runs differ by,
    50 to a page, the page chosen by its URL parameter."""
    base, head = simulated[0], simulated[1]
    broke = {n for n in head if n in base and base[n]["status"] == "succeeded"}
    broke = {n for n in broke if head[n]["status"] == "failed"}
    mended = {n for n in head if n in base and base[n]["status"] == "failed"}
    mended = {n for n in mended if head[n]["status"] == "succeeded"}
    client, _ = build()
    page = read_whole(client).text
    assert broke and counted(page, "broke") == len(broke)
    assert set(listed(page, "broke")) == broke
    assert counted(page, "mended") == len(mended)
    assert counted(page, "base_only") == len(set(base) - set(head)) == 0
    assert counted(page, "head_only") == len(set(head) - set(base)) == 5000 - 539
    first = listed(page, "head_only")
    second = listed(client.get(COMPARE + "&head_only=2").text, "head_only")
    assert len(first) == len(second) == 50 and not set(first) & set(second)
    assert set(first) | set(second) <= set(head) - set(base)
    # Each task is linked to the task in its run.
    assert f'href="/jobs/{JOB}/executions/{TONIGHT}/tasks/{sorted(broke)[0]}"' in page


def test_the_compare_page_shows_tonights_new_cause_and_the_grown_ones(simulated):
    """The cause tonight brought (the tokenizer mismatch) is new in head with its count, each
    count a link to the run's cause view; retries that grew say before → after."""
    head = simulated[1]
    tokenizer = [
        n
        for n, task in head.items()
        if task["status"] == "failed" and "tokenizer" in task["conditions"][-1]["message"]
    ]
    client, _ = build()
    page = read_whole(client).text
    new = page.split("New in head")[1].split("Gone since base")[0]
    assert "tokenizer vocabulary mismatch" in new
    assert re.search(rf"cause=[^\"]+\">{len(tokenizer)}</a>", new)
    gone = page.split("Gone since base")[1].split("<h3>Grown")[0]
    assert "None." in gone
    grown = page.split("<h3>Grown")[1].split("<h3>Shrunk")[0]
    assert "Succeeded after retries" in grown


def test_the_compare_page_lists_the_revision_between_the_runs_and_the_two_specs(simulated):
    """The job's revisions created between base and head (the deploy 8 hours before tonight's
    run, by whom, its status), with the note that they are placed by time; the specs side by
    side name the environment overrides, never their values."""
    revisions = simulated[2]
    start, end = NOW - timedelta(days=3), NOW - timedelta(hours=6)
    inside = [
        r
        for r in revisions
        if start < datetime.fromisoformat(r["createdAt"]).astimezone(UTC) <= end
    ]
    client, _ = build()
    page = read_whole(client).text
    section = page.split("What changed in the job")[1]
    assert "placed by time" in section
    shown = re.findall(r"<code>(rev-[0-9a-f]+)</code>", section)
    assert shown == [r["id"] for r in inside] and len(shown) == 1
    assert "ci-deploy@acme.dev" in section and "DEPLOYED (active)" in section
    assert "BATCH_SIZE, EMBEDDING_MODEL" in section and "6144 MB" in section
    assert "***" not in section


def test_two_digested_runs_are_compared_without_any_task_call():
    """Once both runs are digested, the page and its export call Blaxel for no task: the
    executions (cached once final) and the revisions only."""
    client, upstream = build()
    read_whole(client)
    upstream.paths.clear()
    assert client.get(COMPARE).status_code == 200
    assert client.get(COMPARE.replace("/compare?", "/compare.csv?")).status_code == 200
    assert upstream.task_calls() == []


def test_the_execution_page_links_to_the_last_successful_run_which_the_link_resolves():
    """ "Compare with the last successful run" asks with head only; the app finds the newest
    succeeded run before it (skipping the failed night before) and redirects to the URL that
    names both."""
    client, _ = build()
    page = client.get(f"/jobs/{JOB}/executions/{TONIGHT}/tasks").text
    link = f"/jobs/{JOB}/compare?head={TONIGHT}"
    assert f'href="{link}">Compare with the last successful run</a>' in page
    response = client.get(link)
    assert response.status_code == 302
    assert response.headers["Location"] == COMPARE


def test_the_executions_page_offers_any_two_of_its_runs_to_compare():
    """A plain GET form on the executions page picks base and head among the listed runs."""
    client, _ = build()
    page = client.get(f"/jobs/{JOB}/executions").text
    form = page.split('<form class="compare-form"')[1].split("</form>")[0]
    assert f'action="/jobs/{JOB}/compare"' in form
    assert 'name="base"' in form and 'name="head"' in form
    assert f'<option value="{LAST_SUCCESS}">' in form


def test_the_export_is_the_task_changes_as_csv_through_the_export_machinery():
    """compare.csv: one row per task change, cells that start like formulas defused, and a
    file named after both runs."""
    client, _ = build()
    read_whole(client)
    response = client.get(COMPARE.replace("/compare?", "/compare.csv?"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert f"{JOB}_{LAST_SUCCESS}_{TONIGHT}_compare_" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["change", "task", "base_status", "head_status"]
    kinds = {row[0] for row in rows[1:]}
    assert kinds == {"broke", "head_only"}
    assert all(row[2:4] == ["succeeded", "failed"] for row in rows[1:] if row[0] == "broke")
    assert not any(row[0].startswith("#") for row in rows)


def test_the_export_of_a_run_not_read_whole_ends_with_the_incomplete_marker():
    """A comparison read in part says so at the end of its file, like a task export cut short."""
    client, _ = build(WEBAPP_SCAN_BUDGET="2")
    response = client.get(COMPARE.replace("/compare?", "/compare.csv?"))
    last = list(csv.reader(io.StringIO(response.text)))[-1]
    assert last[0] == "# EXPORT INCOMPLETE" and TONIGHT in last[1]


def test_a_running_head_is_compared_as_far_as_it_is_read_and_the_page_says_so():
    client, _ = build()
    runs = "/jobs/thumbnail-render/compare?head=exec-slow-thumbnails"
    response = client.get(runs)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "exec-slow-thumbnails is still running: compared as far as it is read" in page
    assert "Known once the head run is read whole." in page


@pytest.mark.parametrize(
    ("query", "status", "said"),
    [
        (f"base={TONIGHT}&head={TONIGHT}", 400, "are the same run"),
        (f"base=nope&head={TONIGHT}", 404, "The base run “nope” is not a run of job"),
        (f"base={LAST_SUCCESS}&head=nope", 404, "The head run “nope” is not a run of job"),
        (f"base=exec-320-invoices&head={TONIGHT}", 404, "The base run “exec-320-invoices”"),
        (f"base={LAST_SUCCESS}", 400, "“head” must name the run"),
        (f"base={LAST_SUCCESS}&head={TONIGHT}&broke=0", 400, "“broke” must be a page number"),
    ],
)
def test_bad_comparisons_say_what_is_wrong(query, status, said):
    client, _ = build()
    response = client.get(f"/jobs/{JOB}/compare?{query}")
    assert response.status_code == status
    assert said in response.text


def test_a_base_newer_than_head_is_shown_and_said():
    client, _ = build()
    page = client.get(f"/jobs/{JOB}/compare?base={TONIGHT}&head={LAST_SUCCESS}").text
    assert "The base run was created after the head run" in page
    assert f"compare?base={LAST_SUCCESS}&amp;head={TONIGHT}" in page


def test_a_job_without_an_earlier_successful_run_among_the_last_n_says_so():
    """orders-export's last four runs failed: with WEBAPP_RUNS_COMPARED=2, none of the two
    before its newest succeeded."""
    client, _ = build(WEBAPP_RUNS_COMPARED="2")
    newest = client.get("/jobs/orders-export/executions").text
    head = re.search(r'href="/jobs/orders-export/executions/([^/"]+)/tasks"', newest).group(1)
    response = client.get(f"/jobs/orders-export/compare?head={head}")
    assert response.status_code == 404
    assert "No earlier successful run among the last 2 finished runs" in response.text


def test_revisions_blaxel_refuses_leave_the_rest_of_the_page_with_the_reason():
    client, _ = build(refuse=True)
    page = read_whole(client).text
    said = "revisions could not be listed: Blaxel refused this server&#39;s credentials."
    assert said in page
    assert counted(page, "broke") > 0


def digest_of(execution: str, created: float, tasks: dict[str, tuple[str, str]]) -> Digest:
    """A digest of tasks name → (status, cause text or ""), each cause counted."""
    causes: dict[str, CauseCount] = {}
    records = {}
    for name, (status, text) in tasks.items():
        key = ""
        if text:
            cause = Cause("failed", "Error", text)
            key = cause.id
            found = causes.get(key)
            count = found.count + 1 if found else 1
            causes[key] = CauseCount(cause, count, [*(found.tasks if found else []), name], text)
        records[name] = [status, 1, key, 60.0, 1.0]
    statuses = {}
    for status, _ in tasks.values():
        statuses[status] = statuses.get(status, 0) + 1
    return Digest(
        "job", execution, "failed", created, 60.0, 1.0, len(tasks), True, "", statuses,
        causes, {}, {}, records,
    )  # fmt: skip


def test_compare_sorts_causes_into_new_gone_grown_and_shrunk_by_count():
    base = digest_of("a", 1.0, {
        "t1": ("failed", "gone"), "t2": ("failed", "grows"), "t3": ("failed", "shrinks"),
        "t4": ("failed", "shrinks"), "t5": ("succeeded", ""),
    })  # fmt: skip
    head = digest_of("b", 2.0, {
        "t1": ("succeeded", ""), "t2": ("failed", "grows"), "t3": ("failed", "shrinks"),
        "t4": ("succeeded", ""), "t5": ("failed", "grows"), "t6": ("failed", "new"),
    })  # fmt: skip
    found = compare(base, head)
    said = lambda changes: [(c.cause.pattern, c.base, c.head) for c in changes]  # noqa: E731
    assert said(found.new_causes) == [("new", 0, 1)]
    assert said(found.gone_causes) == [("gone", 1, 0)]
    assert said(found.grown) == [("grows", 1, 2)]
    assert said(found.shrunk) == [("shrinks", 2, 1)]
    assert [c.name for c in found.lists["broke"]] == ["t5"]
    assert sorted(c.name for c in found.lists["mended"]) == ["t1", "t4"]
    assert [c.name for c in found.lists["head_only"]] == ["t6"]


def test_a_task_missing_from_a_run_read_in_part_is_not_called_in_one_run_only():
    """It may only be unread: listed as in one run only once the other run is read whole."""
    base = digest_of("a", 1.0, {"t1": ("succeeded", ""), "t2": ("succeeded", "")})
    head = digest_of("b", 2.0, {"t1": ("succeeded", ""), "t3": ("succeeded", "")})
    assert compare(base, head, whole=(True, False)).lists["base_only"] == []
    assert [c.name for c in compare(base, head).lists["base_only"]] == ["t2"]
    assert compare(base, head, whole=(False, True)).lists["head_only"] == []


def test_the_client_lists_a_jobs_revisions_from_its_escaped_path():
    """ListJobRevisions: GET jobs/{job}/revisions, a job name with a slash escaped, the bare
    array decoded into revisions."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        body = [{"id": "rev-1", "createdAt": "2026-11-28T01:00:00Z", "createdBy": "ci"}]
        return httpx.Response(200, json=body)

    client = BlaxelClient("https://api.test/v0", "t", transport=httpx.MockTransport(answer))
    found = client.list_job_revisions("team/job", CallScope.starting_now(5))
    assert seen == ["/v0/jobs/team%2Fjob/revisions"]
    assert [(r.id, r.created_by, r.created) for r in found] == [
        ("rev-1", "ci", datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    ]
