"""The simulator's task logs conform to the logs contract, as the app asks for them.

The official spec has no logs endpoint, so this module holds a small OpenAPI document written
from CONTRACT.md ("Task logs": what the official CLI sends and reads back) and checks requests
(the app's own LogRequest.params) and responses against it with openapi-core, as
test_simulator_conformance.py does for the other endpoints against the official spec.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from webapp.blaxel.logs import SEVERITIES, LogRequest, Window
from webapp.simulator import DEMO_TOKEN, DEMO_WORKSPACE, create_simulator, live_execution_id

# OpenAPI 3.0 deprecates allowEmptyValue, yet it is how an empty query parameter is declared.
pytestmark = pytest.mark.filterwarnings("ignore:Use of allowEmptyValue:DeprecationWarning")
SERVER = "https://api.blaxel.ai"
ANCHOR = datetime(2026, 8, 21, 12, 0, 30, tzinfo=UTC)
WIRE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"
RFC3339_NANOS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
SEVERITY_LIST = f"^({'|'.join(SEVERITIES)})(,({'|'.join(SEVERITIES)}))*$"


def text(pattern: str | None = None) -> dict:
    schema = {"type": "string"}
    return {**schema, "pattern": pattern} if pattern else schema


def parameter(name: str, schema: dict, required: bool = False, empty: bool = False) -> dict:
    """A query parameter; `empty`: the CLI sends it empty when not filtering by it."""
    found = {"name": name, "in": "query", "required": required, "schema": schema}
    return {**found, "allowEmptyValue": True} if empty else found


ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
LOGS_CONTRACT = {
    "openapi": "3.0.3",
    "info": {"title": "Blaxel task logs, as CONTRACT.md gathers them", "version": "2026-11"},
    "servers": [{"url": f"{SERVER}/v0"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "LogLine": {
                "type": "object",
                "required": ["timestamp", "message", "severity", "trace_id"],
                "properties": {
                    "timestamp": text(RFC3339_NANOS),
                    "message": text(),
                    # OpenTelemetry's SeverityNumber: 0 (unspecified) to 24.
                    "severity": {"type": "integer", "minimum": 0, "maximum": 24},
                    "trace_id": text("^([0-9a-f]{32})?$"),
                },
            },
            "WorkloadLogs": {
                "type": "object",
                "required": ["logs", "totalCount"],
                "properties": {
                    "logs": {"type": "array", "items": {"$ref": "#/components/schemas/LogLine"}},
                    "totalCount": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
    "paths": {
        "/observability/logs": {
            "get": {
                "parameters": [
                    parameter("start", text(WIRE_TIME), required=True),
                    parameter("end", text(WIRE_TIME), required=True),
                    parameter("resourceType", {"type": "string", "enum": ["jobs"]}),
                    parameter("workloadIds", text()),
                    parameter("executionId", text(), empty=True),
                    parameter("taskId", text(), empty=True),
                    parameter("severity", text(SEVERITY_LIST)),
                    parameter("search", text(), empty=True),
                    parameter("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    parameter("offset", {"type": "integer", "minimum": 0}),
                    parameter("type", {"type": "string", "enum": ["all"]}),
                    parameter("traceId", text(), empty=True),
                    parameter("interval", {"type": "integer"}),
                    parameter("workspace", text()),
                ],
                "responses": {
                    # Keyed by workload id (the job's name); a job without lines may be absent.
                    "200": {
                        "description": "lines, newest first",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "$ref": "#/components/schemas/WorkloadLogs"
                                    },
                                }
                            }
                        },
                    },
                    "400": {
                        "description": "a bad query (a range past 3 days)",
                        "content": {"application/json": {"schema": ERROR}},
                    },
                    "401": {
                        "description": "no or bad credentials",
                        "content": {"application/json": {"schema": ERROR}},
                    },
                },
            }
        }
    },
}


@pytest.fixture(scope="module")
def contract():
    return OpenAPI.from_dict(LOGS_CONTRACT)


def fetch(contract, client, request: LogRequest) -> dict:
    """Send the app's own request for `request`; check both ways against the contract."""
    response = client.get(
        "/v0/observability/logs",
        query_string=request.params(DEMO_WORKSPACE),
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        base_url=SERVER,
    )
    assert response.status_code == 200, response.json
    checked = WerkzeugOpenAPIRequest(response.request)
    contract.validate_request(checked)
    contract.validate_response(checked, WerkzeugOpenAPIResponse(response))
    body = response.json
    for found in body.values():
        stamps = [line["timestamp"] for line in found["logs"]]
        assert stamps == sorted(stamps, reverse=True)  # newest first
        assert found["totalCount"] >= len(found["logs"])
    return body


def task_request(job: str, execution: str, task: str, at: datetime, **changes) -> LogRequest:
    window = Window.of(at - timedelta(days=3), at + timedelta(minutes=5))
    return LogRequest(job, execution, task, window, **changes)


@pytest.mark.parametrize(
    ("job", "execution"),
    [
        ("nightly-embeddings", "exec-5k-embeddings"),
        ("invoice-ocr", "exec-320-invoices"),
        ("weekly-digest", "exec-4-digest"),
        ("thumbnail-render", "exec-slow-thumbnails"),
    ],
)
def test_the_lines_of_every_kind_of_task_conform(contract, job, execution):
    client = create_simulator(clock=lambda: ANCHOR).test_client()
    lines = 0
    for index in range(0, 60, 3):
        body = fetch(contract, client, task_request(job, execution, f"task-{index}", ANCHOR))
        lines += sum(len(found["logs"]) for found in body.values())
    assert lines > 20


def test_filtered_paged_and_execution_wide_answers_conform(contract):
    client = create_simulator(clock=lambda: ANCHOR).test_client()
    base = task_request("invoice-ocr", "exec-320-invoices", "task-7", ANCHOR)
    for changes in (
        {"severities": ("WARNING", "ERROR")},
        {"search": "page 2"},
        {"limit": 3, "offset": 4},
        {"limit": 1000, "offset": 100_000},
        {"task_name": ""},
        {"search": "no such text anywhere"},
    ):
        fetch(contract, client, LogRequest(**{**base.__dict__, **changes}))


@pytest.mark.parametrize("seconds", [0, 15, 45, 90, 200, 299])
def test_the_live_crawl_conforms_as_it_goes(contract, seconds):
    cycle = ANCHOR.replace(second=0)
    now = cycle + timedelta(seconds=seconds)
    client = create_simulator(clock=lambda: now).test_client()
    execution = live_execution_id(cycle)
    for task in ("task-0", "task-7", ""):
        fetch(contract, client, task_request("sitemap-crawler", execution, task, now))


def test_a_range_past_3_days_is_a_declared_400(contract):
    client = create_simulator(clock=lambda: ANCHOR).test_client()
    response = client.get(
        "/v0/observability/logs",
        query_string={"start": "2026-08-10T00:00:00", "end": "2026-08-20T00:00:00"},
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        base_url=SERVER,
    )
    assert response.status_code == 400
    contract.validate_response(
        WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response)
    )
