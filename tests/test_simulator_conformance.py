"""The simulator's requests and responses conform to the official Blaxel control-plane spec."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.wrappers import Response

from webapp.simulator import DEMO_TOKEN, create_simulator, live_execution_id

# The official spec, kept in the repository (origin and commit in tests/blaxel-api/README.md).
SPEC = Path(__file__).resolve().parent / "blaxel-api" / "controlplane.yml"
SERVER = "https://api.blaxel.ai"  # the spec's server is https://api.blaxel.ai/v0
ANCHOR = datetime(2026, 8, 21, 12, 0, 30, tzinfo=UTC)
PAGINATED = "2026-04-28"
LEGACY_VERSIONS = [None, "2026-04-16", "2026-04-27"]
SORTS = ["createdAt:desc", "createdAt:asc", "name:asc", "name:desc"]
BIG = "/v0/jobs/nightly-embeddings/executions/exec-5k-embeddings"
INVOICES = "/v0/jobs/invoice-ocr/executions/exec-320-invoices"
FREE_TEXT = {"name", "id", "message", "createdAt", "scheduledAt", "startedAt", "completedAt",
             "updatedAt"}  # fmt: skip

# openapi-core cannot check the spec's OAuth2 scheme; the bearer scheme is checked
pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")


@pytest.fixture(scope="module")
def spec():
    # A missing spec fails every conformance test: never a silent skip.
    assert SPEC.is_file(), f"the Blaxel spec is missing: {SPEC} (see tests/blaxel-api/README.md)"
    return OpenAPI.from_file_path(str(SPEC))


@pytest.fixture(scope="module")
def client():
    return create_simulator(clock=lambda: ANCHOR).test_client()


def fetch(spec, client, path, version=PAGINATED, in_spec=True, **params):
    """GET one response and check it (and, when `in_spec`, the request) against the spec."""
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    if version:
        headers["Blaxel-Version"] = version
    response = client.get(path, query_string=params, headers=headers, base_url=SERVER)
    assert response.status_code == 200, response.json
    request = WerkzeugOpenAPIRequest(response.request)
    if in_spec:
        spec.validate_request(request)
    body = response.json
    if isinstance(body, list):  # legacy versions answer a bare array of the items
        checked = {"data": body}
    elif "data" in body:
        checked = {**body, "data": [listed_once(item) for item in distinct_shapes(body["data"])]}
    else:
        checked = listed_once(body)
    if checked != body:
        response = Response(json.dumps(checked), mimetype="application/json")
    spec.validate_response(request, WerkzeugOpenAPIResponse(response))
    return body


def distinct_shapes(items):
    """One item per shape: equal shapes get equal verdicts, as these schemas constrain free text
    only by type. Keeps the 20,000 demo tasks' validation fast."""
    return list({shape(item): item for item in items}.values())


def listed_once(item):
    """An execution with one task per shape in the task lists it carries (`spec.tasks` and
    `tasks`), for the same reason."""
    if not isinstance(item.get("spec"), dict) or "tasks" not in item["spec"]:
        return item
    spec = {**item["spec"], "tasks": distinct_shapes(item["spec"]["tasks"])}
    listed = {"tasks": distinct_shapes(item["tasks"])} if "tasks" in item else {}
    return {**item, "spec": spec, **listed}


def shape(value, key=""):
    if isinstance(value, dict):
        return tuple(sorted((name, shape(field, name)) for name, field in value.items()))
    if isinstance(value, list):
        return tuple(shape(item) for item in value)
    return type(value).__name__ if key in FREE_TEXT else value


def walk(spec, client, path, **params):
    """Every item of a paginated listing, each page checked against the spec."""
    items, cursor = [], {}
    while True:
        body = fetch(spec, client, path, **params, **cursor)
        items += body["data"]
        if not body["meta"].get("totalIsPartial"):
            assert body["meta"]["total"] >= len(items)
        if not body["meta"]["hasMore"]:
            assert body["meta"]["nextCursor"] == ""
            return items
        cursor = {"cursor": body["meta"]["nextCursor"]}


def all_executions(spec, client):
    for job in fetch(spec, client, "/v0/jobs", version=None):
        name = job["metadata"]["name"]
        for execution in fetch(spec, client, f"/v0/jobs/{name}/executions", limit=100)["data"]:
            yield f"/v0/jobs/{name}/executions/{execution['metadata']['id']}"


@pytest.mark.parametrize("version", LEGACY_VERSIONS)
def test_legacy_list_jobs_items_conform(spec, client, version):
    assert len(fetch(spec, client, "/v0/jobs", version=version, status="deployed")) == 27


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("q", [None, "ml", "  EMBED ", "x", "no-such-job"])
def test_list_jobs_walks_conform(spec, client, sort, q):
    for limit in (3, 50, 200):
        walk(spec, client, "/v0/jobs", sort=sort, limit=limit, **({"q": q} if q else {}))


def test_list_jobs_with_limit_one_and_clamped_limits_conform(spec, client):
    assert len(walk(spec, client, "/v0/jobs", limit=1)) == 27
    assert len(fetch(spec, client, "/v0/jobs", limit=500, in_spec=False)["data"]) == 27


