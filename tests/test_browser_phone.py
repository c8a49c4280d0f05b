"""Dense on phones, in headless Chromium at 390 px: the first row in view, two-line rows, 44 px
targets, folded panels, full names; and names that cannot pass for others."""

from __future__ import annotations

import httpx
import pytest

from webapp import create_app

from .browser import expect, serve
from .conftest import EXECUTION, task_json, task_page

pytestmark = pytest.mark.browser

BIG = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
INVOICES = "/jobs/invoice-ocr/executions/exec-320-invoices/tasks"
PHONE = {"width": 390, "height": 844}
MIN_TARGET = 44

# The page's controls and their tap targets: a checkbox is tapped through its label. Links inside
# a sentence are left out, as WCAG's target size allows; so are targets that take no taps.
TARGETS_JS = """
() => {
  const shown = (element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(element).visibility !== "hidden";
  };
  const inSentence = (link) => {
    const parent = link.parentElement;
    const others = [...parent.childNodes].filter((node) => node !== link);
    const own = others.map((node) => node.textContent).join("");
    return /[A-Za-z]{2}/.test(own) && !parent.matches("th, li.chip, .chip, label");
  };
  const targets = new Set();
  for (const element of document.querySelectorAll("a[href], button, input, select, summary")) {
    if (element.closest("[aria-hidden='true'], .skip-link, dialog:not([open])")) continue;
    if (element.matches("input[type='hidden']")) continue;
    const tick = element.matches("input[type='checkbox'], input[type='radio']");
    const target = tick ? element.closest("label") : element;
    if (!target || !shown(target) || getComputedStyle(target).pointerEvents === "none") continue;
    if (target.matches("a") && inSentence(target)) continue;
    targets.add(target);
  }
  return [...targets].map((t) => {
    const box = t.getBoundingClientRect();
    const name = t.tagName + "." + t.className + " " + (t.textContent || "").trim().slice(0, 24);
    return [name, Math.round(box.width * 10) / 10, Math.round(box.height * 10) / 10];
  });
}
"""


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == []


@pytest.mark.parametrize(
    "path",
    [INVOICES, BIG, "/", "/jobs/nightly-embeddings/executions"],
    ids=["tasks", "tasks-with-failure-groups", "jobs", "executions"],
)
def test_the_first_row_is_in_view_without_scrolling_past_the_controls(phone, base_url, path):
    phone.goto(base_url + path)
    phone.wait_for_load_state("networkidle")
    first = phone.locator("#rows tr").first
    box = first.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"]  # the whole first row, before any scroll


def test_a_task_row_is_two_lines_name_status_duration_then_the_key_error(phone, base_url):
    phone.goto(base_url + BIG + "?status=failed")
    row = phone.locator("#rows tr.task").first
    name, status, duration, key = (
        row.locator(selector).bounding_box()
        for selector in ("th.name a", ".badge", "td[data-label='Duration']", "summary")
    )
    assert abs(name["y"] - status["y"]) < 24 and abs(status["y"] - duration["y"]) < 24
    assert name["x"] < status["x"] < duration["x"]
    assert key["y"] >= name["y"] + name["height"] - 1  # the error on the line below
    assert row.bounding_box()["height"] <= 110  # about eight rows to a screen, not four


PAGES = {
    "tasks": BIG + "?status=failed",
    "jobs": "/",
    "executions": "/jobs/nightly-embeddings/executions",
    "task": INVOICES + "/task-10",
    "logs": INVOICES + "/task-10/logs",
    "timeline": "/jobs/report-render/executions/exec-stragglers/tasks?view=timeline",
    "error": "/jobs/nightly-embeddings/executions/no-such-run/tasks",
}


@pytest.mark.parametrize("name", PAGES)
def test_every_control_is_a_44_px_target(phone, base_url, name):
    phone.goto(base_url + PAGES[name])
    phone.wait_for_load_state("networkidle")
    for toggle in phone.locator("[data-panel-toggle]").all():
        toggle.click()  # the folded panels' controls count too
    for details in phone.locator("details:not([open]) > summary").all()[:3]:
        details.click()
    targets = phone.evaluate(TARGETS_JS)
    assert len(targets) >= 3
    small = [t for t in targets if t[1] < MIN_TARGET - 0.5 or t[2] < MIN_TARGET - 0.5]
    assert small == [], small


def test_hidden_loading_indicators_leave_no_blank_band(phone, base_url):
    phone.goto(base_url + INVOICES)
    phone.locator("[data-panel-toggle]", has_text="Search").click()
    for indicator in phone.locator(".htmx-indicator").all():
        assert indicator.bounding_box() is None  # no room taken while nothing loads


def test_the_controls_fold_behind_one_button_that_slash_and_esc_also_work(phone, base_url):
    phone.goto(base_url + INVOICES)
    toggle = phone.get_by_role("button", name="Search, sort and filter")
    search = phone.locator("#search-input")
    expect(search).not_to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(search).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    expect(search).not_to_be_visible()
    phone.keyboard.press("/")  # a keyboard on a tablet: the search opens its panel
    expect(search).to_be_focused()
    phone.keyboard.press("Escape")
    expect(search).not_to_be_visible()
    expect(toggle).to_be_focused()


# --- names that cannot pass for others, and full names in reach of a finger ---

OVERRIDE = "invoice-\u202egnp.exe"
LONG = "quarterly-reconciliation-of-every-ledger-entry-in-emea-0042"


def odd_names(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/executions/exec-1"):
        return httpx.Response(200, json=EXECUTION)
    tasks = [task_json(0, "failed", name=OVERRIDE), task_json(1, name=LONG)]
    return httpx.Response(200, json=task_page(tasks))


@pytest.fixture(scope="module")
def odd_url():
    app = create_app({"BLAXEL_API_KEY": "any-token"}, transport=httpx.MockTransport(odd_names))
    with serve(app) as url:
        yield url + "/jobs/nightly/executions/exec-1/tasks"


def test_a_bidi_override_in_a_name_is_shown_and_the_name_reads_in_logical_order(page, odd_url):
    page.goto(odd_url)
    link = page.locator("#rows a.task-link").first
    expect(link).to_have_text("invoice-U+202Egnp.exe")
    expect(link.locator(".ctl")).to_have_attribute(
        "title", "bidirectional control U+202E, shown instead of applied"
    )
    assert "\u202e" not in link.evaluate("a => a.textContent")
    # Each character of "gnp.exe" lies right of the one before it: nothing was reversed.
    lefts = link.evaluate(
        """a => {
          const text = [...a.childNodes].pop();
          return [...text.textContent].map((_, i) => {
            const range = document.createRange();
            range.setStart(text, i);
            range.setEnd(text, i + 1);
            return range.getBoundingClientRect().left;
          });
        }"""
    )
    assert lefts == sorted(lefts) and len(set(lefts)) == len("gnp.exe")
    # Whoever copies the name gets the name itself, override included.
    assert link.evaluate("a => decodeURIComponent(a.pathname.split('/').pop())") == OVERRIDE


def test_a_long_name_is_whole_on_a_phone_not_cut_to_a_tooltip(phone, odd_url):
    phone.goto(odd_url)
    link = phone.locator("#rows a.task-link", has_text="quarterly")
    expect(link).to_have_text(LONG)
    assert link.evaluate("a => a.scrollWidth <= a.clientWidth && a.getClientRects().length >= 1")
    row = phone.locator("#rows tr.task", has=phone.locator("a.task-link", has_text="quarterly"))
    assert (
        link.bounding_box()["x"] + link.bounding_box()["width"]
        <= row.bounding_box()["x"] + row.bounding_box()["width"]
    )
