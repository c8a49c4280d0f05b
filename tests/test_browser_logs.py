"""A task's logs in headless Chromium on demo data: one click from a row, filters in the URL,
following a running crawl task, earlier lines, the download, scrolling, accessibility."""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import pytest

from webapp import create_app
from webapp.logs.view import LogView
from webapp.simulator import DEMO_TOKEN, create_simulator, live_execution_id

from .browser import expect, serious_violations, serve
from .conftest import TOKEN, FakeClock
from .logs_upstream import T0, LogsUpstream

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings"
THUMBNAILS = "/jobs/thumbnail-render/executions/exec-slow-thumbnails"
INVOICES = "/jobs/invoice-ocr/executions/exec-320-invoices"
WIDE = {"start": "2000-01-01T00:00:00", "end": "2000-01-01T00:00:01"}


def upstream_lines(clock, job: str, execution: str, task: str) -> list[dict]:
    """Every line Blaxel (the simulator, at the same clock) has for a task, oldest first."""
    simulator = create_simulator(clock=clock).test_client()
    now = clock()
    response = simulator.get(
        "/v0/observability/logs",
        headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        query_string={
            "start": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S"),
            "end": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "resourceType": "jobs",
            "workloadIds": job,
            "executionId": execution,
            "taskId": task,
            "limit": 1000,
        },
    )
    return list(reversed(response.json.get(job, {}).get("logs", [])))


def key(line: dict) -> str:
    raw = f"{line['timestamp']}\x00{line['message']}".encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def shown_keys(page: Page) -> list[str]:
    return page.locator("#log-lines li.log-line").evaluate_all(
        "lines => lines.map(line => line.dataset.key)"
    )


def messages(page: Page) -> list[str]:
    return page.locator("#log-lines li.log-line .msg").all_inner_texts()


def test_from_a_failed_tasks_row_one_click_shows_its_logs_ending_with_the_reported_error(
    page, live_url
):
    page.goto(live_url + BIG + "/tasks?status=failed&sort=name:asc")
    row = page.locator("#rows tr.task").first
    name = row.locator("th.name a.task-link").inner_text()
    reported = row.locator(".condition-summary").inner_text().split(": ", 1)[1]
    row.get_by_role("link", name=f"Logs of {name}").click()
    # The logs carry the list they came from, for their steps to the next failed task's.
    logs = re.escape(f"{live_url}{BIG}/tasks/{name}/logs")
    expect(page).to_have_url(re.compile(rf"{logs}\?sort=name:asc&status=failed&at=\d+:\d+:"))
    expect(page.get_by_role("heading", name=re.compile("Logs"))).to_contain_text(name)
    last = page.locator("#log-lines li.log-line").last
    expect(last.locator(".msg")).to_have_text(reported)
    expect(last.locator(".sev")).to_have_text(re.compile("error|fatal"))
    # Every attempt is there, each from its start, the failure's own output before the end.
    shown = messages(page)
    assert sum(text.startswith("Attempt ") and " of up to 4 " in text for text in shown) == 4
    if "137" in reported:
        assert any(text.startswith("Out of memory: Killed process") for text in shown)
    else:
        assert any(text.startswith("Traceback (most recent call last):") for text in shown)


def test_the_task_page_links_to_its_logs(page, live_url):
    page.goto(live_url + BIG + "/tasks/task-3")
    page.get_by_role("link", name="Logs").click()
    expect(page).to_have_url(live_url + BIG + "/tasks/task-3/logs")
    expect(page.get_by_role("link", name="task-3")).to_be_visible()  # the way back


