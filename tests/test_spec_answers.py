"""Answers generated from the official spec's response schemas, sent through the real app.

The simulator sends one shape of each answer; Blaxel may send any answer its spec allows. Here
each operation the app calls answers with a body drawn from that operation's 200 schema in the
spec kept in tests/blaxel-api/ (listings always carrying `data` and `meta`), and every page,
fragment and export answers 200 whatever the draw: fields the spec does not promise are read
as unknown, never as a broken page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from webapp import create_app

from .conftest import TOKEN

SPEC = Path(__file__).resolve().parent / "blaxel-api" / "controlplane.yml"
# The operations the app calls that the spec describes (task logs are not in it: they answer
# an empty page here), and the path suffix each answers.
OPERATIONS = ("ListJobs", "ListJobExecutions", "GetJobExecution", "ListJobExecutionTasks")
LISTINGS = {"ListJobs", "ListJobExecutions", "ListJobExecutionTasks"}
# What JSON Schema generation needs none of.
ANNOTATIONS = {"description", "example", "readOnly", "writeOnly", "default"}
# Arrays are drawn at most this long: long enough for every row and walk the pages make, short
# enough for a few dozen draws of all four answers to stay within seconds.
MAX_ITEMS = 3

JOB, EXECUTION, TASK = "nightly", "exec-1", "task-0"
EXEC = f"/jobs/{JOB}/executions/{EXECUTION}"
TASKS = f"{EXEC}/tasks"
HTMX = {"HX-Request": "true"}
# Every page, fragment and export of the app that reads Blaxel, with the ids of its URL.
PAGES = [
    ("/", {}),
    ("/", HTMX),
    ("/?sort=failing", {}),
    ("/?only=failing", {}),
    ("/health", {}),
    ("/health", HTMX),
    (f"/jobs/{JOB}/recent", HTMX),
    (f"/jobs/{JOB}/executions", {}),
    (f"/jobs/{JOB}/executions", HTMX),
    (f"/jobs/{JOB}/executions?status=failed", {}),
    (TASKS, {}),
    (TASKS, HTMX),
    (f"{TASKS}?status=failed", {}),
    (f"{TASKS}?status=retried", HTMX),
    (f"{TASKS}?sort=duration:desc", {}),
    (f"{TASKS}?view=timeline", {}),
    (f"{TASKS}?view=timeline&span=all", {}),
    (f"{EXEC}/triage", {}),
    (f"{EXEC}/triage", HTMX),
    (f"{EXEC}/summary", HTMX),
    (f"{TASKS}.csv", {}),
    (f"{TASKS}.json?status=failed", {}),
    (f"{TASKS}/{TASK}", {}),
    (f"{TASKS}/{TASK}", HTMX),
    (f"{TASKS}/{TASK}/logs", {}),
    (f"{TASKS}/{TASK}/logs/lines", HTMX),
    (f"{TASKS}/{TASK}/logs/follow", HTMX),
    (f"{TASKS}/{TASK}/logs.txt", {}),
]


def response_schemas() -> dict[str, dict[str, Any]]:
    """Each operation's 200 answer as a self-contained JSON Schema."""
    assert SPEC.is_file(), f"the Blaxel spec is missing: {SPEC} (see tests/blaxel-api/README.md)"
    spec = yaml.safe_load(SPEC.read_text())
    components = spec["components"]["schemas"]

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(components[node["$ref"].rsplit("/", 1)[1]])
        schema = {
            key: {name: inline(s) for name, s in value.items()}
            if key == "properties"
            else inline(value)
            for key, value in node.items()
            if key not in ANNOTATIONS
        }
        for part in schema.pop("allOf", []):  # the spec's allOf parts are plain objects
            schema.setdefault("properties", {}).update(part.pop("properties", {}))
            schema["required"] = schema.get("required", []) + part.pop("required", [])
            assert set(part) <= {"type", "additionalProperties"}, part
        if schema.get("type") == "array":
            schema.setdefault("maxItems", MAX_ITEMS)
        if schema.get("type") == "object" or "properties" in schema:
            # Keys the spec does not name are ignored by the app's decoder (models.py); drawing
            # them too would make each draw many times slower.
            schema.setdefault("additionalProperties", False)
        return schema

    found = {}
    for operations in spec["paths"].values():
        for operation in operations.values():
            name = operation.get("operationId") if isinstance(operation, dict) else None
            if name in OPERATIONS:
                content = operation["responses"]["200"]["content"]["application/json"]
                found[name] = inline(content["schema"])
    for name in LISTINGS:
        found[name]["required"] = ["data", "meta"]
    assert set(found) == set(OPERATIONS)
    return found


