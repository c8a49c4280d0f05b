"""CSV and JSON exports of a task view: the whole execution, streamed, row for row the list."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from werkzeug.datastructures import MultiDict

from webapp.blaxel import CallScope, PageRequest
from webapp.common.formatting import iso
from webapp.common.services import services_of
from webapp.listing.export import CSV_COLUMNS, INCOMPLETE
from webapp.listing.filtered import UPSTREAM_LIMIT
from webapp.listing.query import TASKS, ListQuery

from .conftest import task_json, task_page

BIG = ("nightly-embeddings", "exec-5k-embeddings")
BIG_URL = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
TASKS_URL = "/jobs/nightly/executions/exec-1/tasks"


def full_list(app, **args) -> list:
    """The execution's tasks as Blaxel pages them, walked here independently of the export."""
    client = services_of(app).client
    query = ListQuery.parse(MultiDict(args), TASKS)
    tasks, cursor = [], ""
    while True:
        request = PageRequest(query.sort, query.search, UPSTREAM_LIMIT, cursor)
        page = client.list_tasks(*BIG, request, CallScope.starting_now(30))
        tasks += page.items
        if not page.has_more:
            return tasks
        cursor = page.next_cursor


def csv_rows(response) -> list[dict[str, str]]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_csv_export_is_the_filtered_list_row_by_row(app, client):
    response = client.get(BIG_URL + ".csv?status=failed,cancelled&sort=name:asc")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    expected = [t for t in full_list(app, sort="name:asc") if t.status in {"failed", "cancelled"}]
    rows = csv_rows(response)
    assert len(rows) == len(expected) == 175
    for row, task in zip(rows, expected, strict=True):
        key = task.key_condition
        assert (row["name"], row["status"]) == (task.name, task.status)
        assert row["created_at"] == iso(task.created_at)
        assert row["completed_at"] == iso(task.completed_at)
        assert row["max_retries"] == str(task.max_retries) and row["timeout"] == task.timeout
        assert (row["key_condition_severity"], row["key_condition_reason"]) == (
            key.severity,
            key.reason,
        )
        assert row["key_condition_message"] == key.message
        assert row["condition_count"] == str(len(task.conditions))
        lines = row["conditions"].split("\n")
        assert len(lines) == len(task.conditions)
        assert all(c.reason in line for c, line in zip(task.conditions, lines, strict=True))
    assert {row["key_condition_severity"] for row in rows if row["status"] == "failed"} == {"Error"}


def test_the_csv_has_one_header_and_opens_as_utf8_in_a_spreadsheet(client):
    body = client.get(BIG_URL + ".csv?q=task-49").get_data()
    assert body.startswith("\ufeffname,status,".encode())  # the BOM marks it as UTF-8
    reader = csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""))
    assert next(reader) == list(CSV_COLUMNS)
    assert all(len(row) == len(CSV_COLUMNS) for row in reader)


def test_the_json_export_of_the_whole_execution_is_the_full_list_in_order(app, client):
    response = client.get(BIG_URL + ".json?sort=createdAt:asc")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    exported = json.loads(response.get_data())
    expected = full_list(app, sort="createdAt:asc")
    assert len(exported) == len(expected) == 5000
    assert [t["name"] for t in exported] == [t.name for t in expected]
    first, task = exported[0], expected[0]
    assert first["startedAt"] == iso(task.started_at) and first["maxRetries"] == task.max_retries
    assert [c["message"] for c in first["conditions"]] == [c.message for c in task.conditions]


def test_the_json_export_applies_search_and_filter_together(app, client):
    exported = json.loads(client.get(BIG_URL + ".json?q=task-1&status=failed").get_data())
    expected = [t.name for t in full_list(app, q="task-1") if t.status == "failed"]
    assert [t["name"] for t in exported] == expected and expected


def test_the_download_is_named_for_job_execution_and_utc_time(client):
    response = client.get(BIG_URL + ".json?status=failed")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="nightly-embeddings_exec-5k-embeddings_tasks_20261128T090000Z.json"'
    )