def test_severity_chips_and_search_narrow_the_lines_and_the_url_reproduces_the_view(
    page, browser, live_url
):
    logs = f"{live_url}{INVOICES}/tasks/task-10/logs"
    page.goto(logs)
    everything = messages(page)
    page.get_by_role("checkbox", name="warning").check()
    expect(page).to_have_url(logs + "?severity=WARNING")
    expect(page.locator("#log-lines li.log-line").first).to_be_visible()
    expect(page.locator("#log-lines li.log-line .sev")).to_have_text(
        ["▲ warning"] * page.locator("#log-lines li.log-line").count()
    )
    page.get_by_role("checkbox", name="warning").uncheck()
    page.get_by_role("checkbox", name="info").check()
    page.get_by_label("Search lines").fill("page 2")
    expect(page).to_have_url(logs + "?severity=INFO&q=page+2")
    narrowed = messages(page)
    assert narrowed and len(narrowed) < len(everything)
    assert all("page 2" in text for text in narrowed)
    expect(page.locator("#log-status")).to_contain_text("matching lines")

    other = browser.new_page()
    other.goto(page.url)
    assert messages(other) == narrowed
    expect(other.get_by_label("Search lines")).to_have_value("page 2")
    expect(other.get_by_role("checkbox", name="info")).to_be_checked()
    other.close()


def test_a_choice_made_while_the_last_one_loads_replaces_it(page, live_url):
    logs = f"{live_url}{INVOICES}/tasks/task-10/logs"
    page.goto(logs)
    # The warning-only answer never comes: the next choice is made while it is loading.
    held: list = []
    page.route(lambda url: "severity=WARNING&start" in url, lambda route: held.append(route))
    aborted: list[str] = []
    page.on("console", lambda message: "htmx:sendAbort" in message.text and aborted.append(1))
    with page.expect_request(lambda request: "severity=WARNING&start" in request.url):
        page.get_by_role("checkbox", name="warning").check()
    page.get_by_role("checkbox", name="info").check()
    expect(page).to_have_url(logs + "?severity=WARNING,INFO")
    expect(page.locator("#log-lines li.log-line .sev").first).to_be_visible()
    shown = {" ".join(text.split()) for text in page.locator("#log-lines .sev").all_inner_texts()}
    assert shown <= {"▲ warning", "● info"} and "● info" in shown
    assert held and aborted  # the loading request was cancelled, not waited for


def following(response) -> bool:
    return "/logs/follow" in response.url


def next_poll(page) -> None:
    """Waits for the page's next follow poll to be answered."""
    with page.expect_response(following, timeout=12_000):
        pass


def running_crawl_task(clock) -> tuple[str, str]:
    """The live crawl's running task that started last, so it runs a while yet."""
    execution = live_execution_id(clock())
    simulator = create_simulator(clock=clock).test_client()
    tasks = simulator.get(
        f"/v0/jobs/sitemap-crawler/executions/{execution}/tasks",
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Blaxel-Version": "2026-04-28"},
        query_string={"limit": 200},
    ).json["data"]
    running = [task for task in tasks if task["status"] == "running"]
    latest = max(running, key=lambda task: task["metadata"]["updatedAt"])
    return execution, latest["metadata"]["name"]


def test_a_running_crawl_tasks_logs_grow_on_their_own_without_gaps_and_stop_when_it_ends(
    page, live_url, live_clock
):
    execution, task = running_crawl_task(live_clock)
    polls: list[str] = []
    page.on("request", lambda request: "/logs/follow" in request.url and polls.append(request.url))
    page.goto(f"{live_url}/jobs/sitemap-crawler/executions/{execution}/tasks/{task}/logs")
    expect(page.locator("#log-follow .live")).to_be_visible()
    counts = [len(shown_keys(page))]
    next_poll(page)  # in step with the polls: the next one starts about 5 s after this answer
    for _ in range(3):
        # Past the cache's 5 s, so each poll reads Blaxel afresh.
        live_clock.advance(6)
        next_poll(page)
        page.wait_for_timeout(300)  # the swap, and app.js putting lines in order
        shown = shown_keys(page)
        assert len(shown) == len(set(shown))  # never a line twice
        lines = upstream_lines(live_clock, "sitemap-crawler", execution, task)
        assert shown == [key(line) for line in lines]  # every line there is, in order: no gap
        counts.append(len(shown))
    assert counts[-1] > counts[0]  # it grew on its own

    live_clock.advance(180)  # long past the task's end
    expect(page.locator("#log-follow-note")).to_contain_text("following stopped", timeout=12_000)
    expect(page.locator("#log-follow .live")).to_have_count(0)
    expect(page.locator("#log-pause")).to_be_hidden()
    final = upstream_lines(live_clock, "sitemap-crawler", execution, task)
    assert shown_keys(page) == [key(line) for line in final]
    made = len(polls)
    page.wait_for_timeout(6_000)
    assert len(polls) == made  # no more polling once the task is final


