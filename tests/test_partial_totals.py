"""Fields of the newer spec the official SDK is generated from (tests/blaxel-api/CONTRACT.md,
"Newer than the spec copy"): a listing's `meta.totalIsPartial` (its `total` is then a lower
bound, never a bound on a walk) and an execution's `spec.taskCount` and `spec.tasksRef` (its
size, and where its task list is kept, sent instead of the `spec.tasks` array)."""

from __future__ import annotations

import json

import httpx
import pytest

from webapp.blaxel.client import decode
from webapp.blaxel.models import Execution, Page
from webapp.blaxel.walk import MARGIN_PAGES

from .conftest import EXECUTION, task_json
from .exports import download, exported_names, is_marked_incomplete

TASKS = "/jobs/nightly/executions/exec-1/tasks"
HTMX = {"HX-Request": "true"}
PAGE_SIZE = 200
# More pages than a total of PARTIAL lets a walk read, were that total a bound.
PAGES = 4
PARTIAL = 100
assert PAGES * PAGE_SIZE > PARTIAL + MARGIN_PAGES * PAGE_SIZE


def partial_meta(more: str) -> dict:
    return {"hasMore": bool(more), "nextCursor": more, "total": PARTIAL, "totalIsPartial": True}


def chain_of(make, pages: int = PAGES, size: int = PAGE_SIZE):
    """`pages` pages of `size` items behind cursors "UEFHR1", …, each saying its total of
    PARTIAL is only a lower bound; counts the calls."""

    def handler(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("cursor", "UEFHR0")[5:])
        more = f"UEFHR{index + 1}" if index + 1 < pages else ""
        items = [make(index * size + n) for n in range(size)]
        return httpx.Response(200, json={"data": items, "meta": partial_meta(more)})

    return handler


def referenced(**spec) -> dict:
    """EXECUTION as the newer spec may send it: its size and list's place, no task array."""
    return {**EXECUTION, "spec": {**EXECUTION["spec"], **spec}}


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_walks_past_a_partial_total_to_the_end_of_the_chain(scripted, fmt):
    """A total marked partial is no bound: the export follows the cursors and holds every task,
    not marked incomplete."""
    client, upstream = scripted(chain_of(task_json))
    response, body = download(client, f"{TASKS}.{fmt}")
    assert response.status_code == 200
    assert not is_marked_incomplete(fmt, body)
    assert sorted(exported_names(fmt, body)) == sorted(f"task-{n}" for n in range(800))
    assert len(upstream.listing_requests) == PAGES


def test_a_status_walk_and_the_failure_groups_read_past_a_partial_total(scripted):
    """The app's own walks (a status filter, the failure groups) go on by the cursor chain."""
    client, upstream = scripted(
        chain_of(lambda n: task_json(n, "failed" if n == 799 else "succeeded")),
        WEBAPP_SCAN_BUDGET="10",
    )
    html = client.get(f"{TASKS}?status=failed", headers=HTMX).get_data(as_text=True)
    assert f'href="{TASKS}/task-799' in html
    groups = client.get(TASKS.removesuffix("/tasks") + "/triage").get_data(as_text=True)
    assert "the list ran on past" not in groups and 'aria-busy="false"' in groups


def test_a_listing_whose_total_is_partial_says_at_least(scripted):
    """The jobs and executions pages say "of at least 1,000", never "of 1,000"."""

    def handler(request: httpx.Request) -> httpx.Response:
        meta = {"hasMore": True, "nextCursor": "TkVYVA", "total": 1000, "totalIsPartial": True}
        if request.url.path.endswith("/executions"):
            items = [{**EXECUTION, "metadata": {**EXECUTION["metadata"], "id": "exec-2"}}]
        else:
            items = [{"metadata": {"name": "nightly"}, "spec": {}}]
        return httpx.Response(200, json={"data": items, "meta": meta})

    client, _ = scripted(handler)
    jobs = client.get("/").get_data(as_text=True)
    assert "of at least 1,000 jobs in the workspace" in jobs
    runs = client.get("/jobs/nightly/executions").get_data(as_text=True)
    assert "of at least 1,000 executions of this job" in runs
    health = client.get("/health").get_data(as_text=True)
    assert "At least 999 more jobs were not read" in health


