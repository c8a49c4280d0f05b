"""Hostile visitors and a hostile upstream, property-based: requests over every route and
parameter, and upstream bodies that parse but are odd. Never a 500 or a traceback, every
reflected value escaped, nothing invalid forwarded to the Blaxel API, and every export complete
or marked incomplete."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import timedelta, timezone
from urllib.parse import quote, unquote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from webapp import create_app
from webapp.listing.query import MAX_CURSOR_LENGTH, MAX_ID_LENGTH, SORTS

from .conftest import EXECUTION, TOKEN, ScriptedUpstream, task_json, task_page
from .exports import download, exported_names, is_marked_incomplete

PROBES = [
    '<i id="probe">',
    '"><svg onload=alert(1)>',
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "'onmouseover='alert(1)",
    "\u202eevil\u202c",
    "\x00\x1b[31m\r\n",
    "%00%2F..%2F%3Cb%3E",
    "../../jobs",
    "{{ 7*7 }}",
]
# The markup a probe would leave in a page if something were not escaped.
RAW_MARKUP = (
    '<i id="probe">',
    "<svg onload",
    "<script>alert",
    "'onmouseover=",
    'href="javascript:',
)

values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(PROBES),
    st.sampled_from(["createdAt:asc", "name:desc", "50", "1", "200", "0", "-1", "1e3", "२०"]),
    st.sampled_from(["Q1VSU09S", "eyJvIjo1MH0=", "A" * 2049, "x" * 5000, "=" * 3]),
    st.binary(max_size=12).map(lambda raw: raw.decode("latin-1")),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=190, max_size=260),
)
names = st.sampled_from(["sort", "q", "limit", "cursor", "shown", "refresh", "other", ""])
hostile_params = st.lists(st.tuples(names, values), max_size=6)
# Mostly-valid views with one hostile search, so many requests do reach the upstream.
plausible_params = st.fixed_dictionaries(
    {},
    optional={
        "sort": st.sampled_from(list(SORTS)),
        "limit": st.integers(1, 100).map(str),
        "q": st.one_of(st.text(max_size=60), st.sampled_from(PROBES)),
        "cursor": st.from_regex(r"[A-Za-z0-9_\-+/=.~]{1,60}", fullmatch=True),
        "shown": st.integers(0, 10_000).map(str),
    },
).map(lambda chosen: list(chosen.items()))
params = st.one_of(hostile_params, plausible_params)
raw_percent = st.binary(min_size=1, max_size=8).map(lambda raw: "".join(f"%{b:02X}" for b in raw))
ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True),
    st.text(min_size=1, max_size=30).map(lambda value: quote(value, safe="")),
    st.sampled_from(PROBES).map(lambda value: quote(value, safe="")),
    raw_percent,
    st.sampled_from(["exec-1", "nightly", "..", ".", "%2E%2E", "a" * 300, "%C0%AE"]),
)
htmx = st.sampled_from([{}, {"HX-Request": "true"}, {"HX-Request": "true", "HX-Trigger": "x"}])


def upstream_answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.endswith("/tasks"):
        return httpx.Response(200, json=task_page([task_json(0)], next_cursor="TkVYVA"))
    if re.fullmatch(r"/v0/jobs/[^/]+/executions/[^/]+", path):
        return httpx.Response(200, json=EXECUTION)
    return httpx.Response(200, json={"data": [], "meta": {"hasMore": False}})


@pytest.fixture(scope="module")
def site():
    upstream = ScriptedUpstream(upstream_answer)
    app = create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
        },
        transport=httpx.MockTransport(upstream),
    )
    return app.test_client(), upstream


SEGMENT = re.compile(rb"[A-Za-z0-9_.~%-]+")


def assert_only_valid_requests_went_upstream(upstream: ScriptedUpstream) -> None:
    for sent in upstream.requests:
        path = sent.url.raw_path.split(b"?")[0]
        segments = path.split(b"/")[2:]  # after "/v0"
        assert segments[0] == b"jobs" and len(segments) in (1, 3, 4, 5), path
        # A task is looked up through the task listing's search: no path of its own upstream.
        assert segments[2:3] in ([], [b"executions"]) and segments[4:] in ([], [b"tasks"])
        for raw in segments[1:2] + segments[3:4]:
            assert SEGMENT.fullmatch(raw), raw  # fully percent-encoded: no "/", "?", "#"
            value = unquote(raw.decode())
            # Encoded as quote() does; an id of dots only (a job the API lists as "..") has its
            # dots encoded too, so that no id is ever path syntax upstream.
            if set(value) == {"."}:
                assert raw.upper() == b"%2E" * len(value), raw
            else:
                assert quote(value, safe="") == raw.decode()
            assert raw not in (b".", b"..") and 0 < len(value) <= MAX_ID_LENGTH
            assert not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value)
        query = dict(sent.url.params)
        assert set(query) <= {"limit", "sort", "q", "cursor"}
        if "sort" in query:
            assert query["sort"] in SORTS
        if "limit" in query:
            assert query["limit"].isdigit() and 1 <= int(query["limit"]) <= 200
        if "q" in query:
            term = query["q"]
            assert 2 <= len(term) <= 200 and term == term.strip().lower()
            assert not any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in term)
        if "cursor" in query:
            cursor = query["cursor"]
            assert (
                0 < len(cursor) <= MAX_CURSOR_LENGTH and cursor.isascii() and cursor.isprintable()
            )


def assert_safe_answer(response, allowed=(200, 302, 308, 400, 404)) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code in allowed, (response.status_code, body[:500])
    assert "Traceback" not in body and 'File "' not in body
    for markup in RAW_MARKUP:
        assert markup not in body
    assert TOKEN not in body
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def route(template: str, job: str, execution: str) -> str:
    return template.format(job=job, execution=execution)


ROUTES = [
    "/",
    "/jobs/{job}",
    "/jobs/{job}/executions",
    "/jobs/{job}/executions/{execution}",
    "/jobs/{job}/executions/{execution}/tasks",
    "/jobs/{job}/executions/{execution}/summary",
    "/jobs/{job}/executions/exec-1/tasks/{execution}",
    "/healthz",
    "/readyz",
]
HOSTILE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("template", ROUTES)
@HOSTILE
@given(job=ids, execution=ids, query=params, headers=htmx)
def test_any_url_gets_an_honest_answer_and_only_valid_calls_go_upstream(
    site, template, job, execution, query, headers
):
    client, upstream = site
    upstream.requests.clear()
    url = route(template, job, execution)
    if query:
        url += "?" + urlencode(query)
    assert_safe_answer(client.get(url, headers=headers))
    assert_only_valid_requests_went_upstream(upstream)


@HOSTILE
@given(
    template=st.sampled_from(ROUTES),
    job=ids,
    raw_query=st.lists(st.tuples(names, st.one_of(raw_percent, values)), max_size=5),
)
def test_raw_percent_encodings_in_the_query_are_refused_or_ignored(site, template, job, raw_query):
    client, upstream = site
    upstream.requests.clear()
    query = "&".join(f"{name}={value}" for name, value in raw_query)
    response = client.get(route(template, job, "exec-1") + "?" + query)
    assert_safe_answer(response)
    assert_only_valid_requests_went_upstream(upstream)


@HOSTILE
@given(
    name=st.sampled_from(["sort", "q", "limit", "cursor", "shown", "refresh"]),
    count=st.integers(2, 50),
)
def test_a_repeated_parameter_is_a_400_that_calls_nothing(site, name, count):
    client, upstream = site
    upstream.requests.clear()
    response = client.get("/?" + urlencode([(name, "name:asc")] * count))
    assert response.status_code == 400 and "given" in response.get_data(as_text=True)
    assert upstream.requests == []


def test_a_huge_query_string_is_refused_without_a_500(site):
    client, upstream = site
    upstream.requests.clear()
    response = client.get("/?q=" + "x" * 100_000 + "&cursor=" + "A" * 100_000)
    assert_safe_answer(response)
    assert response.status_code == 400 and upstream.requests == []


def test_reflected_values_come_back_escaped(site):
    client, _ = site
    html = client.get("/?" + urlencode({"q": '"><b id="x">bold</b>'})).get_data(as_text=True)
    assert "&#34;&gt;&lt;b id=&#34;x&#34;&gt;bold&lt;/b&gt;" in html
    assert '<b id="x">' not in html


hostile_text = st.one_of(st.text(max_size=80), st.sampled_from(PROBES))


def hostile_task(name: str, message: str, reason: str) -> dict:
    task = task_json(0, "failed", name=name)
    task["conditions"] = [
        {
            "type": "Failed",
            "state": "True",
            "severity": "Error",
            "reason": reason,
            "message": message,
        }
    ]
    return task


@HOSTILE
@given(name=hostile_text, message=hostile_text, reason=hostile_text, label=hostile_text)
def test_hostile_upstream_data_renders_as_inert_text(scripted, name, message, reason, label):
    job = {"metadata": {"name": name, "displayName": message, "labels": {label: reason}}}
    execution = {**EXECUTION, "metadata": {**EXECUTION["metadata"], "id": name}}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tasks"):
            return httpx.Response(200, json=task_page([hostile_task(name, message, reason)]))
        if request.url.path.endswith("/executions"):
            return httpx.Response(200, json={"data": [execution], "meta": {}})
        return httpx.Response(200, json={"data": [job], "meta": {}})

    client, _ = scripted(answer)
    for url in ("/", "/jobs/nightly/executions", "/jobs/nightly/executions/exec-1/tasks"):
        assert_safe_answer(client.get(url), allowed=(200,))


def test_a_100_kb_condition_message_is_shown_whole_and_escaped(scripted):
    message = ("<b>" + "x" * 1000 + "</b> ") * 100
    client, _ = scripted(
        lambda request: httpx.Response(200, json=task_page([hostile_task("t", message, "Boom")]))
    )
    html = client.get("/jobs/nightly/executions/exec-1/tasks").get_data(as_text=True)
    conditions_url = re.search(
        r'class="condition-list" data-conditions><a href="([^"]+)"', html
    ).group(1)
    disclosure = client.get(conditions_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    escaped = message.replace("<", "&lt;").replace(">", "&gt;")
    assert '<dd class="message">' + escaped + "</dd>" in disclosure  # the full text
    assert "<b>" not in html and "<b>" not in disclosure


# --- Hostile upstream bodies: data that parses but is odd (issue 10 item 7) -----------------


class RawJSON(str):
    """JSON text written as is, for what json.dumps will not write: 100,000 levels of nesting,
    a number of 5,000 digits."""


def to_json(value: object) -> str:
    """JSON as an upstream may send it: lone surrogates escaped (\\ud800), NaN and Infinity as
    bare words, RawJSON pieces in place."""
    if isinstance(value, RawJSON):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    return json.dumps(value)


# From the API contract (tests/blaxel-api/CONTRACT.md).
TASK_STATUSES = [
    "unspecified",
    "pending",
    "reconciling",
    "failed",
    "succeeded",
    "running",
    "cancelled",
]
EXECUTION_STATUSES = [
    "queued",
    "pending",
    "running",
    "cancelling",
    "cancelled",
    "failed",
    "succeeded",
    "timeout",
]
JSON_TYPE = {"Content-Type": "application/json"}
FAR_PAST, FAR_FUTURE = "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"
odd_dates = st.one_of(
    st.sampled_from(
        [FAR_PAST, FAR_FUTURE, "0001-01-01T00:00:00-14:00", "9999-12-31T23:59:59.999999+00:00"]
        + ["2026-02-30T00:00:00Z", "2026-11-28T25:00:00Z", "2026-11-28", "2026-11-28T08:00:00"]
        + ["2026-11-28T08:00:00.123456789Z", "+10000-01-01T00:00:00Z", "yesterday", ""]
    ),
    # Any moment of datetime's range at any offset: the ends overflow once moved to UTC.
    st.builds(
        lambda moment, minutes: moment.replace(
            tzinfo=timezone(timedelta(minutes=minutes))
        ).isoformat(),
        st.datetimes(),
        st.integers(-14 * 60 + 1, 14 * 60 - 1),
    ),
)
odd_text = st.one_of(
    st.text(max_size=20),
    st.text(
        alphabet=st.characters(categories=["Cs", "Cc", "Cf", "Zs", "Zl", "Mn", "So"]), max_size=8
    ),
    st.sampled_from(["\ud800", "\udfff", "task-\ud83d", "\u202e", "\x00", "\ufeff", "\uff1d1+1"]),
)
DEEP = RawJSON("[" * 100_000 + "]" * 100_000)
odd_values = st.one_of(
    odd_dates,
    odd_text,
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([RawJSON("9" * 5000), RawJSON("1e400"), RawJSON("-0"), DEEP, [], {}]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def mostly(plausible: st.SearchStrategy, odd: st.SearchStrategy = odd_values, one_in: int = 4):
    """`plausible`, or one time in `one_in` an odd value (shrinking goes to the plausible one)."""
    return st.integers(1, one_in).flatmap(lambda draw: odd if draw == one_in else plausible)


# A wrong shape (an object that is not one, a list that is not one) makes the whole answer
# nonsense, a 502: rare, so that most examples reach the rendering with odd values inside.
SHAPE = 16


def fields(**plausible: st.SearchStrategy) -> st.SearchStrategy:
    """An object with any of these fields, each plausible or odd; rarely not an object."""
    optional = {key: mostly(value) for key, value in plausible.items()}
    return mostly(st.fixed_dictionaries({}, optional=optional), one_in=SHAPE)


# Dates are where the odd values bite: each date field is odd one time in two.
dates = st.one_of(st.just("2026-11-28T08:00:00Z"), odd_dates, odd_values)
texts = st.one_of(st.just("plain words"), odd_text, odd_values)
DATE_FIELDS = ("createdAt", "scheduledAt", "startedAt", "completedAt", "updatedAt")
odd_task_bodies = mostly(
    st.fixed_dictionaries(
        {
            "metadata": st.fixed_dictionaries(
                {"name": mostly(st.just("task-h"), odd_text)},
                optional=dict.fromkeys(DATE_FIELDS, dates),
            ),
        },
        optional={
            "spec": fields(maxRetries=st.integers(0, 5), timeout=st.just("30m")),
            "status": mostly(st.sampled_from(TASK_STATUSES)),
            "conditions": mostly(
                one_in=SHAPE,
                plausible=st.lists(
                    fields(
                        type=st.just("Failed"),
                        state=st.just("True"),
                        severity=st.sampled_from(["Error", "Info"]),
                        reason=texts,
                        message=texts,
                        executionReason=texts,
                    ),
                    max_size=3,
                ),
            ),
        },
    ),
    one_in=SHAPE,
)
odd_meta = fields(
    hasMore=st.booleans(), nextCursor=st.sampled_from(["", "TkVYVA"]), total=st.integers(0, 10)
)
odd_execution_bodies = mostly(
    st.fixed_dictionaries(
        {
            "metadata": st.fixed_dictionaries(
                {"id": mostly(st.just("exec-1"), odd_text), "job": st.just("nightly")},
                optional=dict.fromkeys(DATE_FIELDS, dates),
            ),
        },
        optional={
            "spec": fields(parallelism=st.integers(1, 8), timeout=st.integers(1, 3600)),
            "stats": fields(
                **dict.fromkeys(
                    ("total", "success", "failure", "running", "cancelled", "retried"),
                    st.integers(0, 10),
                )
            ),
            "status": mostly(st.sampled_from(EXECUTION_STATUSES)),
        },
    ),
    one_in=SHAPE,
)
odd_job_bodies = mostly(
    st.fixed_dictionaries(
        {
            "metadata": st.fixed_dictionaries(
                {"name": mostly(st.just("nightly"), odd_text)},
                optional={
                    "displayName": texts,
                    "labels": mostly(st.dictionaries(odd_text, texts, max_size=2), one_in=SHAPE),
                    "createdAt": dates,
                    "updatedAt": dates,
                },
            ),
        },
        optional={
            "spec": fields(region=texts, runtime=fields(maxRetries=st.integers(0, 3))),
            "status": mostly(st.sampled_from(["DEPLOYED", "FAILED"])),
        },
    ),
    one_in=SHAPE,
)


def listing_of(items: st.SearchStrategy) -> st.SearchStrategy:
    """A listing page: mostly a list of `items` and a meta object, now and then nonsense."""
    page = st.fixed_dictionaries(
        {"data": mostly(st.lists(items, max_size=3), one_in=SHAPE), "meta": odd_meta}
    )
    return mostly(page, one_in=SHAPE)


class OddUpstream:
    """Answers each endpoint with the body an example generated for it."""

    def __init__(self) -> None:
        self.bodies: dict[str, object] = {}

    def answer(self, **bodies: object) -> None:
        self.bodies = bodies

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        endpoint = next(
            (name for name in ("tasks", "executions", "jobs") if path.endswith("/" + name)),
            "execution",
        )
        content = to_json(self.bodies.get(endpoint, EXECUTION if endpoint == "execution" else {}))
        return httpx.Response(200, content=content.encode(), headers=JSON_TYPE)


@pytest.fixture(scope="module")
def odd_site():
    """One app for every example: no cache, so each page is made from that example's bodies."""
    upstream = OddUpstream()
    app = create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "WEBAPP_CACHE_TTL": "0",
        },
        transport=httpx.MockTransport(upstream),
    )
    return app.test_client(), upstream