def test_earlier_lines_load_in_place_up_to_the_first_line_and_the_download_has_them_all(
    page, live_url
):
    logs = f"{live_url}{THUMBNAILS}/tasks/task-0/logs?limit=100"
    page.goto(logs)
    total = int(
        re.search(r"of ([\d,]+) lines", page.locator("#log-status").inner_text())[1].replace(
            ",", ""
        )
    )
    assert total > 250  # a long log: several pages of 100
    expect(page.locator("#log-lines li.log-line")).to_have_count(100)
    pages = (total - 1) // 100 + 1
    for loaded in range(2, pages + 1):  # one click per page before the newest
        page.locator("#log-earlier").get_by_role("link", name="Earlier lines").click()
        expect(page.locator("#log-lines li.log-line")).to_have_count(min(100 * loaded, total))
    expect(page.locator("#log-earlier")).to_have_count(0)
    expect(page.locator("#log-lines li.log-start")).to_be_visible()
    assert messages(page)[0].startswith("Attempt 1 of up to 3 on node ")
    assert page.url == logs  # loading earlier lines keeps the view's link
    shown = page.locator("#log-lines li.log-line").evaluate_all(
        "lines => lines.map(line => line.dataset.at)"
    )
    assert len(set(shown)) == total and shown == sorted(shown)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download every line (.txt)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    stamps = re.findall(r"^(\d{4}-\d\d-\d\dT[\d:]{8})\.(\d{9})Z ", text, re.MULTILINE)
    downloaded = [
        f"{int(datetime.fromisoformat(whole + '+00:00').timestamp()) * 10**9 + int(nanos):020d}"
        for whole, nanos in stamps
    ]
    assert downloaded == shown  # every line, in order
    assert text.splitlines()[0].startswith(
        "# Logs of task task-0 of execution exec-slow-thumbnails"
    )


@pytest.fixture
def live():
    """A task printing a line a second, every 7th one ingested 12 s late (a scripted Blaxel, so
    the lines never run out): its logs' URL and the clock."""
    clock = FakeClock(T0 + timedelta(seconds=60))
    upstream = LogsUpstream(clock)
    app = create_app(
        {
            "BLAXEL_API_KEY": TOKEN,
        },
        transport=httpx.MockTransport(upstream),
        clock=clock,
    )
    with serve(app) as url:
        yield f"{url}/jobs/nightly/executions/exec-1/tasks/task-0/logs", clock


AT_BOTTOM = "box => box.scrollHeight - box.scrollTop - box.clientHeight <= 24"


def wait_until_at_the_end(page: Page) -> None:
    """Waits for the lines' box to be scrolled to its end: the page scrolls once the new lines
    have settled, a moment after they are in the document (fails after the usual timeout)."""
    box = "document.getElementById('log-scroll')"
    page.wait_for_function(f"() => ({AT_BOTTOM})({box})", timeout=5_000)


def test_scrolling_up_stops_auto_scrolling_and_jump_to_latest_brings_it_back(page, live):
    url, clock = live
    page.set_viewport_size({"width": 1000, "height": 600})
    page.goto(url)
    wait_until_at_the_end(page)  # opens on the newest lines
    expect(page.get_by_role("button", name="Jump to latest")).to_be_hidden()
    page.locator("#log-scroll").evaluate("box => { box.scrollTop = 0; }")
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()
    lines = len(shown_keys(page))
    clock.advance(6)
    next_poll(page)
    expect(page.locator("#log-lines li.log-line")).not_to_have_count(lines)
    assert page.locator("#log-scroll").evaluate("box => box.scrollTop") == 0  # left where it was
    page.get_by_role("button", name="Jump to latest").click()
    wait_until_at_the_end(page)
    expect(page.get_by_role("button", name="Jump to latest")).to_be_hidden()
    lines = len(shown_keys(page))
    clock.advance(6)
    next_poll(page)
    expect(page.locator("#log-lines li.log-line")).not_to_have_count(lines)
    wait_until_at_the_end(page)  # and follows the newest lines again


