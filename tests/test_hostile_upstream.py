"""A hostile or broken upstream: what people get when the Blaxel API (or something posing as it)
sends bombs, endless cursor chains, data that parses but cannot be shown, huge Retry-After values,
echoed secrets, odd cursors and odd names, or resets the connection. Always an honest page, or an
export that is complete or marked incomplete, within a bound of time and memory."""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote

import brotli
import httpx
import pytest

from webapp import create_app

from .conftest import EXECUTION, TOKEN, task_json, task_page
from .exports import download, exported_names, is_marked_incomplete
from .faulty import FaultyServer, reset_before_reply, respond, sequence

ROOT = Path(__file__).resolve().parent.parent
TASKS = "/jobs/nightly/executions/exec-1/tasks"
JSON = {"Content-Type": "application/json"}
JOBS = json.dumps({"data": [{"metadata": {"name": "nightly"}}], "meta": {}}).encode()
GOOD = respond(200, JOBS, JSON)
HTMX = {"HX-Request": "true"}
NEXT_LINK = re.compile(r'class="load-more" href="([^"]+)"')


def json_response(body: object, status: int = 200, **headers: str) -> httpx.Response:
    # json.dumps escapes a lone surrogate as \ud800, as a JSON encoder upstream may well do.
    return httpx.Response(status, content=json.dumps(body).encode(), headers={**JSON, **headers})


def assert_honest_page(response, allowed=(200, 502)) -> None:
    """A page of the app's own (never a 500, nor werkzeug's bare one), with its headers."""
    body = response.get_data(as_text=True)
    assert response.status_code in allowed, (response.status_code, body[:300])
    assert "Content-Security-Policy" in response.headers
    assert "X-Request-ID" in response.headers
    assert "Traceback" not in body and TOKEN not in body


# --- Decompression bombs (issue 10 item 4) -------------------------------------------------

# Half a gibibyte once inflated: plenty to tell a bounded decoder from one that inflates it all.
INFLATED = 512 << 20