def test_odd_ids_cannot_break_out_of_the_filename(scripted):
    client, _ = scripted(lambda r: httpx.Response(200, json=task_page([])))
    response = client.get('/jobs/a"b;c/executions/exec\\1/tasks.csv')
    assert 'filename="a_b_c_exec_1_tasks_' in response.headers["Content-Disposition"]


@pytest.mark.parametrize("name", ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_defused(scripted, name):
    task = task_json(0, "failed", name=name)
    task["conditions"] = [
        {"type": "Failed", "severity": "Error", "reason": "=cmd", "message": "@evil"}
    ]
    client, _ = scripted(lambda r: httpx.Response(200, json=task_page([task])))
    row = csv_rows(client.get(TASKS_URL + ".csv"))[0]
    assert row["name"] == "'" + name
    assert row["key_condition_reason"] == "'=cmd" and row["key_condition_message"] == "'@evil"


def test_the_export_is_streamed_with_at_most_one_page_in_flight_ahead(scripted):
    def pages(request):
        index = int(request.url.params.get("cursor", "UD0")[2:])
        more = f"UD{index + 1}" if index < 4 else ""
        return httpx.Response(200, json=task_page([task_json(index)], next_cursor=more, total=5))

    client, upstream = scripted(pages)
    response = client.get(TASKS_URL + ".json", buffered=False)
    chunks = response.iter_encoded()
    # The first page before any byte is sent; the second may be on its way meanwhile.
    assert 1 <= len(upstream.listing_requests) <= 2
    next(chunks)
    # Page 1 written: page 2 in hand or in flight, page 3 at most on its way.
    assert len(upstream.listing_requests) <= 3
    rest = b"".join(chunks)
    assert len(upstream.listing_requests) == 5
    assert all(r.url.params["limit"] == "200" for r in upstream.listing_requests)
    assert rest.endswith(b"\n]\n")
    response.close()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_bad_parameters_get_the_same_400_as_the_page_and_no_upstream_call(scripted, fmt):
    client, upstream = scripted(lambda r: httpx.Response(200, json=task_page([])))
    page = client.get(TASKS_URL + "?status=broken&sort=up")
    response = client.get(f"{TASKS_URL}.{fmt}?status=broken&sort=up")
    assert response.status_code == page.status_code == 400
    assert "“broken”" in response.get_data(as_text=True) and "“sort”" in response.get_data(
        as_text=True
    )
    assert upstream.requests == []


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_upstream_failure_before_the_first_byte_is_the_ordinary_error_page(scripted, fmt):
    client, _ = scripted(lambda r: httpx.Response(404, json={"error": "nope"}))
    response = client.get(f"{TASKS_URL}.{fmt}")
    assert response.status_code == 404
    assert "Content-Disposition" not in response.headers
    assert "Blaxel has no such job or execution" in response.get_data(as_text=True)


def failing_after_first_page(request):
    if "cursor" in request.url.params:
        return httpx.Response(503, json={"error": {"code": "X", "message": "down"}})
    return httpx.Response(200, json=task_page([task_json(0)], next_cursor="TkVYVA"))


def test_a_failure_mid_csv_ends_it_with_a_row_saying_it_is_incomplete(scripted, caplog):
    client, _ = scripted(failing_after_first_page)
    response = client.get(TASKS_URL + ".csv")
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))
    assert rows[1][0] == "task-0"
    assert rows[-1][0] == INCOMPLETE and "Blaxel is not answering properly" in rows[-1][1]
    assert "export stopped: upstream unavailable" in caplog.text


def test_a_failure_mid_json_leaves_a_document_no_parser_takes_for_complete(scripted):
    client, _ = scripted(failing_after_first_page)
    text = client.get(TASKS_URL + ".json").get_data(as_text=True)
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    last = text.rstrip().splitlines()[-1]
    assert json.loads(last)["error"].startswith("export incomplete")


def test_an_empty_export_is_still_valid(scripted):
    client, _ = scripted(lambda r: httpx.Response(200, json=task_page([task_json(0)])))
    assert json.loads(client.get(TASKS_URL + ".json?status=failed").get_data()) == []
    assert csv_rows(client.get(TASKS_URL + ".csv?status=failed")) == []
