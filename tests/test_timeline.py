"""An execution's timeline and the slowest-first order, server side: bars where the tasks' times
put them, lanes that never overlap, a bounded walk over the whole execution that reads further
with each request, and an order by run time that really is one."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import datetime, timedelta

import pytest

from webapp.simulator import create_simulator

from .test_health import HTMX, NOW, Counting, counted  # noqa: F401 - the fixture

STRAGGLERS = "/jobs/report-render/executions/exec-stragglers/tasks"
BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
GROUP = re.compile(r'<tbody data-status="(\w+)">(.*?)</tbody>', re.S)
ROW = re.compile(r"<tr><th>([^<]+)<td>(\d+)<td>(\d+)<td>(\d+)<td>(\d+)")
RUNS = re.compile(r'<path class="tl-runs s-(\w+)" d="([^"]*)" stroke-width="([\d.]+)"')
WAITS = re.compile(r'<path class="tl-waits" d="([^"]*)" stroke-width="([\d.]+)"')
STROKE = re.compile(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?")


def table_rows(html: str) -> dict[str, tuple[str, int, int, int, int]]:
    """The timeline's table: task name -> (status, lane, started at, waited, ran)."""
    return {
        name: (status, *map(int, numbers))
        for status, body in GROUP.findall(html)
        for name, *numbers in ROW.findall(body)
    }


def strokes(path: str) -> list[tuple[float, float, float]]:
    """(y, x, width) of each horizontal stroke of a path drawn as M x y h w, m dx dy h w…"""
    drawn, x, y = [], 0.0, 0.0
    for command, first, second in STROKE.findall(path):
        if command == "h":
            drawn.append((y, x, float(first)))
            x += float(first)
        elif command == "M":
            x, y = float(first), float(second)
        else:
            x, y = x + float(first), y + float(second)
    return drawn


def simulator_tasks(path: str) -> dict[str, dict]:
    client = create_simulator(clock=lambda: NOW).test_client()
    headers = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}
    found, cursor = {}, ""
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v0" + path, query_string=params, headers=headers).json
        found.update({task["metadata"]["name"]: task for task in body["data"]})
        if not body["meta"]["hasMore"]:
            return found
        cursor = body["meta"]["nextCursor"]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_each_bar_spans_its_task_from_scheduled_to_started_to_completed(client):
    html = client.get(STRAGGLERS + "?view=timeline&span=all").get_data(as_text=True)
    tasks = simulator_tasks(STRAGGLERS)
    rows = table_rows(html)
    assert len(rows) == 240 and "Shows 240 of 240 tasks: the whole execution" in html
    svg = re.search(
        r'data-start="([^"]+)" data-end="([^"]+)" data-lanes-top="([\d.]+)" '
        r'data-lane-height="([\d.]+)"',
        html,
    )
    start, end = moment(svg.group(1)), moment(svg.group(2))
    top, lane_height = float(svg.group(3)), float(svg.group(4))
    scale = 1000 / (end - start).total_seconds()

    def x(text: str) -> float:
        return (moment(text) - start).total_seconds() * scale

    # The table says each task's own times, in seconds from the timeline's start.
    wanted_runs, wanted_waits = {}, []
    for name, (status, lane, at, waited, ran) in rows.items():
        meta = tasks[name]["metadata"]
        assert status == tasks[name]["status"]
        assert start + timedelta(seconds=at) == moment(meta["startedAt"])
        assert waited == (moment(meta["startedAt"]) - moment(meta["scheduledAt"])).seconds
        assert ran == run_seconds(tasks[name])
        middle = top + (lane - 0.5) * lane_height
        run = (
            middle,
            x(meta["startedAt"]),
            max(x(meta["completedAt"]) - x(meta["startedAt"]), 0.6),
        )
        wanted_runs.setdefault(status, []).append(run)
        wait = x(meta["startedAt"]) - x(meta["scheduledAt"])
        if wait >= 0.25:  # narrower waits are in the table only
            wanted_waits.append((middle, x(meta["scheduledAt"]), wait))
    # Each status's path draws a stroke per task where the task's times put it, in its lane.
    drawn = {status: sorted(strokes(path)) for status, path, _ in RUNS.findall(html)}
    assert drawn.keys() == wanted_runs.keys()
    for status, wanted in wanted_runs.items():
        assert len(drawn[status]) == len(wanted)
        for got, expected in zip(drawn[status], sorted(wanted), strict=True):
            assert got == pytest.approx(expected, abs=0.03)
    waits = strokes(WAITS.search(html).group(1))
    assert len(waits) == len(wanted_waits) > 200
    for got, expected in zip(sorted(waits), sorted(wanted_waits), strict=True):
        assert got == pytest.approx(expected, abs=0.03)
    # As many lanes as the execution's parallelism, and no two bars of a lane overlap.
    lanes: dict[int, list[tuple[int, int]]] = {}
    for _, lane, at, waited, ran in rows.values():
        lanes.setdefault(lane, []).append((at - waited, at + ran))
    assert sorted(lanes) == list(range(1, 9))
    for spans in lanes.values():
        spans.sort()
        assert all(left[1] <= right[0] for left, right in itertools.pairwise(spans))
    # The five longest bars are the stragglers', and one of them ends the execution.
    longest = {name for name, _ in sorted(rows.items(), key=lambda row: row[1][4])[-5:]}
    runs = sorted((run_seconds(task), name) for name, task in tasks.items())
    assert longest == {name for _, name in runs[-5:]}
    assert max(rows, key=lambda name: rows[name][2] + rows[name][4]) in longest