def test_late_lines_take_their_place_in_time_and_no_line_shows_twice(page, live):
    url, clock = live
    page.goto(url)
    next_poll(page)
    for _ in range(3):
        clock.advance(6)
        next_poll(page)
    page.wait_for_timeout(300)
    shown = messages(page)
    # Lines 0 to 77 printed by now; the late ones among them (every 7th, 12 s late) included.
    assert shown == ingested(78)
    assert page.locator("#log-lines li.late").count() >= 1  # one came after later lines
    expect(page.locator("#log-total")).to_have_text(str(len(ingested(78))))  # the count kept up


def ingested(seconds: int) -> list[str]:
    """The `live` task's lines Blaxel holds `seconds` after it started: one a second, every 7th
    one 12 s late."""
    return [f"line {n}" for n in range(seconds) if not (n % 7 == 3 and n + 12.25 > seconds)]


def test_a_long_follow_keeps_only_the_newest_lines_and_says_how_many_left(page, live, monkeypatch):
    monkeypatch.setattr(LogView, "kept_while_following", 20)
    url, clock = live
    page.goto(url)
    assert len(messages(page)) > 20  # the first page is whole: only following lets lines go
    next_poll(page)
    for _ in range(2):
        clock.advance(6)
        next_poll(page)
    page.wait_for_timeout(300)
    assert messages(page) == ingested(72)[-20:]  # the newest, in order
    note = page.locator("#log-trimmed")
    left = len(ingested(72)) - 20
    expect(note).to_contain_text(f"{left} older lines left this page")
    expect(note).to_contain_text("only the newest 20 stay")
    expect(note.get_by_role("link", name="Download every line")).to_be_visible()
    expect(page.locator("#log-earlier")).to_have_count(0)  # its offsets no longer fit
    # Lines seen again in a later poll's overlap neither return nor count twice.
    page.wait_for_timeout(5_500)
    expect(note).to_contain_text(f"{left} older lines left this page")
    expect(page.locator("#log-total")).to_have_text(str(len(ingested(72))))


def test_a_reader_scrolled_back_keeps_every_line_while_following(page, live, monkeypatch):
    monkeypatch.setattr(LogView, "kept_while_following", 20)
    url, clock = live
    page.set_viewport_size({"width": 1000, "height": 600})
    page.goto(url)
    page.locator("#log-scroll").evaluate("box => { box.scrollTop = 0; }")
    expect(page.get_by_role("button", name="Jump to latest")).to_be_visible()
    clock.advance(6)
    next_poll(page)
    page.wait_for_timeout(300)
    assert len(messages(page)) > 20
    expect(page.locator("#log-trimmed")).to_have_count(0)


def test_following_pauses_while_hidden_or_paused_and_resumes(page, live):
    url, clock = live
    polls: list[str] = []
    page.on("request", lambda request: "/logs/follow" in request.url and polls.append(request.url))
    page.goto(url)
    pause = page.get_by_role("button", name="Pause following")
    pause.click()
    expect(page.get_by_role("button", name="Resume following")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.wait_for_timeout(6_000)
    assert polls == []
    page.get_by_role("button", name="Resume following").click()
    next_poll(page)
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})"
    )
    page.wait_for_timeout(500)
    made = len(polls)
    page.wait_for_timeout(6_000)
    assert len(polls) == made
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false})"
    )
    next_poll(page)


def test_without_javascript_the_logs_read_through_plain_links(browser, live_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_url}{THUMBNAILS}/tasks/task-0/logs?limit=100")
    newest = messages(page)
    page.get_by_role("link", name="Earlier lines").click()
    expect(page.locator("#log-status")).to_contain_text("counting from the first")
    earlier = messages(page)
    assert len(earlier) == 100 and earlier != newest
    page.get_by_role("link", name="Newer lines").click()
    expect(page.locator("#log-lines li.log-line .msg")).to_have_text(newest)
    page.get_by_role("checkbox", name="error").check()
    page.get_by_role("button", name="Apply").click()
    assert "severity=ERROR" in page.url
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(
    "path", [BIG + "/tasks/task-3/logs", INVOICES + "/tasks/task-10/logs?severity=WARNING"]
)
def test_no_serious_accessibility_violations(browser, live_url, scheme, path):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(live_url + path)
    page.locator("#log-scroll").evaluate("box => { box.scrollTop = 0; }")  # shows Jump to latest
    serious = serious_violations(page)
    context.close()
    assert serious == []


