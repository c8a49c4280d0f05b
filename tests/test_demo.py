"""Demo mode end to end through Flask's test client: the app on the embedded simulator."""

from __future__ import annotations

import re

import pytest

from webapp.simulator import live_execution_id

HTMX = {"HX-Request": "true"}
BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
NEXT_LINK = re.compile(r'class="load-more" href="([^"]+)"')
ROW_NAME = re.compile(
    r'<tr class="task status-[a-z]+">\s*<th scope="row" class="name">\s*'
    r'<a class="task-link" href="[^"]*"[^>]*>([^<]+)</a>'
)


def walk(client, url: str) -> list[str]:
    """Follow Load more through htmx fragments to the end, as the browser does."""
    html = client.get(url).get_data(as_text=True)
    names = ROW_NAME.findall(html)
    while match := NEXT_LINK.search(html):
        html = client.get(match.group(1).replace("&amp;", "&"), headers=HTMX).get_data(as_text=True)
        names += ROW_NAME.findall(html)
    return names


def test_landing_page_lists_jobs_and_links_to_the_demo_executions(client, clock):
    html = client.get("/").get_data(as_text=True)
    assert "Demo data." in html and "BLAXEL_API_KEY" in html
    assert "27 jobs in the workspace" in html
    links = re.findall(r'<a href="(/jobs/[^"]+/tasks)">', html)
    assert f"/jobs/sitemap-crawler/executions/{live_execution_id(clock())}/tasks" in links
    assert BIG in links
    for link in links:
        assert client.get(link).status_code == 200, link


@pytest.mark.parametrize("sort", ["createdAt:desc", "createdAt:asc", "name:asc", "name:desc"])
def test_walking_load_more_lists_all_5000_tasks_once_in_the_chosen_order(client, sort):
    names = walk(client, f"{BIG}?sort={sort}&limit=200")
    indexes = [int(name.removeprefix("task-")) for name in names]
    assert sorted(indexes) == list(range(5000))
    if sort == "name:asc":
        assert names == sorted(names)
    elif sort == "name:desc":
        assert names == sorted(names, reverse=True)
    elif sort == "createdAt:asc":
        assert indexes == sorted(indexes)
    else:
        assert indexes == sorted(indexes, reverse=True)


def test_search_walk_finds_exactly_the_matching_names(client):
    names = walk(client, f"{BIG}?q=task-49&sort=name:asc&limit=25")
    expected = sorted(f"task-{i}" for i in range(5000) if "task-49" in f"task-{i}")
    assert names == expected


def test_executions_page_links_each_execution_to_its_tasks_with_progress(client):
    html = client.get("/jobs/nightly-embeddings/executions").get_data(as_text=True)
    assert html.count('<tr class="execution">') == 20
    assert "30 executions of this job" in html
    assert f'<a href="{BIG}">exec-5k-embeddings</a>' in html
    assert (
        "4,825 succeeded · 125 failed · 0 running · 50 cancelled · 5,000 total · 300 retried"
        in html
    )


def test_unknown_job_and_execution_are_404_pages(client):
    assert client.get("/jobs/no-such-job/executions").status_code == 404
    assert client.get("/jobs/invoice-ocr/executions/exec-nope/tasks").status_code == 404


def test_a_live_execution_progresses_and_its_summary_stops_polling_when_final(client, clock):
    execution = live_execution_id(clock())
    summary_url = f"/jobs/sitemap-crawler/executions/{execution}/summary"
    seen = []
    for _ in range(40):
        html = client.get(summary_url, headers=HTMX).get_data(as_text=True)
        status = re.search(r'class="badge badge-([a-z]+)"', html).group(1)
        polling = 'hx-trigger="every 5s"' in html
        seen.append(status)
        assert polling == (status in {"queued", "pending", "running", "cancelling"})
        if not polling:
            break
        clock.advance(10)
    assert seen[0] == "queued" or seen[0] == "running"
    assert "running" in seen
    assert seen[-1] in {"succeeded", "failed"}


def test_task_statuses_change_while_the_live_execution_runs(client, clock):
    url = f"/jobs/sitemap-crawler/executions/{live_execution_id(clock())}/tasks?sort=name:asc"
    clock.advance(30)
    early = client.get(url).get_data(as_text=True)
    clock.advance(300)
    late = client.get(url).get_data(as_text=True)
    assert "badge-running" in early or "badge-pending" in early
    assert "badge-running" not in late and "badge-pending" not in late