@pytest.mark.parametrize("status", ["DEPLOYED", "failed,deactivated", "DEPLOYING,BUILT"])
@pytest.mark.parametrize("sort", ["createdAt:desc", "createdAt:asc"])
def test_list_jobs_filtered_and_anchored_at_the_end_conform(spec, client, status, sort):
    walk(spec, client, "/v0/jobs", status=status, sort=sort, limit=4)
    fetch(spec, client, "/v0/jobs", status=status, sort=sort, anchor="end", limit=4)


@pytest.mark.parametrize("version", LEGACY_VERSIONS)
def test_legacy_list_executions_pages_conform(spec, client, version):
    path = "/v0/jobs/nightly-embeddings/executions"
    assert len(fetch(spec, client, path, version=version)) == 20
    assert len(fetch(spec, client, path, version=version, offset=25, limit=100)) == 5


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("q", [None, "5k", " EXEC-", "e"])
def test_list_executions_walks_conform(spec, client, sort, q):
    path = "/v0/jobs/nightly-embeddings/executions"
    for limit in (7, 100):
        walk(spec, client, path, sort=sort, limit=limit, **({"q": q} if q else {}))


def test_list_executions_with_limit_one_and_clamped_limits_conform(spec, client):
    path = "/v0/jobs/nightly-embeddings/executions"
    assert len(walk(spec, client, path, limit=1)) == 30
    assert len(fetch(spec, client, path, limit=101, in_spec=False)["data"]) == 30


def test_every_execution_and_its_listing_conform(spec, client):
    paths = list(all_executions(spec, client))
    assert len(paths) > 100
    for path in paths:
        fetch(spec, client, path)
    for job in ("invoice-ocr", "weekly-digest", "sitemap-crawler", "fraud-score-backfill"):
        walk(spec, client, f"/v0/jobs/{job}/executions", limit=3)
        fetch(spec, client, f"/v0/jobs/{job}/executions", version=None, limit=100)


def test_every_task_of_the_5000_task_execution_conforms(spec, client):
    """All 5,000 tasks, though the listing counts them as at least 1,000 (totalIsPartial)."""
    tasks = walk(spec, client, f"{BIG}/tasks", limit=200)
    assert len(tasks) == 5000
    meta = fetch(spec, client, f"{BIG}/tasks", limit=1)["meta"]
    assert (meta["total"], meta["totalIsPartial"]) == (1000, True)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("q", [None, "task-1", " TASK-31", "9"])
def test_list_tasks_walks_conform(spec, client, sort, q):
    for limit in (50, 200):
        walk(spec, client, f"{INVOICES}/tasks", sort=sort, limit=limit, **({"q": q} if q else {}))
    for page in range(2):
        body = fetch(spec, client, f"{BIG}/tasks", sort=sort, limit=1, **({"q": q} if q else {}))
        assert len(body["data"]) == 1 and body["meta"]["hasMore"], page
    fetch(spec, client, f"{BIG}/tasks", sort=sort, limit=1000, in_spec=False)


def test_every_task_of_every_other_execution_conforms(spec, client):
    for path in all_executions(spec, client):
        if path != BIG:
            walk(spec, client, f"{path}/tasks", limit=200)


@pytest.mark.parametrize("seconds", [0, 5, 10, 11, 45, 90, 150, 200, 299])
def test_the_live_execution_conforms_as_it_progresses(spec, seconds):
    cycle = ANCHOR.replace(second=0)
    client = create_simulator(clock=lambda: cycle + timedelta(seconds=seconds)).test_client()
    path = f"/v0/jobs/sitemap-crawler/executions/{live_execution_id(cycle)}"
    fetch(spec, client, path)
    walk(spec, client, f"{path}/tasks", limit=5)
    walk(spec, client, "/v0/jobs/sitemap-crawler/executions", limit=5)


@pytest.mark.parametrize(
    ("path", "params", "status", "declared"),
    [
        ("/v0/jobs/nightly-embeddings/executions", {"limit": "0"}, 400, True),
        (f"{BIG}/tasks", {"sort": "size:asc"}, 400, True),
        (f"{BIG}/tasks", {"cursor": "forged"}, 400, True),
        (f"{BIG}/tasks", {"q": "x" * 201}, 400, True),
        ("/v0/jobs/nightly-embeddings/executions/nope", {}, 404, True),
        ("/v0/jobs/nightly-embeddings/executions/nope/tasks", {}, 404, True),
        ("/v0/jobs", {"limit": "0"}, 400, False),  # the spec declares only 200 for ListJobs
        ("/v0/jobs/nope/executions", {}, 404, False),  # nor a 404 for ListJobExecutions
    ],
)
def test_error_responses_conform_where_the_spec_declares_them(
    spec, client, path, params, status, declared
):
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "Blaxel-Version": PAGINATED}
    response = client.get(path, query_string=params, headers=headers, base_url=SERVER)
    assert response.status_code == status
    check = (
        WerkzeugOpenAPIRequest(response.request),
        WerkzeugOpenAPIResponse(response),
    )
    if declared:
        spec.validate_response(*check)
    else:
        with pytest.raises(ResponseNotFound):
            spec.validate_response(*check)