def target_in_view(page: Page, line_id: str) -> None:
    line = page.locator(f"#{line_id}")
    expect(line).to_have_class(re.compile(r"\bis-target\b"))
    expect(line).to_be_in_viewport()


def test_a_link_to_an_older_line_loads_earlier_lines_and_scrolls_to_it_highlighted(page, live_url):
    """The `#…` of a line not among the newest: earlier lines load on their own until it is
    there, then it is brought into view and highlighted; clicking another line's time moves
    the highlight to that one."""
    page.goto(live_url + BIG + "/tasks?status=failed&sort=name:asc")
    name = page.locator("#rows tr.task th.name a.task-link").first.inner_text()
    logs = f"{live_url}{BIG}/tasks/{name}/logs"
    page.goto(logs)
    ids = page.locator("#log-lines li.log-line").evaluate_all("lines => lines.map(l => l.id)")
    assert len(ids) > 40
    page.goto(f"{logs}?limit=10#{ids[4]}")
    target_in_view(page, ids[4])
    assert page.locator("#log-lines li.log-line").count() > 10  # earlier pages came on their own
    page.locator(f"#{ids[6]} a.line-link").click()
    expect(page).to_have_url(f"{logs}?limit=10#{ids[6]}")
    target_in_view(page, ids[6])
    expect(page.locator(f"#{ids[4]}")).not_to_have_class(re.compile(r"\bis-target\b"))
    # A reload lands on the same line: the id holds its time and its message's hash.
    page.reload()
    target_in_view(page, ids[6])


def test_each_attempt_reads_as_a_section_headed_by_its_number_and_ending(page, live_url):
    page.goto(live_url + BIG + "/tasks?status=failed&sort=name:asc")
    row = page.locator("#rows tr.task").first
    name = row.locator("th.name a.task-link").inner_text()
    page.goto(f"{live_url}{BIG}/tasks/{name}/logs")
    headings = page.locator("#log-lines li.log-attempt h2")
    expect(headings).to_have_text([f"Attempt {n} of up to 4" for n in range(1, 5)])
    for section in page.locator("#log-lines li.log-attempt").all()[:3]:
        expect(section.locator(".badge")).to_have_text(re.compile("failed"))
        expect(section).to_contain_text("and was retried")
    reported = page.locator("#log-task .condition-summary").inner_text().split(": ", 1)[1]
    expect(page.locator("#log-lines li.log-attempt").last).to_contain_text(reported)


def test_searching_every_task_from_the_execution_lists_hits_by_task_and_opens_one_at_its_line(
    page, live_url
):
    page.goto(live_url + INVOICES + "/tasks")
    page.get_by_label("Search every task's logs").fill("Traceback")
    page.get_by_role("button", name="Search logs").click()
    expect(page).to_have_url(f"{live_url}{INVOICES}/logs?q=Traceback")
    total = int(page.locator("#hits-total").inner_text().replace(",", ""))
    counts = page.locator(".task-hit .hit-count").all_inner_texts()
    assert total > 0 and sum(int(text.split()[0]) for text in counts) == total
    expect(page.get_by_text("Every line is placed")).to_be_visible()
    first = page.locator(".task-hit").first
    task = first.locator("h3 bdi").inner_text()
    hit = first.locator("a.line-link").last
    message = first.locator(".msg").last.inner_text()
    hit.click()
    expect(page).to_have_url(
        re.compile(rf"/tasks/{task}/logs\?around=.+#L\d{{8}}T\d{{15}}-[0-9a-f]{{8}}$")
    )
    line_id = page.url.split("#", 1)[1]
    target_in_view(page, line_id)
    expect(page.locator(f"#{line_id} .msg")).to_have_text(message)
    assert page.evaluate("document.querySelector(':target')?.id") == line_id


