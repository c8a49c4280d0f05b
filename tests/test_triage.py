"""Failure groups: one shared walk per execution, a bounded step per request; cause links."""

from __future__ import annotations

import re

import httpx
import msgspec

from .conftest import EXECUTION, FakeClock, task_json, task_page
from .test_health import counted  # noqa: F401 - the fixture

URL = "/jobs/nightly/executions/exec-1"
HTMX = {"HX-Request": "true"}


def failed(index: int, message: str) -> dict:
    task = task_json(index, "failed")
    task["conditions"] = [
        {
            "type": "Failed",
            "reason": "BackoffLimitExceeded",
            "severity": "Error",
            "message": message,
        }
    ]
    return task


def chain(pages: list[list[dict]]):
    """Pages of tasks behind cursors "UEFHR1", "UEFHR2", …; counts the task-list calls."""
    total = sum(len(page) for page in pages)

    def handler(request: httpx.Request) -> httpx.Response:
        index = int(request.url.params.get("cursor", "UEFHR0")[5:])
        more = f"UEFHR{index + 1}" if index + 1 < len(pages) else ""
        return httpx.Response(200, json=task_page(pages[index], more, total=total))

    return handler


PAGES = [
    [failed(0, "exit code 1: KeyError: 'a'"), task_json(1)],
    [failed(2, "exit code 1: KeyError: 'b'"), failed(3, "connect to 10.0.0.1:5432 failed")],
    [failed(4, "connect to 10.0.0.9:5432 failed"), failed(5, "exit code 1: KeyError: 'c'")],
]


def task_calls(upstream) -> list[httpx.Request]:
    """The calls for the execution's task pages (the job's runs, listed to compare the groups
    with, are not the walk's)."""
    return [r for r in upstream.listing_requests if r.url.path.endswith("/tasks")]


def groups(html: str) -> list[tuple[int, str]]:
    found = re.findall(
        r'class="group-count">([\d,]+)</span> <span class="outcome">[^<]+</span> '
        r'<code class="pattern">([^<]+)</code>',
        html,
    )
    return [(int(count), pattern) for count, pattern in found]


def test_each_request_walks_at_most_the_budget_and_the_next_goes_on_from_there(scripted):
    client, upstream = scripted(chain(PAGES), WEBAPP_SCAN_BUDGET="2")
    first = client.get(URL + "/triage", headers=HTMX).get_data(as_text=True)
    assert "Grouped 4 of 6 tasks" in first and 'hx-trigger="load delay:250ms"' in first
    assert len(task_calls(upstream)) == 2
    second = client.get(URL + "/triage", headers=HTMX).get_data(as_text=True)
    assert "Grouped" not in second and 'aria-busy="false"' in second
    assert groups(second) == [
        (3, "exit code 1: KeyError: ‹value›"),
        (2, "connect to ‹host› failed"),
    ]
    # Three pages in all, each read once: the second request went on from the third.
    assert [r.url.params.get("cursor") for r in task_calls(upstream)] == [
        None,
        "UEFHR1",
        "UEFHR2",
    ]


def test_a_finished_executions_groups_are_shared_and_not_walked_again(scripted, clock):
    client, upstream = scripted(chain(PAGES), WEBAPP_CACHE_TTL="5")
    client.get(URL + "/triage", headers=HTMX)
    calls = len(task_calls(upstream))
    clock.advance(300)  # past the short TTL, within the final one (the execution failed)
    html = client.get(URL + "/triage", headers=HTMX).get_data(as_text=True)
    assert len(task_calls(upstream)) == calls and len(groups(html)) == 2


def test_a_running_executions_groups_are_made_again_after_the_ttl(scripted, clock):
    running = {**EXECUTION, "status": "running"}
    client, upstream = scripted(
        chain(PAGES), execution=lambda request: httpx.Response(200, json=running)
    )
    client.get(URL + "/triage", headers=HTMX)
    calls = len(task_calls(upstream))
    client.get(URL + "/triage", headers=HTMX)
    assert len(task_calls(upstream)) == calls  # within the TTL: shared
    clock.advance(6)
    client.get(URL + "/triage", headers=HTMX)
    assert len(task_calls(upstream)) == 2 * calls