def test_the_spec_kept_in_the_repository_describes_the_four_endpoints_the_simulator_serves(spec):
    paths = spec.spec / "paths"
    for path in (
        "/jobs",
        "/jobs/{jobId}/executions",
        "/jobs/{jobId}/executions/{executionId}",
        "/jobs/{jobId}/executions/{executionId}/tasks",
    ):
        assert path in paths, path


def described(schemas, name, prefix=""):
    """The field paths the spec describes for the schema `name`, down through the objects and
    arrays of objects it names ("spec.tasks[].metadata.name")."""
    fields = set()
    for field, schema in schemas[name].get("properties", {}).items():
        path, inner = prefix + field, schema
        fields.add(path)
        if inner.get("type") == "array":
            path, inner = path + "[]", inner["items"]
        if "$ref" in inner:
            fields |= described(schemas, inner["$ref"].rsplit("/", 1)[1], path + ".")
    return fields


def sent(value, path=""):
    """The field paths present in the JSON value at `path`, named as `described` names them."""
    if isinstance(value, list):
        return set().union(*(sent(item, path + "[]") for item in value))
    if not isinstance(value, dict):
        return set()
    inside = {f"{path}.{key}" if path else key: field for key, field in value.items()}
    return set(inside).union(*(sent(field, at) for at, field in inside.items()))


def test_the_simulator_sends_every_field_the_spec_describes_for_an_execution(spec, client):
    """Across the demo executions, every field of JobExecution (its task lists, their tasks'
    fields included) is sent somewhere, so the conformance tests above check each one's shape;
    but `metadata.deletedAt`, which no execution still listed has."""
    schemas = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "Blaxel-Version": PAGINATED}
    found = set()
    for path in all_executions(spec, client):
        found |= sent(client.get(path, headers=headers, base_url=SERVER).json)
    expected = described(schemas, "JobExecution") - {"metadata.deletedAt"}
    assert "spec.tasks[].metadata.name" in expected
    assert expected - found == set()


@pytest.mark.parametrize("seconds", [0, 30])  # the live run queued, then running
def test_the_cancel_of_an_execution_conforms_and_its_refusals_are_declared(spec, seconds):
    """DeleteJobExecution: the 200 (the execution, cancelling) and the 400 (no longer running),
    404 (unknown) answers the spec declares; the 403 of a key without jobs:delete it does not."""
    cycle = ANCHOR.replace(second=0)
    simulator = create_simulator(
        clock=lambda: cycle + timedelta(seconds=seconds), write_tokens=("write-key",)
    )
    client = simulator.test_client()
    path = f"/v0/jobs/sitemap-crawler/executions/{live_execution_id(cycle)}"
    for key, wanted, declared in [
        (DEMO_TOKEN, 403, False),
        ("write-key", 200, True),
        ("write-key", 400, True),
    ]:
        headers = {"Authorization": f"Bearer {key}", "Blaxel-Version": PAGINATED}
        response = client.delete(path, headers=headers, base_url=SERVER)
        assert response.status_code == wanted
        check = (WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response))
        if wanted == 200:
            spec.validate_request(check[0])
            assert response.json["status"] == "cancelling"
        if declared:
            spec.validate_response(*check)
        else:
            with pytest.raises(ResponseNotFound):
                spec.validate_response(*check)
    headers = {"Authorization": "Bearer write-key", "Blaxel-Version": PAGINATED}
    missing = client.delete(path + "-nope", headers=headers, base_url=SERVER)
    assert missing.status_code == 404
    spec.validate_response(
        WerkzeugOpenAPIRequest(missing.request), WerkzeugOpenAPIResponse(missing)
    )


def test_every_jobs_revisions_conform(spec, client):
    """ListJobRevisions answers each job with a bare array of RevisionMetadata, as the spec
    declares; the nightly embeddings' newest is its deploy between two runs, the active one."""
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "Blaxel-Version": PAGINATED}

    def revisions_of(name):
        response = client.get(f"/v0/jobs/{name}/revisions", headers=headers, base_url=SERVER)
        assert response.status_code == 200
        request = WerkzeugOpenAPIRequest(response.request)
        spec.validate_request(request)
        spec.validate_response(request, WerkzeugOpenAPIResponse(response))
        return response.json

    for job in fetch(spec, client, "/v0/jobs", version=None):
        revisions = revisions_of(job["metadata"]["name"])
        assert revisions and [r["active"] for r in revisions].count(True) == 1
        assert revisions == sorted(revisions, key=lambda r: r["createdAt"], reverse=True)
    newest = revisions_of("nightly-embeddings")[0]
    assert newest["createdAt"] == "2026-08-21T03:48:00Z"
    assert newest["createdBy"] == "ci-deploy@acme.dev"


def test_the_revisions_of_an_unknown_job_are_a_404(client):
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}", "Blaxel-Version": PAGINATED}
    response = client.get("/v0/jobs/nope/revisions", headers=headers, base_url=SERVER)
    assert response.status_code == 404
    assert response.json["error"]["message"] == "job 'nope' not found in workspace 'demo'"