def test_a_failure_groups_search_link_limits_the_search_to_its_tasks(page, live_url):
    page.goto(live_url + INVOICES + "/tasks")
    page.locator("#triage .group").first.get_by_role("link", name="Search their logs").click()
    expect(page).to_have_url(re.compile(r"/logs\?cause="))
    page.get_by_label("Lines containing").fill("Traceback")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"/logs\?q=Traceback&cause="))
    expect(page.get_by_text("Only the tasks of the group")).to_be_visible()


@pytest.mark.screenshot
@pytest.mark.parametrize(
    ("name", "width", "scheme"), [("logs", 1400, "light"), ("logs-phone-dark", 360, "dark")]
)
def test_screenshots_of_a_failed_tasks_logs(browser, live_url, tmp_path, name, width, scheme):
    """For docs/logs.md: written to $SCREENSHOTS_DIR when set, else into this test's own folder."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.goto(live_url + BIG + "/tasks?status=failed&sort=name:asc")
    name_cell = page.locator("#rows tr.task th.name a.task-link").first.inner_text()
    page.goto(f"{live_url}{BIG}/tasks/{quote(name_cell)}/logs")
    expect(page.locator("#log-lines li.log-line").last).to_be_visible()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    context.close()
    assert (folder / f"{name}.png").stat().st_size > 10_000


HOSTILE_LINES = [
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>',
    "\x1b[31;1mred alert\x1b[0m \x1b]0;a window title\x07\x1b[2K",
    "\u202etxt.exe\u202c and \u2066isolated\u2069",
    "y" * 100_000,
    "javascript:alert(1) {{ 7*7 }} %s",
]


def hostile_logs(request: httpx.Request) -> httpx.Response:
    lines = [
        {"timestamp": f"2026-11-28T08:00:{10 + n:02d}.5Z", "message": text, "severity": 17}
        for n, text in enumerate(HOSTILE_LINES)
    ]
    body = json.dumps({"nightly": {"logs": lines[::-1], "totalCount": 7}}).encode()
    # Invalid UTF-8 and a lone surrogate, which no JSON decoder should have to accept.
    extra = (
        b'{"timestamp": "2026-11-28T08:00:20Z", "message": "bad \xff\xfe bytes", "severity": 9},'
        b' {"timestamp": "2026-11-28T08:00:21Z", "message": "half \\udc80 pair", "severity": 9},'
    )
    body = body.replace(b'"logs": [', b'"logs": [' + extra, 1)
    return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})


def test_hostile_log_content_renders_inert_without_a_csp_violation(page):
    clock = FakeClock(T0 + timedelta(seconds=60))
    upstream = LogsUpstream(clock, status="failed", completed=T0, logs_answer=hostile_logs)
    app = create_app(
        {"BLAXEL_API_KEY": TOKEN}, transport=httpx.MockTransport(upstream), clock=clock
    )
    with serve(app) as url:
        page.goto(url + "/jobs/nightly/executions/exec-1/tasks/task-0/logs")
        lines = page.locator("#log-lines li.log-line .msg")
        expect(lines).to_have_count(7)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#log-lines img, #log-lines script").count() == 0
        texts = lines.all_inner_texts()
        assert texts[0].startswith('<img src=x onerror="window.__pwned=1"><script>')
        assert texts[1] == "red alert "  # colour, title and erase codes stripped
        assert page.locator("#log-lines .ctl").all_inner_texts()[:4] == [
            "U+202E",
            "U+202C",
            "U+2066",
            "U+2069",
        ]  # bidi controls shown, not applied
        assert texts[3].startswith("y" * 20_000) and "80,000 more characters" in texts[3]
        scroll = page.locator("#log-scroll")
        assert scroll.evaluate("box => box.scrollWidth <= box.clientWidth")  # wrapped
        assert texts[5] == "bad \ufffd\ufffd bytes" and texts[6] == "half \ufffd pair"
        assert TOKEN not in page.content()
