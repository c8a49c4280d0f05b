"""The failed-first order of an execution's tasks, server side: failed, cancelled, running,
pending, then succeeded, newest first within each; the order a failed execution opens in and a
choice for any, named in the URL."""

from __future__ import annotations

import re

from .test_health import HTMX
from .test_timeline import NAME, simulator_tasks

BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
SMALL_FAILED = "/jobs/report-render/executions/exec-e4522547/tasks"
INVOICES = "/jobs/invoice-ocr/executions/exec-320-invoices/tasks"
RANK = {"failed": 0, "cancelled": 1, "running": 2, "pending": 3, "succeeded": 4}
SELECTED = re.compile(r'<option value="([^"]+)" selected')


def expected_order(path: str) -> list[str]:
    """The simulator's tasks ranked by status, newest first within each, counted apart."""
    tasks = simulator_tasks(path).values()
    newest = sorted(tasks, key=lambda task: task["metadata"]["createdAt"], reverse=True)
    ranked = sorted(newest, key=lambda task: RANK[task["status"]])
    return [task["metadata"]["name"] for task in ranked]


def test_a_failed_execution_opens_failed_first_with_every_task_in_that_order(client):
    """Without `sort`, a failed execution's tasks come failed first; load more keeps the order."""
    expected = expected_order(SMALL_FAILED)
    html = client.get(SMALL_FAILED + "?limit=25").get_data(as_text=True)
    assert SELECTED.findall(html)[0] == "failed"
    names = [name for _, name in NAME.findall(html)]
    while (more := re.search(r'class="load-more" href="([^"]+)"', html)) is not None:
        link = more.group(1).replace("&amp;", "&")
        assert "sort=failed" in link  # the links name the order the page opened in
        html = client.get(link, headers=HTMX).get_data(as_text=True)
        names += [name for _, name in NAME.findall(html)]
    assert names == expected


def test_newest_first_stays_a_choice_for_a_failed_execution_and_is_named_in_its_links(client):
    html = client.get(SMALL_FAILED + "?sort=createdAt:desc&limit=25").get_data(as_text=True)
    assert SELECTED.findall(html)[0] == "createdAt:desc"
    more = re.search(r'class="load-more" href="([^"]+)"', html).group(1)
    assert "sort=createdAt:desc" in more
    assert 'class="task status-succeeded"' in html  # Blaxel's newest first, not failed first


def test_a_succeeded_execution_opens_newest_first_and_offers_failed_first(client):
    html = client.get(INVOICES).get_data(as_text=True)
    assert SELECTED.findall(html)[0] == "createdAt:desc"
    assert '<option value="failed">Failed first</option>' in html
    chosen = client.get(INVOICES + "?sort=failed&limit=200").get_data(as_text=True)
    names = [name for _, name in NAME.findall(chosen)]
    assert names == expected_order(INVOICES)[:200]


def test_the_big_failed_execution_puts_its_125_failures_then_50_cancelled_first(client):
    """The order is made among the tasks read so far, said so, and each visit reads further."""
    html = client.get(BIG).get_data(as_text=True)
    assert "Failed first among the 2,000 of 5,000 tasks read so far" in html
    for _ in range(2):
        html = client.get(BIG + "?limit=200").get_data(as_text=True)
    assert "read so far" not in html  # the whole execution was read: 125 failed, 50 cancelled
    statuses = re.findall(r'<tr class="task status-(\w+)"', html)
    assert statuses[:125] == ["failed"] * 125 and statuses[125:175] == ["cancelled"] * 50


def test_an_unknown_order_is_a_400_naming_the_choices(client):
    response = client.get(SMALL_FAILED + "?sort=failures")
    assert response.status_code == 400
    assert "failed" in response.get_data(as_text=True)


def test_from_failed_first_a_task_steps_through_the_tasks_of_its_status_in_that_order(client):
    """A row of the failed-first view links with where it stands, so the task's page steps to
    the next and previous task of its status in the view's order ("Next failed task"); the last
    failed task has no next one (the cancelled ones follow in the list, a status of their own)."""
    tasks = simulator_tasks(BIG)
    expected = expected_order(BIG)
    for _ in range(4):  # each visit reads on; the order is whole once every task is read
        html = client.get(BIG + "?limit=200").get_data(as_text=True)
        if "scan-note" not in html:
            break
    links = [
        link.replace("&amp;", "&") for link in re.findall(r'class="task-link" href="([^"]+)"', html)
    ]
    assert all("sort=failed" in link and "at=" in link for link in links)
    stepped, link = [], links[0]
    for _ in range(5):
        page = client.get(link).get_data(as_text=True)
        stepped.append(re.search(r'<span class="task-name">([^<]+)</span>', page).group(1))
        found = re.search(r'rel="next" href="([^"]+)"[^>]*><span class="step-label">([^<]+)', page)
        assert found.group(2) == "Next failed task"
        link = found.group(1).replace("&amp;", "&")
    assert stepped == expected[:5]
    previous = re.search(r'rel="prev" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert f'<span class="task-name">{expected[3]}</span>' in client.get(previous).text
    last_failed = client.get(links[124]).get_data(as_text=True)
    assert tasks[expected[124]]["status"] == "failed" and 'rel="next"' not in last_failed
    assert "Previous failed task" in last_failed
    cancelled = client.get(links[125]).get_data(as_text=True)
    assert "Next cancelled task" in cancelled and "Back to the list" in cancelled


def test_statuses_between_the_named_ones_rank_with_their_kin_keeping_the_walks_order():
    """Reconciling counts as running; unspecified, and a status Blaxel may add, as pending."""
    import msgspec

    from webapp.blaxel import Task
    from webapp.listing.gather import failed_first

    statuses = ["succeeded", "paused", "reconciling", "failed", "unspecified", "running", "failed"]
    tasks = [msgspec.convert({"status": status}, Task) for status in statuses]
    order = failed_first(tasks, list(range(len(tasks))))
    assert [statuses[number] for number in order] == [
        "failed", "failed", "reconciling", "running", "paused", "unspecified", "succeeded"
    ]  # fmt: skip
    assert order[:2] == [3, 6]  # within a rank, the walk's order (newest first)
