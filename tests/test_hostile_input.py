"""Hostile visitors: property-based requests over every route and parameter. Never a 500 or a
traceback, every reflected value escaped, and nothing invalid forwarded to the Blaxel API."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp import create_app
from webapp.query import MAX_CURSOR_LENGTH, MAX_ID_LENGTH, SORTS

from .conftest import EXECUTION, TOKEN, ScriptedUpstream, task_json, task_page

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
            "BLAXEL_TRANSPORT": httpx.MockTransport(upstream),
        }
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
            assert quote(value, safe="") == raw.decode()
            assert value not in (".", "..") and 0 < len(value) <= MAX_ID_LENGTH
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
    conditions_url = re.search(r'class="condition-list" hx-get="([^"]+)"', html).group(1)
    disclosure = client.get(conditions_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    escaped = message.replace("<", "&lt;").replace(">", "&gt;")
    assert '<dd class="message">' + escaped + "</dd>" in disclosure  # the full text
    assert "<b>" not in html and "<b>" not in disclosure
