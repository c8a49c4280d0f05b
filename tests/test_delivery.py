"""HTTP economy: ETags and 304s, compression, versioned immutable static files, Server-Timing."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from .conftest import task_json, task_page

STATIC = Path(__file__).resolve().parent.parent / "static"
TASKS = "/jobs/nightly/executions/exec-1/tasks"
FRAGMENT = {"HX-Request": "true"}


@pytest.fixture
def client(scripted):
    client, _ = scripted(
        lambda request: httpx.Response(200, json=task_page([task_json(i) for i in range(30)]))
    )
    return client


def test_pages_and_fragments_carry_different_etags(client):
    page = client.get(TASKS)
    fragment = client.get(TASKS, headers=FRAGMENT)
    assert page.headers["ETag"].startswith('W/"')
    assert fragment.headers["ETag"].startswith('W/"')
    assert page.headers["ETag"] != fragment.headers["ETag"]


def test_a_matching_if_none_match_gets_an_empty_304(client):
    etag = client.get(TASKS, headers=FRAGMENT).headers["ETag"]
    again = client.get(TASKS, headers={**FRAGMENT, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag


def test_a_stale_etag_gets_the_whole_body(client):
    response = client.get(TASKS, headers={"If-None-Match": 'W/"something-else"'})
    assert response.status_code == 200
    assert b"task-29" in response.data


def test_error_pages_carry_no_etag(client):
    response = client.get(TASKS + "?limit=nope")
    assert response.status_code == 400
    assert "ETag" not in response.headers


def test_html_is_compressed_for_browsers_that_accept_it(client):
    plain = client.get(TASKS)
    packed = client.get(TASKS, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    assert packed.headers["ETag"] == plain.headers["ETag"]
    vary = set(packed.headers["Vary"].replace(",", " ").split())
    assert {"Accept-Encoding", "HX-Request"} <= vary


def test_a_304_is_also_answered_to_a_compressing_browser(client):
    first = client.get(TASKS, headers={"Accept-Encoding": "gzip"})
    again = client.get(
        TASKS, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_static_urls_carry_a_content_hash_and_those_urls_are_immutable(client):
    page = client.get(TASKS).get_data(as_text=True)
    digest = hashlib.sha256((STATIC / "app.css").read_bytes()).hexdigest()[:12]
    assert f"/static/app.css?v={digest}" in page
    assert re.search(r"/static/htmx-2\.0\.11\.min\.js\?v=[0-9a-f]{12}", page)
    versioned = client.get(f"/static/app.css?v={digest}")
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for url in ("/static/app.css", "/static/app.css?v=0123456789ab"):
        assert "immutable" not in client.get(url).headers.get("Cache-Control", "")


def test_server_timing_reports_upstream_render_and_cache_outcome(client):
    first = client.get(TASKS, headers=FRAGMENT).headers["Server-Timing"]
    second = client.get(TASKS, headers=FRAGMENT).headers["Server-Timing"]
    pattern = r"upstream;dur=[\d.]+, render;dur=[\d.]+, cache;desc=(hit|miss), call-1;dur=.*"
    assert re.fullmatch(pattern, first).group(1) == "miss"
    assert re.fullmatch(pattern, second).group(1) == "hit"
    # Each call is named, with where its answer came from.
    assert first.endswith('desc="ListJobExecutionTasks upstream"')
    assert second.endswith('desc="ListJobExecutionTasks hit"')


def test_server_timing_without_a_cache_has_no_cache_entry(scripted):
    # Without a cache there is no hit or miss to tell; the call itself is still named.
    client, _ = scripted(
        lambda request: httpx.Response(200, json=task_page([])), WEBAPP_CACHE_TTL="0"
    )
    timing = client.get(TASKS, headers=FRAGMENT).headers["Server-Timing"]
    assert re.fullmatch(
        r'upstream;dur=[\d.]+, render;dur=[\d.]+, call-1;dur=[\d.]+;desc="[^"]+"', timing
    )


def test_a_shared_page_is_compressed_once_per_algorithm(client):
    compress = client.application.extensions["compress"]
    first = client.get(TASKS, headers={"Accept-Encoding": "gzip"})
    second = client.get(TASKS, headers={"Accept-Encoding": "gzip"})
    assert first.data == second.data
    assert compress.cache.get("gzip;" + first.headers["ETag"][3:-1]) == first.data