def test_the_whole_5000_task_timeline_is_at_most_300_kb_of_html(client):
    url = BIG + "?view=timeline&span=all"
    for _ in range(2):  # the bounded walk reads 2,000 tasks a request
        client.get(url, headers=HTMX).close()
    with client.get(url) as response:
        html = response.get_data()
    assert b"Shows 5,000 of 5,000 tasks: the whole execution" in html
    assert len(table_rows(html.decode())) == 5000
    assert len(html) <= 300_000


def test_the_timeline_says_what_it_shows_and_has_a_table_alternative(client):
    html = client.get(STRAGGLERS + "?view=timeline&span=page").get_data(as_text=True)
    assert "Shows the 50 tasks of the list's first page (newest first) of 240." in html
    assert f'<a href="{STRAGGLERS}?view=timeline">Show the whole execution</a>' in html
    assert sum(len(strokes(path)) for _, path, _ in RUNS.findall(html)) == 50
    assert 'role="img" aria-label="Timeline of 50 tasks in ' in html
    table = re.search(r'<details class="timeline-table">.*?</details>', html, re.S).group(0)
    assert len(table_rows(table)) == 50 and "<tr><th>task-239<td>" in table
    # In a <noscript>: the table without JavaScript; text for app.js to make one from, with it.
    assert re.search(r'<noscript class="tl-source">\s*<table class="listing tl-data"', table)
    # The script that names the bar pointed at links it to its task's page.
    assert f'data-task-base="{STRAGGLERS}/"' in table
    # Ticks carry their UTC moment for app.js to relabel in the viewer's time zone.
    assert re.search(
        r'<text class="tl-tick" x="[\d.]+" y="[\d.]+" data-at="[^"]+Z">\d\d:\d\d<', html
    )
    assert '<a href="' + STRAGGLERS + '?view=timeline" aria-current="page">Timeline</a>' in html


def test_the_timeline_shows_the_whole_execution_by_default(client):
    """The tab's link, with no `span`, draws every task of the execution, not the list's page
    of the 50 newest; `span=page` is a link away."""
    html = client.get(STRAGGLERS + "?view=timeline").get_data(as_text=True)
    assert "Shows 240 of 240 tasks: the whole execution." in html
    assert table_rows(html).keys() == simulator_tasks(STRAGGLERS).keys()
    assert f'<a href="{STRAGGLERS}?view=timeline&amp;span=page">Only the list' in html


