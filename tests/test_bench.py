"""The benchmark is run on demand (`python -m bench`), never here: these only check its parts."""

from __future__ import annotations

from werkzeug.test import Client

from bench.__main__ import LOAD_MORE, Report, tasks_path
from bench.upstream import CountingUpstream


def test_the_counting_upstream_records_api_calls_but_not_its_own_endpoints():
    upstream = CountingUpstream()
    client = Client(upstream)
    headers = {"Authorization": "Bearer x", "Blaxel-Version": "2026-04-28"}
    assert (
        client.get(
            "/v0" + tasks_path("weekly-digest", "exec-4-digest") + "?limit=2", headers=headers
        ).status_code
        == 200
    )
    assert client.get("/_bench/calls").json[0][2] == (
        "/v0/jobs/weekly-digest/executions/exec-4-digest/tasks?limit=2"
    )
    client.post("/_bench/reset")
    assert client.get("/_bench/calls").json == []


def test_the_report_is_a_markdown_table_with_one_row_per_measurement():
    report = Report()
    report.add("(a) direct", "7.0 ms")
    report.add("(b) cold", "10.5 ms", "1.50×", "≤ 1.5× — met")
    lines = report.markdown().splitlines()
    assert lines[2:] == [
        "| (a) direct | 7.0 ms |  |  |",
        "| (b) cold | 10.5 ms | 1.50× | ≤ 1.5× — met |",
    ]
    assert "#more-row a.load-more" in LOAD_MORE