SCHEMAS = response_schemas()


@st.composite
def answers(draw: st.DrawFn) -> dict[str, Any]:
    """One answer per operation; the first task (if any) is named as the task pages' URL."""
    drawn = {name: draw(from_schema(SCHEMAS[name])) for name in OPERATIONS}
    tasks = drawn["ListJobExecutionTasks"]["data"]
    if tasks:
        tasks[0].setdefault("metadata", {})["name"] = TASK
    return drawn


# The least the spec promises: each listing holds one item carrying only its required fields,
# and says there is more without a cursor to go on with.
BARE = {
    "ListJobs": {"data": [{"metadata": {"name": ""}, "spec": {}}], "meta": {"hasMore": True}},
    "ListJobExecutions": {"data": [{"metadata": {}, "spec": {}}], "meta": {}},
    "GetJobExecution": {"metadata": {}, "spec": {}},
    "ListJobExecutionTasks": {"data": [{"metadata": {"name": TASK}}], "meta": {}},
}
# An execution listing its tasks in its spec (issue 21), and a task chain that repeats its cursor.
LISTED = {
    **BARE,
    "ListJobExecutions": {"data": [{"metadata": {}, "spec": {"tasks": [{}, {}]}}], "meta": {}},
    "GetJobExecution": {"metadata": {}, "spec": {"tasks": [{"metadata": {"name": TASK}}]}},
    "ListJobExecutionTasks": {
        "data": [{"metadata": {"name": TASK}}],
        "meta": {"hasMore": True, "nextCursor": "c2FtZQ", "total": 1},
    },
}
# An execution as the newer spec may send it (its size and where its list is kept, no array),
# in listings whose totals are lower bounds.
REFERENCED = {
    **LISTED,
    "ListJobs": {
        "data": [{"metadata": {"name": JOB}, "spec": {}}],
        "meta": {"total": 1, "totalIsPartial": True},
    },
    "ListJobExecutions": {
        "data": [{"metadata": {"id": EXECUTION}, "spec": {"taskCount": 9, "tasksRef": "r"}}],
        "meta": {"hasMore": True, "nextCursor": "bW9yZQ", "total": 1, "totalIsPartial": True},
    },
    "GetJobExecution": {"metadata": {}, "spec": {"taskCount": 9, "tasksRef": "r"}},
}


def upstream(answer: dict[str, Any], asked: list[str] | None = None):
    """Blaxel answering each operation with `answer`'s body; each path asked joins `asked`."""

    def handler(request: httpx.Request) -> httpx.Response:
        if asked is not None:
            asked.append(request.url.path)
        path = request.url.path.removeprefix("/v0")
        if path == "/observability/logs":
            return httpx.Response(200, json={})
        if path == "/jobs":
            name = "ListJobs"
        elif path.endswith("/tasks"):
            name = "ListJobExecutionTasks"
        elif path.endswith("/executions"):
            name = "ListJobExecutions"
        else:
            name = "GetJobExecution"
        return httpx.Response(200, content=json.dumps(answer[name]).encode())

    return handler


def app_answering(answer: dict[str, Any], asked: list[str] | None = None):
    return create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "BLAXEL_WORKSPACE": "team-space",
        },
        transport=httpx.MockTransport(upstream(answer, asked)),
    ).test_client()