def test_the_tasks_page_counts_by_the_executions_task_count_when_the_listings_is_partial(
    scripted,
):
    """An execution's `taskCount` is its exact size: the tasks page, its next rows and its
    failure groups count by it where the task listing's own total is only a lower bound; when
    the execution does not say its size, the rows say "at least"."""
    answers = iter([referenced(taskCount=6)] * 3 + [{"metadata": {}, "spec": {}}] * 9)
    client, _ = scripted(
        chain_of(lambda n: task_json(n, "failed"), pages=2, size=3),
        execution=lambda request: httpx.Response(200, json=next(answers)),
        WEBAPP_SCAN_BUDGET="1",
        WEBAPP_CACHE_TTL="0",
    )
    page = client.get(TASKS).get_data(as_text=True)
    assert "of 6 tasks in this execution" in page
    assert "<dt>Tasks</dt><dd>6</dd>" in page
    rows = client.get(f"{TASKS}?shown=3&cursor=UEFHR1", headers=HTMX).get_data(as_text=True)
    assert "of 6 tasks in this execution" in rows
    groups = client.get(TASKS.removesuffix("/tasks") + "/triage", headers=HTMX)
    assert "Grouped 3 of 6 tasks" in groups.get_data(as_text=True)
    rows = client.get(f"{TASKS}?shown=3&cursor=UEFHR1", headers=HTMX).get_data(as_text=True)
    assert f"of at least {PARTIAL} tasks in this execution" in rows


def test_an_execution_with_task_count_and_tasks_ref_but_no_tasks_renders_every_page(scripted):
    """`taskCount` and `tasksRef` instead of the `tasks` array: the size is read (shown in the
    summary and the timeline's cover), the reference decoded and left alone."""
    execution = referenced(taskCount=2, tasksRef="tasks/team-space/nightly/exec-1")
    client, _ = scripted(
        lambda request: httpx.Response(
            200, json={"data": [task_json(0), task_json(1, "failed")], "meta": {"total": 2}}
        ),
        execution=lambda request: httpx.Response(200, json=execution),
    )
    for url, headers in [
        (TASKS, {}),
        (TASKS, HTMX),
        (f"{TASKS}?view=timeline", {}),
        (f"{TASKS}?view=timeline&span=all", {}),
        (TASKS.removesuffix("/tasks") + "/triage", {}),
        (TASKS.removesuffix("/tasks") + "/summary", HTMX),
        (f"{TASKS}/task-1", {}),
        (f"{TASKS}.csv", {}),
    ]:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[-2000:])
    summary = client.get(TASKS.removesuffix("/tasks") + "/summary", headers=HTMX)
    assert "<dt>Tasks</dt><dd>2</dd>" in summary.get_data(as_text=True)


def test_an_executions_size_is_its_task_count_else_its_task_list_else_its_stats():
    """What the app knows of an execution's size before any task call, best source first."""

    def size(body: dict) -> int | None:
        return decode(json.dumps(body).encode(), Execution).task_count

    assert size({"spec": {"taskCount": 7, "tasks": [{}], "tasksRef": "x"}}) == 7
    assert size({"spec": {"tasks": [{}, {}, {}]}, "stats": {"total": 9}}) == 3
    assert size({"spec": {}, "stats": {"total": 9}}) == 9
    assert size({"metadata": {}}) is None


def test_a_page_says_its_total_is_partial_only_when_blaxel_marks_it():
    """`totalIsPartial` read from the listing's meta; a flag without a total means nothing."""

    def page(meta: dict) -> Page[Execution]:
        return decode(json.dumps({"data": [], "meta": meta}).encode(), Page[Execution])

    assert page({"total": 1000, "totalIsPartial": True}).total_is_partial
    assert not page({"total": 1000}).total_is_partial
    assert not page({"totalIsPartial": True}).total_is_partial