def test_a_group_link_filters_the_list_to_exactly_that_cause(scripted):
    client, _ = scripted(chain(PAGES))
    html = client.get(URL + "/triage").get_data(as_text=True)
    link = re.search(r'class="group-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert re.fullmatch(URL + r"/tasks\?cause=[0-9a-f]{12}", link)
    listed = client.get(link).get_data(as_text=True)
    names = re.findall(r'class="task-link" href="[^"]*"[^>]*>([^<]+)</a>', listed)
    assert names == ["task-0", "task-2", "task-5"]
    assert "KeyError: ‹value›" in listed  # the list says which cause it shows
    exported = client.get(link.replace("/tasks?", "/tasks.csv?")).get_data(as_text=True)
    assert [line.split(",")[0] for line in exported.splitlines()[1:]] == names


def test_an_unknown_cause_is_refused_and_one_of_no_task_lists_nothing(scripted):
    client, _ = scripted(chain(PAGES))
    assert client.get(URL + "/tasks?cause=nonsense").status_code == 400
    html = client.get(URL + "/tasks?cause=0123456789ab").get_data(as_text=True)
    assert "a cause none of the tasks read so far has" in html


def test_retried_lists_the_tasks_that_needed_more_than_one_attempt(scripted):
    retried = task_json(7)
    retried["conditions"] = [
        {"type": "Retrying", "reason": "AttemptFailed", "message": "Attempt 1 failed: HTTP 503"},
        {"type": "Succeeded", "reason": "Completed", "message": "done"},
    ]
    client, _ = scripted(chain([[task_json(6), retried, failed(8, "boom")]]))
    html = client.get(URL + "/tasks?status=retried").get_data(as_text=True)
    assert re.findall(r'class="task-link" href="[^"]*"[^>]*>([^<]+)</a>', html) == ["task-7"]
    assert "2 of 4" in html  # its attempts, of those allowed
    assert 'id="count-link-retried"' in html and ">3<" in html  # stats.retried


def test_a_final_tasks_duration_is_not_counted_to_now(scripted, clock):
    quiet = task_json(9, "succeeded", completedAt="", updatedAt="2026-11-28T08:10:05Z")
    client, _ = scripted(chain([[quiet]]))
    before = client.get(URL + "/tasks").get_data(as_text=True)
    clock.advance(86400 * 3)
    after = client.get(URL + "/tasks").get_data(as_text=True)
    assert "10 min" in before and "10 min" in after and "3 d" not in after


def test_the_groups_of_an_execution_whose_answer_has_no_id_walk_and_link_by_the_urls_ids(scripted):
    """The failure groups use the ids of their own URL: an execution answer without
    `metadata.id` (the spec does not promise one) still gets its panel and page, linked to it."""
    nameless = {**EXECUTION, "metadata": {"job": "nightly"}}
    client, upstream = scripted(
        chain(PAGES), execution=lambda request: httpx.Response(200, json=nameless)
    )
    for headers in (HTMX, {}):
        response = client.get(URL + "/triage", headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html[-2000:]
        assert groups(html)[0] == (3, "exit code 1: KeyError: ‹value›")
        assert f'href="{URL}/tasks/task-0"' in html
    assert {r.url.path for r in task_calls(upstream)} == {"/v0" + URL + "/tasks"}
    page = client.get(URL + "/triage").get_data(as_text=True)
    assert "of execution exec-1" in page and f'href="{URL}/tasks"' in page


def test_the_failure_groups_answer_when_the_jobs_runs_listing_hands_out_a_cursor_twice(scripted):
    """The groups' past reads the job's runs through their cursor chain: a chain that hands out
    the same cursor again stops that listing (the runs read before it are the window), and the
    failure groups still answer, never a 500."""
    looping = {"data": [], "meta": {"hasMore": True, "nextCursor": "again", "total": 99}}
    tasks = chain(PAGES)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/executions"):
            return httpx.Response(200, json=looping)
        return tasks(request)

    client, upstream = scripted(handler)
    response = client.get(URL + "/triage", headers=HTMX)
    assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    assert groups(response.get_data(as_text=True))[0] == (3, "exit code 1: KeyError: ‹value›")
    listings = [r for r in upstream.requests if r.url.path.endswith("/executions")]
    assert listings and listings[-1].url.params.get("cursor") == "again"


BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings"


def grouped_big_execution(client) -> str:
    """The failure groups of the big execution once they cover it, as the panel shows them."""
    for _ in range(10):  # 25 pages, at most 10 a request; then the job's past runs
        html = client.get(BIG + "/triage", headers=HTMX).get_data(as_text=True)
        if 'aria-busy="false"' in html:
            break
    assert 'aria-busy="false"' in html
    return html


def simulator_members(cause: str) -> list[str]:
    """The big execution's tasks of that cause, newest first, straight from the simulator."""
    return [name for name, _ in simulator_rows(cause)]


def simulator_rows(cause: str) -> list[tuple[str, int]]:
    """(name, row in the execution, newest first) of the big execution's tasks of that cause."""
    from webapp.blaxel import Task
    from webapp.failures.causes import cause_of

    from .test_timeline import simulator_tasks

    tasks = simulator_tasks(BIG + "/tasks").values()
    return [
        (task["metadata"]["name"], row)
        for row, task in enumerate(tasks)
        if (found := cause_of(msgspec.convert(task, Task))) is not None and found.id == cause
    ]


def test_a_cause_view_lists_its_whole_group_from_the_walks_record_without_a_scan(counted):  # noqa: F811
    """Once the groups cover the execution, a group's link lists every member at once, in the
    walk's order, from the pages the walk kept: no task page is asked of Blaxel again."""
    client, upstream = counted
    html = grouped_big_execution(client)
    link = re.search(r'class="group-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    cause = link.rsplit("cause=", 1)[1]
    members = simulator_members(cause)
    asked = len(upstream.paths)
    listed = client.get(link).get_data(as_text=True)
    names = re.findall(r'class="task-link" href="[^"]*"[^>]*>([^<]+)</a>', listed)
    assert 0 < len(members) <= 50 and names == members  # every member, newest first
    assert f"{len(members)} matching tasks loaded, of 5,000 tasks" in " ".join(listed.split())
    assert "Scanned" not in listed and "Load more" not in listed
    assert not [path for path in upstream.paths[asked:] if path.endswith("/tasks")]


def test_a_cause_view_lists_its_whole_group_from_the_runs_digest_without_a_scan(counted):  # noqa: F811
    """After a restart the walk's shared record is gone and the groups come from the run's kept
    digest: a group's link still lists exactly its members at once, reading only the pages the
    digest says hold them, never scanning."""
    from webapp import create_app

    from .test_health import NOW, Counting

    grouped_big_execution(counted[0])
    clock = FakeClock(NOW)
    upstream = Counting(clock)
    # Another process on the same data folder: a cache of its own, the same digests.
    config = {"TESTING": True, "BLAXEL_API_KEY": "any-token"}
    restarted = create_app(config, clock=clock, transport=upstream).test_client()
    html = restarted.get(BIG + "/triage", headers=HTMX).get_data(as_text=True)
    big_pages = BIG.replace("/jobs/", "/v0/jobs/") + "/tasks"
    assert 'aria-busy="false"' in html and big_pages not in upstream.paths  # from the digest
    links = re.findall(r'class="group-link" href="([^"]+)"', html)
    for link in (found.replace("&amp;", "&") for found in links[:3]):
        rows = simulator_rows(link.rsplit("cause=", 1)[1])
        members = [name for name, _ in rows]
        asked = len(upstream.paths)
        listed = restarted.get(link).get_data(as_text=True)
        names = re.findall(r'class="task-link" href="[^"]*"[^>]*>([^<]+)</a>', listed)
        assert 0 < len(members) <= 50 and names == members
        assert f"{len(members)} matching tasks loaded, of 5,000 tasks" in " ".join(listed.split())
        assert "Scanned" not in listed and "Load more" not in listed
        pages = [path for path in upstream.paths[asked:] if path == big_pages]
        # The pages of 200 holding members, at most (some are cached by then), not a scan.
        assert len(pages) <= len({row // 200 for _, row in rows})


def test_a_cause_view_scans_when_the_digests_kept_cursors_have_expired(scripted):
    """The cursors a digest keeps may have expired upstream by the time a group is opened after
    a restart: Blaxel refuses them, and the cause view scans instead, listing the same tasks."""
    client, _ = scripted(chain(PAGES))
    html = client.get(URL + "/triage").get_data(as_text=True)
    link = re.search(r'class="group-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")

    def renewed(request: httpx.Request) -> httpx.Response:
        """Refuses the cursors handed out before, and hands out new ones."""
        cursor = request.url.params.get("cursor", "")
        if cursor.startswith("UEFHR"):
            return httpx.Response(400, json={"code": 400, "message": "invalid cursor"})
        index = int(cursor[5:]) if cursor else 0
        more = f"UEFHS{index + 1}" if index + 1 < len(PAGES) else ""
        return httpx.Response(200, json=task_page(PAGES[index], more, total=6))

    restarted, upstream = scripted(renewed)
    response = restarted.get(link)
    names = re.findall(r'class="task-link" href="[^"]*"[^>]*>([^<]+)</a>', response.text)
    assert response.status_code == 200 and names == ["task-0", "task-2", "task-5"]
    assert any("UEFHR" in str(r.url) for r in upstream.listing_requests)  # the digest's, tried
