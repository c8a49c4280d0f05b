"""Every page in headless Chromium under the strict CSP: no violation reported, hostile data
inert, long values wrapped with their full text, the signed-in identity in the header bar."""

from __future__ import annotations

import httpx
import pytest
from werkzeug.security import generate_password_hash

from webapp import create_app

from .browser import CSP_WATCH, expect, serve
from .conftest import EXECUTION, task_json, task_page

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/?q=nightly&sort=name:asc",
    "/jobs/nightly-embeddings/executions",
    "/jobs/invoice-ocr/executions/exec-320-invoices/tasks",
    "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks?refresh=5",
    "/jobs/invoice-ocr/executions/exec-nope/tasks",  # 404 page
    "/?limit=0",  # 400 page
    "/no/such/page",
]


@pytest.fixture
def watched(browser):
    """A page whose console errors, script errors and CSP violations are collected."""
    context = browser.new_context()
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page, problems
    context.close()


def violations(problems: list[str]) -> list[str]:
    return [
        problem for problem in problems if "Content Security Policy" in problem or "CSP" in problem
    ]


def test_no_page_reports_a_csp_violation(watched):
    page, problems = watched
    with serve(create_app({"BLAXEL_API_KEY": ""})) as url:
        for path in PAGES:
            page.goto(url + path)
            expect(page.locator("main")).to_be_visible()
        page.goto(url + "/jobs/invoice-ocr/executions/exec-320-invoices/tasks")
        page.get_by_role("link", name="Load more tasks").click()  # htmx swaps
        expect(page.locator("#rows tr.task")).to_have_count(100)
        page.get_by_label("Search tasks").fill("task-3")
        expect(page.locator("#listing-status")).to_contain_text("matching tasks loaded")
    assert violations(problems) == []
    assert [problem for problem in problems if "404" not in problem and "400" not in problem] == []


def test_the_watch_does_report_a_violation(watched):
    page, problems = watched
    with serve(create_app({"BLAXEL_API_KEY": ""})) as url:
        page.goto(url + "/healthz")
        page.goto(url + "/")
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=1>')")
        page.wait_for_timeout(200)
    assert any("script-src" in problem for problem in violations(problems))


LONG_NAME = "task-" + "ab" * 2500
LONG_MESSAGE = ("javascript:alert(1) <b>bold</b> \u202eevil\u202c " + "y" * 990) * 100  # ~100 KB


def long_values(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/exec-1"):
        return httpx.Response(200, json=EXECUTION)
    task = task_json(0, "failed", name=LONG_NAME)
    task["conditions"] = [
        {"type": "Failed", "severity": "Error", "reason": "Boom", "message": LONG_MESSAGE}
    ]
    return httpx.Response(200, json=task_page([task, task_json(1)]))


def test_long_hostile_values_wrap_inert_with_their_full_text_available(watched):
    page, problems = watched
    page.set_viewport_size({"width": 1280, "height": 900})
    app = create_app({"BLAXEL_API_KEY": "any-token"}, transport=httpx.MockTransport(long_values))
    with serve(app) as url:
        page.goto(url + "/jobs/nightly/executions/exec-1/tasks")
        name = page.locator("#rows tr.task a.task-link").first
        assert name.inner_text() == LONG_NAME  # the whole name is there to copy
        assert name.get_attribute("title") == LONG_NAME  # and to read, as a tooltip
        assert name.bounding_box()["width"] < 600  # and wraps instead of widening the table
        table_width = page.locator("table.listing").evaluate("element => element.scrollWidth")
        assert table_width < 2000  # nothing pushes the table to the length of a value
        summary = page.locator("#rows tr.task .condition-summary").first
        assert summary.bounding_box()["height"] < 80  # two lines at most
        page.locator("#rows tr.task details summary").first.click()
        message = page.locator("#rows dd.message").first
        # Whole, with the bidi controls shown as marks instead of applied.
        marked = LONG_MESSAGE.replace("\u202e", "U+202E").replace("\u202c", "U+202C")
        expect(message).to_have_text(marked)
        assert message.bounding_box()["height"] < 500  # scrolls inside its box
        assert (
            page.locator("#rows b").count() == 0
            and page.locator("#rows a[href^=javascript]").count() == 0
        )
    assert problems == []


def test_the_signed_in_identity_is_shown_in_the_header_bar(browser, tmp_path):
    users = tmp_path / "users"
    users.write_text(f"ada@example.com:{generate_password_hash('correct horse')}\n")
    app = create_app(
        {"BLAXEL_API_KEY": "", "WEBAPP_AUTH": "basic", "WEBAPP_USERS_FILE": str(users)}
    )
    with serve(app) as url:
        context = browser.new_context(
            http_credentials={"username": "ada@example.com", "password": "correct horse"}
        )
        page = context.new_page()
        page.goto(url + "/")
        expect(page.locator(".topbar .identity")).to_have_text("ada@example.com")
        expect(page.locator(".topbar .identity")).to_be_visible()
        context.close()