def test_the_schemas_cover_every_operation_the_app_calls_and_the_fields_it_reads():
    """The answers are drawn from the spec's own schemas: an execution's spec lists its tasks
    (or, from the newer spec, counts them and says where they are kept), and a listing's meta
    may say its total is partial."""
    spec = SCHEMAS["GetJobExecution"]["properties"]["spec"]["properties"]
    assert spec["tasks"]["type"] == "array"
    assert (spec["taskCount"]["type"], spec["tasksRef"]["type"]) == ("integer", "string")
    meta = SCHEMAS["ListJobExecutionTasks"]["properties"]["meta"]["properties"]
    assert meta["totalIsPartial"]["type"] == "boolean"
    assert set(SCHEMAS["ListJobs"]["required"]) == {"data", "meta"}


def test_a_job_or_run_sent_without_its_name_is_shown_unlinked_and_never_asked_about():
    """The spec lets a job's name be empty and an execution come without an id: the row says
    so, links nowhere, and no walk (failing first, the health panel) asks Blaxel about it."""
    asked: list[str] = []
    running = {"metadata": {}, "spec": {}, "status": "running"}
    answer = {**BARE, "ListJobExecutions": {"data": [running], "meta": {}}}
    client = app_answering(answer, asked)
    jobs = client.get("/?sort=failing").get_data(as_text=True)
    assert '<span class="none">no name</span>' in jobs and 'href="/jobs/~' not in jobs
    named = {**answer, "ListJobs": {"data": [{"metadata": {"name": JOB}}], "meta": {}}}
    client = app_answering(named, asked)
    runs = client.get(f"/jobs/{JOB}/executions").get_data(as_text=True)
    assert '<span class="none">no id</span>' in runs and "/executions/~" not in runs
    health = client.get("/health").get_data(as_text=True)
    assert f'<bdi>{JOB}</bdi> › <span class="none">an execution without an id</span>' in health
    assert "/v0/jobs//executions" not in asked


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(answer=answers())
@example(answer=BARE)
@example(answer=LISTED)
@example(answer=REFERENCED)
def test_every_page_fragment_and_export_answers_200_for_any_answer_the_spec_allows(answer):
    """Each page of PAGES, on answers drawn from the spec, is a 200 (a task page is a 404 only
    when the drawn task list names no such task)."""
    client = app_answering(answer)
    has_task = bool(answer["ListJobExecutionTasks"]["data"])
    wrong = []
    for url, headers in PAGES:
        response = client.get(url, headers=headers)
        response.close()  # an export's stream ends with its request
        expected = 404 if f"/{TASK}" in url and not has_task else 200
        if response.status_code != expected:
            wrong.append((url, headers, response.status_code, response.get_data(as_text=True)))
    assert [(url, headers, status) for url, headers, status, _ in wrong] == [], wrong[0][3][-3000:]


PATHS = {
    "ListJobs": "/v0/jobs",
    "ListJobExecutions": f"/v0/jobs/{JOB}/executions",
    "GetJobExecution": f"/v0/jobs/{JOB}/executions/{EXECUTION}",
    "ListJobExecutionTasks": f"/v0/jobs/{JOB}/executions/{EXECUTION}/tasks",
}


@pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")
def test_drawn_answers_and_the_examples_are_answers_the_official_spec_allows():
    """The answers sent above keep to the spec, as its own validator reads it: the drawing's
    caps (short arrays, no keys the spec does not name) only narrow what is drawn."""
    spec = OpenAPI.from_file_path(str(SPEC))

    def check(answer: dict[str, Any]) -> None:
        for name, path in PATHS.items():
            headers = {"Authorization": "Bearer x", "Blaxel-Version": "2026-04-28"}
            request = MockRequest("https://api.blaxel.ai", "get", path, headers=headers)
            spec.validate_response(request, MockResponse(json.dumps(answer[name]).encode()))

    for answer in (BARE, LISTED, REFERENCED):
        check(answer)
    settings(max_examples=10, deadline=None, database=None)(given(answers())(check))()