ODD_PAGES = {
    "jobs": ("/", {}),
    "executions": ("/jobs/nightly/executions", {}),
    "tasks": ("/jobs/nightly/executions/exec-1/tasks", {}),
    "rows": ("/jobs/nightly/executions/exec-1/tasks", {"HX-Request": "true"}),
    "summary": ("/jobs/nightly/executions/exec-1/summary", {"HX-Request": "true"}),
    "task": ("/jobs/nightly/executions/exec-1/tasks/task-h", {}),
}
ODD = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FAR_PAST_TASK = {"metadata": {"name": "task-h", "createdAt": FAR_PAST}}
FAR_PAST_EXECUTION = {"metadata": {"id": "exec-1", "createdAt": FAR_PAST}, "status": "running"}
FAR_FUTURE_JOB = {"metadata": {"name": "nightly", "createdAt": FAR_FUTURE}}


def page_of(*items: object) -> dict:
    return {"data": list(items), "meta": {"hasMore": False, "nextCursor": "", "total": len(items)}}


@pytest.mark.parametrize("page", ODD_PAGES)
@ODD
@given(
    tasks=listing_of(odd_task_bodies),
    execution=odd_execution_bodies,
    executions=listing_of(odd_execution_bodies),
    jobs=listing_of(odd_job_bodies),
)
@example(
    tasks=page_of(FAR_PAST_TASK),
    execution=FAR_PAST_EXECUTION,
    executions=page_of(FAR_PAST_EXECUTION),
    jobs=page_of(FAR_FUTURE_JOB),
)
def test_any_upstream_body_gets_a_page_of_the_app_never_a_500(
    odd_site, page, tasks, execution, executions, jobs
):
    client, upstream = odd_site
    upstream.answer(tasks=tasks, execution=execution, executions=executions, jobs=jobs)
    url, headers = ODD_PAGES[page]
    response = client.get(url, headers=headers)
    # A task missing from an odd listing is a 404; everything else is shown, or is nonsense.
    allowed = (200, 404, 502) if page == "task" else (200, 502)
    assert_safe_answer(response, allowed=allowed)
    assert "Content-Security-Policy" in response.headers and "X-Request-ID" in response.headers


@pytest.mark.parametrize("fmt", ["csv", "json"])
@ODD
@given(tasks=listing_of(odd_task_bodies))
@example(tasks=page_of(FAR_PAST_TASK))
def test_any_upstream_body_exports_completely_or_marked_incomplete(odd_site, fmt, tasks):
    client, upstream = odd_site
    upstream.answer(tasks=tasks)
    response, body = download(client, f"/jobs/nightly/executions/exec-1/tasks.{fmt}")
    if response.status_code != 200:  # refused before the first byte: the ordinary error page
        assert response.status_code == 502
        assert "Content-Security-Policy" in response.headers and "X-Request-ID" in response.headers
    elif not is_marked_incomplete(fmt, body):
        # Complete: every task of the one page there is (a second would repeat its cursor).
        assert isinstance(tasks, dict) and isinstance(tasks.get("data"), list)
        assert len(exported_names(fmt, body)) == len(tasks["data"])