def test_the_default_timeline_stops_at_its_most_tasks_and_links_to_every_task(client, monkeypatch):
    """Beyond MOST_TASKS the default timeline shows the newest that many, says so, and does not
    ask again; `span=all` reads and draws every task."""
    monkeypatch.setattr("webapp.listing.tasks.MOST_TASKS", 100)
    html = client.get(STRAGGLERS + "?view=timeline").get_data(as_text=True)
    rows = table_rows(html)
    newest = sorted(
        simulator_tasks(STRAGGLERS).values(),
        key=lambda task: (task["metadata"]["createdAt"], int(task["metadata"]["name"][5:])),
    )[-100:]
    assert rows.keys() == {task["metadata"]["name"] for task in newest}
    assert "Shows 100 of 240 tasks, among its newest 100" in html
    assert 'aria-busy="false"' in html and "hx-trigger" not in html
    assert f'<a href="{STRAGGLERS}?view=timeline&amp;span=all">Show every task</a>' in html
    html = client.get(STRAGGLERS + "?view=timeline&span=all").get_data(as_text=True)
    assert len(table_rows(html)) == 240 and "Shows 240 of 240 tasks: the whole execution" in html


def test_an_unknown_span_is_a_400(client):
    response = client.get(STRAGGLERS + "?view=timeline&span=most")
    assert response.status_code == 400 and "“span” can only be" in response.get_data(True)


def test_the_axis_labels_at_the_edges_run_inward_so_none_is_cut(client):
    """A tick within a label's half width of the chart's right edge is anchored at its end, one
    near the left at its start; the others are centred."""
    html = client.get(STRAGGLERS + "?view=timeline").get_data(as_text=True)
    ticks = re.findall(r'<text class="tl-tick( tl-\w+)?" x="([\d.]+)"', html)
    assert len(ticks) >= 4
    for anchor, x in ticks:
        wanted = " tl-start" if float(x) < 32 else " tl-end" if float(x) > 968 else ""
        assert anchor == wanted
    # Here the last tick, 06:40, is close to the right edge.
    assert ticks[-1][0] == " tl-end"


def test_the_list_links_to_the_same_view_as_a_timeline(client):
    html = client.get(STRAGGLERS + "?status=succeeded&sort=name:asc").get_data(as_text=True)
    assert f'href="{STRAGGLERS}?sort=name:asc&amp;status=succeeded&amp;view=timeline"' in html


def test_the_whole_execution_is_read_on_with_each_request_within_the_budget(counted):  # noqa: F811
    client, upstream = counted
    url = BIG + "?view=timeline&span=all"

    def task_calls() -> int:
        return sum(path.endswith("/tasks") for path in upstream.paths)

    html = client.get(url).get_data(as_text=True)
    assert task_calls() == 10 and "Shows 2,000 of 5,000 tasks, read so far" in html
    assert 'hx-trigger="load delay:300ms"' in html  # with htmx it asks again by itself
    html = client.get(url, headers=HTMX).get_data(as_text=True)
    assert task_calls() == 20 and "Shows 4,000 of 5,000 tasks" in html
    html = client.get(url, headers=HTMX).get_data(as_text=True)
    assert task_calls() == 25 and "Shows 5,000 of 5,000 tasks: the whole execution" in html
    assert html.startswith('<section id="timeline"') and "hx-trigger" not in html
    client.get(url)
    assert task_calls() == 25  # a finished execution's pages are kept


def test_an_unknown_view_is_a_400(client):
    assert client.get(STRAGGLERS + "?view=gantt").status_code == 400


NAME = re.compile(r'<a class="task-link" href="([^"]+)"[^>]*>(task-\d+)</a>')