def brotli_bomb() -> bytes:
    """Under 1 kB of brotli inflating to INFLATED bytes of zeros: one block of 16 MiB of zeros,
    then the same back-reference block repeated (each is 16 MiB more zeros), then the last."""
    zeros = bytes(16 << 20)
    compressor = brotli.Compressor(quality=5, lgwin=24)
    first = compressor.process(zeros) + compressor.flush()
    again = compressor.process(zeros) + compressor.flush()
    return first + again * (INFLATED // len(zeros) - 1) + compressor.finish()


def gzip_in_gzip_bomb() -> bytes:
    """A few kB of gzip holding about 0.5 MB of gzip that inflates to INFLATED bytes of zeros.

    The inner deflate stream is one fully flushed block of 1 MiB of zeros, repeated: each
    copy stands alone, so the repeats are a valid stream.
    """
    mib = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    count = INFLATED // len(mib)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, INFLATED & 0xFFFFFFFF)
    inner = header + block * count + deflate.flush(zlib.Z_FINISH) + trailer
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return outer.compress(inner) + outer.flush()


def test_the_bombs_are_valid_streams_of_kilobytes_that_inflate_to_half_a_gibibyte_of_zeros():
    """So that the bomb test cannot pass on a broken bomb (refused as invalid rather than for its
    size): each stream inflates to exactly INFLATED bytes of zeros, checked megabytes at a time."""
    inflated, brotli_stream = 0, brotli.Decompressor()
    bomb = brotli_bomb()
    for start in range(0, len(bomb), 8):
        piece = brotli_stream.process(bomb[start : start + 8])
        assert not any(piece[:4096]) and not any(piece[-4096:])
        inflated += len(piece)
    assert brotli_stream.is_finished() and inflated == INFLATED

    inner = zlib.decompressobj(31).decompress(gzip_in_gzip_bomb())
    inflated, gzip_stream = 0, zlib.decompressobj(31)
    for start in range(0, len(inner), 1024):
        piece = gzip_stream.decompress(inner[start : start + 1024])
        assert not any(piece[:4096]) and not any(piece[-4096:])
        inflated += len(piece)
    assert gzip_stream.eof and inflated == INFLATED


# Runs in a child process, so that its peak memory is the app's alone and the machine is safe:
# address space capped, then one ordinary page and the bomb's page, its peak RSS before and after.
BOMB_CHILD = """
import json, re, resource, sys
from webapp import create_app

client = create_app({"TESTING": True}).test_client()
assert client.get("/?sort=createdAt:desc").status_code == 200  # templates, connection pool: warm
size = int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
cap = size + 3 * 1024**3  # the bomb may be inflated once today, not wreck the machine
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
response = client.get("/?sort=createdAt:desc&limit=25")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"status": response.status_code,
                  "growth_mib": (after - before) / 1024}))
"""


def app_answer_in_child(url: str) -> dict:
    env = {
        **os.environ,
        "BLAXEL_API_KEY": TOKEN,
        "BLAXEL_API_URL": url,
        "BLAXEL_TIMEOUT": "5",
        "WEBAPP_CACHE_TTL": "0",
    }
    child = subprocess.run(
        [sys.executable, "-c", BOMB_CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("encoding", "bomb"),
    [("br", brotli_bomb), ("gzip, gzip", gzip_in_gzip_bomb)],
    ids=["brotli", "gzip-in-gzip"],
)
def test_a_decompression_bomb_is_a_quick_502_in_bounded_memory(encoding, bomb):
    body = bomb()
    assert len(body) < 4096  # kilobytes on the wire, half a gigabyte once inflated
    headers = {**JSON, "Content-Encoding": encoding}
    with FaultyServer(sequence(GOOD, respond(200, body, headers))) as server:
        answer = app_answer_in_child(server.url)
    # Refused at once: a 502 (bad answer), neither a 504 (its 5 s deadline spent inflating) nor
    # a retry.
    assert answer["status"] == 502
    assert len(server.requests) == 2  # the warm-up page's call and the bomb's
    assert answer["growth_mib"] < 200, f"peak memory grew by {answer['growth_mib']:.0f} MiB"


# --- Exports without bounds (issue 10 item 5) ----------------------------------------------


def same_cursor_forever(request: httpx.Request) -> httpx.Response:
    return json_response(task_page([task_json(0)], next_cursor="TkVYVA", total=10_000))


def new_cursors_beyond_total(request: httpx.Request) -> httpx.Response:
    page = int(request.url.params.get("cursor", "TkVYVA0")[6:]) + 1
    return json_response(task_page([task_json(page)], next_cursor=f"TkVYVA{page}", total=3))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_stops_on_a_repeated_cursor_and_says_it_is_incomplete(scripted, fmt):
    client, upstream = scripted(same_cursor_forever)
    response, body = download(client, f"{TASKS}.{fmt}")
    assert response.status_code == 200
    assert is_marked_incomplete(fmt, body)
    assert len(upstream.listing_requests) <= 10


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_stops_when_pages_go_on_far_beyond_the_total_and_says_so(scripted, fmt):
    client, _ = scripted(new_cursors_beyond_total)
    response, body = download(client, f"{TASKS}.{fmt}")
    assert response.status_code == 200
    assert is_marked_incomplete(fmt, body)
    assert b"ran on past the 3 items Blaxel announced" in body


# --- Data that parses but does not render (issue 10 item 7) --------------------------------

FAR_PAST = "0001-01-01T00:00:00+01:00"
FAR_FUTURE = "9999-12-31T23:59:59-14:00"
LONE_SURROGATE = "\ud800"
DEEP = 100_000


def odd_task(name: str = "task-odd", when: str = "2026-11-28T08:00:00Z", text: str = "") -> dict:
    task = task_json(0, "failed", name=name, createdAt=when, startedAt=when, completedAt=when)
    task["conditions"] = [{"type": "Failed", "severity": "Error", "reason": "x", "message": text}]
    return task


def odd_execution(execution_id: str = "exec-1", when: str = "2026-11-28T08:00:00Z") -> dict:
    metadata = {**EXECUTION["metadata"], "id": execution_id}
    metadata.update(createdAt=when, startedAt=when, completedAt=when)
    return {**EXECUTION, "metadata": metadata}


def odd_job(name: str = "nightly", when: str = "2026-11-28T08:00:00Z") -> dict:
    return {"metadata": {"name": name, "createdAt": when, "updatedAt": when}}


def deeply_nested(request: httpx.Request) -> httpx.Response:
    deep = b"[" * DEEP + b"]" * DEEP
    return httpx.Response(200, content=b'{"data": [' + deep + b'], "meta": {}}', headers=JSON)


def upstream_with(*, tasks=None, execution=None, executions=None, jobs=None):
    """A handler answering each endpoint with the given item (a sane default otherwise)."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/tasks"):
            return json_response(task_page([tasks or odd_task()]))
        if path.endswith("/executions"):
            return json_response({"data": [executions or odd_execution()], "meta": {}})
        if path.endswith("/jobs"):
            return json_response({"data": [jobs or odd_job()], "meta": {}})
        return json_response(execution or odd_execution())

    return handler


PAGES = {
    "jobs": ("/?sort=createdAt:desc", {}),
    "executions": ("/jobs/nightly/executions", {}),
    "tasks": (TASKS, {}),
    "task": (TASKS + "/task-odd", {}),
    "summary": ("/jobs/nightly/executions/exec-1/summary", HTMX),
    "rows": (TASKS, HTMX),
}


def odd_upstream(kind: str, page: str):
    """Upstream answers that parse but are odd, `kind` of them, where `page` reads them."""
    if kind == "deep":
        return deeply_nested
    if kind == "surrogate":
        name = "task-odd" if page == "task" else "task-" + LONE_SURROGATE
        return upstream_with(
            tasks=odd_task(name=name, text=LONE_SURROGATE),
            execution=odd_execution(execution_id="exec-" + LONE_SURROGATE),
            executions=odd_execution(execution_id="exec-" + LONE_SURROGATE),
            jobs=odd_job(name="job-" + LONE_SURROGATE),
        )
    when = FAR_PAST if kind == "far-past" else FAR_FUTURE
    return upstream_with(
        tasks=odd_task(when=when),
        execution=odd_execution(when=when),
        executions=odd_execution(when=when),
        jobs=odd_job(when=when),
    )


def page_cases() -> list:
    return [
        pytest.param(kind, page)
        for kind in ("far-past", "far-future", "surrogate", "deep")
        for page in PAGES
    ]


@pytest.mark.parametrize(("kind", "page"), page_cases())
def test_upstream_data_that_parses_but_is_odd_gets_a_page_never_a_500(scripted, kind, page):
    url, headers = PAGES[page]
    handler = odd_upstream(kind, page)
    client, _ = scripted(handler, execution=handler)
    response = client.get(url, headers=headers)
    assert_honest_page(response)
    if response.status_code == 200 and kind in ("far-past", "far-future") and page != "summary":
        body = response.get_data(as_text=True)
        assert {"jobs": "nightly", "executions": "exec-1"}.get(page, "task-odd") in body


def export_cases() -> list:
    return [
        pytest.param(kind, fmt)
        for kind in ("far-past", "far-future", "surrogate", "deep")
        for fmt in ("csv", "json")
    ]


@pytest.mark.parametrize(("kind", "fmt"), export_cases())
def test_an_export_of_odd_upstream_data_is_complete_or_marked_incomplete(scripted, kind, fmt):
    handler = odd_upstream(kind, "export")
    client, _ = scripted(handler, execution=handler)
    response, body = download(client, f"{TASKS}.{fmt}")
    if response.status_code != 200:  # failed before the first byte: the ordinary error page
        assert response.status_code == 502, body[:300]
        assert "Content-Security-Policy" in response.headers and "X-Request-ID" in response.headers
        return
    if not is_marked_incomplete(fmt, body):
        assert [name[:5] for name in exported_names(fmt, body)] == ["task-"]


# --- Retry-After, echoed secrets, odd cursors and names, resets, CSV cells (issue 10 item 9) --


def far_date() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(days=3650), usegmt=True)


@pytest.mark.parametrize("asked", ["999999", "far-date", "inf"])
def test_retry_after_sent_to_browsers_is_the_clamped_number_of_seconds(scripted, asked):
    value = far_date() if asked == "far-date" else asked
    rate_limited = lambda request: json_response(  # noqa: E731
        {"error": "rate_limited"}, 429, **{"Retry-After": value}
    )
    client, _ = scripted(rate_limited)
    newest = "/?sort=createdAt:desc"  # the jobs in Blaxel's order: one call
    for response in (client.get(newest), client.get(newest + "&q=again")):  # answer, then hold
        assert response.status_code == 503
        sent = response.headers.get("Retry-After")
        if asked != "inf" or sent is not None:
            assert sent is not None and sent.isdigit(), sent
            assert 1 <= int(sent) <= 300


@pytest.mark.parametrize("status", [400, 403, 404, 500])
@pytest.mark.parametrize("shape", ["structured", "short"])
def test_an_upstream_error_message_echoing_the_token_never_shows_it(scripted, status, shape):
    message = f"bad token {TOKEN} (Authorization: Bearer {TOKEN})"
    body = (
        {"error": {"code": "BAD_REQUEST", "message": message}}
        if shape == "structured"
        else {"error": "BAD_REQUEST", "message": message}
    )
    client, _ = scripted(lambda request: json_response(body, status))
    for headers in ({}, HTMX):
        response = client.get("/?sort=createdAt:desc", headers=headers)
        assert response.status_code in (404, 502)
        assert TOKEN not in response.get_data(as_text=True)


ODD_CURSORS = {
    "dot-dot-slash": "T0xE../../../jobs/nightly",
    # Base64 of bytes that do not compress, as a real cursor's would not: 2,142 characters.
    "over-2048": "TE9ORw" + base64.b64encode(hashlib.shake_256(b"cursor").digest(1600)).decode(),
}
LISTINGS = {
    "jobs": "/?sort=createdAt:desc",
    "executions": "/jobs/nightly/executions",
    "tasks": TASKS,
    "status-walk": TASKS + "?status=failed",  # the app's own cursor carries the upstream one
}


def next_link(response) -> str:
    found = NEXT_LINK.search(response.get_data(as_text=True))
    assert found, "no Load more link"
    return html.unescape(found.group(1))


def cursor_cases() -> list:
    return [
        pytest.param(LISTINGS[listing], ODD_CURSORS[cursor], id=f"{listing}-{cursor}")
        for listing in LISTINGS
        for cursor in ODD_CURSORS
    ]


@pytest.mark.parametrize(("listing", "cursor"), cursor_cases())
def test_load_more_works_whatever_cursor_the_upstream_hands_out(scripted, listing, cursor):
    def pages(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/tasks"):
            item, more = task_json(len(request.url.params.get("cursor", "")), "failed"), True
        elif path.endswith("/executions"):
            item, more = odd_execution(f"exec-{len(request.url.params.get('cursor', ''))}"), True
        else:
            item, more = odd_job(f"job-{len(request.url.params.get('cursor', ''))}"), True
        if "cursor" in request.url.params:
            more = False
        meta = {"hasMore": more, "nextCursor": cursor if more else "", "total": 2}
        return json_response({"data": [item], "meta": meta})

    # A budget of one call: the status walk pauses after the first page, on the odd cursor.
    client, upstream = scripted(pages, WEBAPP_SCAN_BUDGET="1")
    first = client.get(listing)
    assert first.status_code == 200
    following = client.get(next_link(first), headers=HTMX)
    assert following.status_code == 200
    assert upstream.listing_requests[-1].url.params["cursor"] == cursor


def as_a_browser_would(href: str) -> str:
    """The path and query a browser requests for a link: dot segments, also percent-encoded
    ones ("%2e%2e"), are resolved as the URL standard says."""
    path, mark, query = href.partition("?")
    segments: list[str] = []
    parts = path.split("/")[1:]
    for index, segment in enumerate(parts):
        last = index == len(parts) - 1
        if segment.lower() in ("..", ".%2e", "%2e.", "%2e%2e"):
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif segment.lower() in (".", "%2e"):
            if last:
                segments.append("")
        else:
            segments.append(segment)
    return "/" + "/".join(segments) + mark + query


def links_to(response, text: str) -> str:
    """The href of the link whose text is `text`, as a browser would request it."""
    body = response.get_data(as_text=True)
    for href, label in re.findall(r'<a href="([^"]*)">([^<]*)</a>', body):
        if html.unescape(label) == text:
            return as_a_browser_would(html.unescape(href))
    raise AssertionError(f"no link labelled {text!r}")


def upstream_path(request: httpx.Request) -> list[str]:
    """The decoded path segments (after /v0) of a request the upstream received."""
    segments = request.url.raw_path.split(b"?")[0].decode().split("/")[2:]
    assert not {".", ".."} & set(segments), segments  # no path syntax left in the raw path
    return [unquote(segment) for segment in segments]


ODD_NAMES = ["..", "a/b"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_job_named_like_path_syntax_links_to_its_own_executions(scripted, name):
    client, upstream = scripted(upstream_with(jobs=odd_job(name=name)))
    jobs = client.get("/?sort=createdAt:desc")
    assert jobs.status_code == 200
    executions = client.get(links_to(jobs, name))
    assert executions.status_code == 200
    assert upstream_path(upstream.requests[-1]) == ["jobs", name, "executions"]


@pytest.mark.parametrize("execution_id", ODD_NAMES)
def test_an_execution_with_an_id_like_path_syntax_links_to_its_own_tasks(scripted, execution_id):
    client, upstream = scripted(upstream_with(executions=odd_execution(execution_id)))
    executions = client.get("/jobs/nightly/executions")
    assert executions.status_code == 200
    tasks = client.get(links_to(executions, execution_id))
    assert tasks.status_code == 200
    asked = [upstream_path(request) for request in upstream.requests[1:]]
    assert ["jobs", "nightly", "executions", execution_id, "tasks"] in asked


def test_a_connection_reset_before_any_reply_is_retried():
    with FaultyServer(sequence(reset_before_reply, GOOD)) as server:
        client = create_app(
            {"TESTING": True, "BLAXEL_API_KEY": TOKEN, "BLAXEL_API_URL": server.url}
        ).test_client()
        response = client.get("/?sort=createdAt:desc")
        assert response.status_code == 200 and "nightly" in response.get_data(as_text=True)
        assert len(server.requests) == 2


@pytest.mark.parametrize(
    "name",
    [" =1+2", "\n=1+2", "\u00a0=1+2", "\uff1d1+2"],
    ids=["space", "line-feed", "no-break-space", "full-width-equals"],
)
def test_csv_cells_a_spreadsheet_may_still_run_are_defused_too(scripted, name):
    task = odd_task(name=name, text=name)
    client, _ = scripted(lambda request: json_response(task_page([task])))
    response, body = download(client, TASKS + ".csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert rows[0]["name"] == "'" + name
    assert rows[0]["key_condition_message"] == "'" + name
