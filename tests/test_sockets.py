"""Real loopback sockets: HTTP from a client to the app, and from the app to the simulator."""

from __future__ import annotations

import httpx

from webapp import create_app
from webapp.simulator import create_simulator

from .browser import serve

TOKEN = "socket-test-token-9d2e"  # noqa: S105 - made up; the test checks it never comes back


def test_task_page_over_tcp_from_browser_to_app_to_simulator():
    with serve(create_simulator()) as upstream_url:
        app = create_app({"BLAXEL_API_KEY": TOKEN, "BLAXEL_API_URL": upstream_url + "/v0"})
        with serve(app) as app_url, httpx.Client(base_url=app_url) as http:
            page = http.get("/jobs/weekly-digest/executions/exec-4-digest/tasks?sort=name:asc")
            fragment = http.get(
                "/jobs/weekly-digest/executions/exec-4-digest/tasks?sort=name:desc",
                headers={"HX-Request": "true"},
            )
            missing = http.get("/jobs/weekly-digest/executions/exec-nope/tasks")
    assert page.status_code == 200
    html = page.text
    assert [f"task-{i}" in html for i in range(4)] == [True] * 4
    assert html.index("task-0") < html.index("task-3")
    assert "4 tasks in this execution" in html
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith("<tr")
    assert fragment.text.index("task-3") < fragment.text.index("task-0")
    assert missing.status_code == 404
    for response in (page, fragment, missing):
        assert TOKEN not in response.text


def test_an_unreachable_upstream_is_a_502_page_and_the_app_keeps_serving():
    with serve(create_simulator()) as dead_url:
        pass  # the port is closed again: connections to it are refused
    app = create_app(
        {"BLAXEL_API_KEY": TOKEN, "BLAXEL_API_URL": dead_url + "/v0", "BLAXEL_TIMEOUT": "2"}
    )
    with serve(app) as app_url, httpx.Client(base_url=app_url) as http:
        first = http.get("/jobs/a/executions/b/tasks")
        second = http.get("/healthz")
    assert first.status_code == 502
    assert "Blaxel is not answering properly" in first.text
    assert second.status_code == 200