def run_seconds(task: dict) -> float:
    meta = task["metadata"]
    return (moment(meta["completedAt"]) - moment(meta["startedAt"])).total_seconds()


def test_slowest_first_orders_the_tasks_by_run_time_across_load_more(client):
    tasks = simulator_tasks(STRAGGLERS)
    html = client.get(STRAGGLERS + "?sort=duration:desc&limit=100").get_data(as_text=True)
    names = [name for _, name in NAME.findall(html)]
    more = re.search(r'class="load-more" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    names += [name for _, name in NAME.findall(client.get(more, headers=HTMX).get_data(True))]
    assert len(names) == 200 and len(set(names)) == 200
    seconds = [run_seconds(tasks[name]) for name in names]
    assert seconds == sorted(seconds, reverse=True)
    assert seconds[0] == max(run_seconds(task) for task in tasks.values())
    assert "Slowest first among" not in html  # the whole execution was read


def test_slowest_first_keeps_the_filter_and_links_tasks_without_stepping(client):
    html = client.get(BIG + "?sort=duration:desc&status=failed").get_data(as_text=True)
    assert "Slowest first among the 2,000 of 5,000 tasks read so far" in html
    links = NAME.findall(html)
    assert links and all("at=" not in href for href, _ in links)
    assert all("sort=duration:desc" in href for href, _ in links)
    assert client.get(links[0][0].replace("&amp;", "&")).status_code == 200
    assert 'class="task status-failed"' in html and 'class="task status-succeeded"' not in html


def test_an_export_of_the_slowest_first_view_streams_in_blaxels_order(client):
    response = client.get(STRAGGLERS + ".csv?sort=duration:desc")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 241 and rows[1][0] == "task-239"


def test_the_summary_polled_from_a_timeline_refills_no_chips(client):
    running = "/jobs/thumbnail-render/executions/exec-slow-thumbnails"
    html = client.get(running + "/summary?view=timeline", headers=HTMX).get_data(as_text=True)
    assert "count-slot" not in html and "60 total" in html
    assert "count-slot" in client.get(running + "/summary", headers=HTMX).get_data(as_text=True)


def wait_seconds(task: dict) -> float:
    meta = task["metadata"]
    return (moment(meta["startedAt"]) - moment(meta["createdAt"])).total_seconds()


def test_longest_wait_first_orders_the_tasks_by_queue_wait_across_load_more(client):
    """`sort=wait:desc`: the tasks by how long each waited from its creation to its start, the
    longest first, over the whole execution and kept across Load more."""
    tasks = simulator_tasks(STRAGGLERS)
    html = client.get(STRAGGLERS + "?sort=wait:desc&limit=100").get_data(as_text=True)
    assert '<option value="wait:desc" selected>Longest wait first</option>' in html
    names = [name for _, name in NAME.findall(html)]
    more = re.search(r'class="load-more" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "sort=wait:desc" in more
    names += [name for _, name in NAME.findall(client.get(more, headers=HTMX).get_data(True))]
    assert len(names) == 200 and len(set(names)) == 200
    seconds = [wait_seconds(tasks[name]) for name in names]
    assert seconds == sorted(seconds, reverse=True)
    assert seconds[0] == max(wait_seconds(task) for task in tasks.values())
    # The longest waits are the last tasks to start, not the slowest to run.
    assert names[0] != max(tasks, key=lambda name: run_seconds(tasks[name]))


def test_longest_wait_first_says_how_far_its_walk_read_and_keeps_its_filter(client):
    html = client.get(BIG + "?sort=wait:desc&status=failed").get_data(as_text=True)
    assert "Longest wait first among the 2,000 of 5,000 tasks read so far" in html
    assert 'class="task status-failed"' in html and 'class="task status-succeeded"' not in html
    links = NAME.findall(html)
    assert links and all("sort=wait:desc" in href and "at=" not in href for href, _ in links)
