"""Comparing two runs in headless Chromium, on the demo: the link from tonight's failed run, the
page read whole, its export, the form that picks two runs, each bad input; without JavaScript,
from the keyboard and on a phone."""

from __future__ import annotations

import csv
import io

import pytest

from .browser import expect

pytestmark = pytest.mark.browser


JOB = "nightly-embeddings"
TONIGHT = "exec-5k-embeddings"
LAST_SUCCESS = "exec-10afee65"
COMPARE = f"/jobs/{JOB}/compare?base={LAST_SUCCESS}&head={TONIGHT}"


def read_whole(page, url: str) -> None:
    """Follows "Read more" until both runs are digested (each request reads on in its budget)."""
    page.goto(url)
    for _ in range(10):
        if page.locator(".compare-partial").count() == 0:
            return
        page.locator(".compare-partial a").first.click()
    raise AssertionError("the runs were never read whole")


def test_the_failed_runs_page_links_to_the_comparison_with_the_last_successful_run(page, base_url):
    page.goto(base_url + f"/jobs/{JOB}/executions/{TONIGHT}/tasks")
    # The failure groups' panel loads first: leaving while it loads would abort its request.
    expect(page.locator("#triage")).to_have_attribute("aria-busy", "false", timeout=60_000)
    page.get_by_role("link", name="Compare with the last successful run").click()
    expect(page).to_have_url(base_url + COMPARE)
    expect(page.locator("h1")).to_contain_text("Compare runs")


def test_the_page_lists_broken_tasks_new_causes_and_the_revision_and_exports_them(
    page, base_url, screenshots
):
    read_whole(page, base_url + COMPARE)
    broke = page.locator('[data-list="broke"] li')
    expect(broke.first).to_be_visible()
    count = broke.count()
    expect(page.locator("#broke .subtitle")).to_have_text(f"{count} tasks")
    new = page.locator(".compare-causes").first
    expect(new).to_contain_text("tokenizer vocabulary mismatch")
    expect(page.locator(".compare-revisions")).to_contain_text("ci-deploy@acme.dev")
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export the task changes (CSV)").click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert sum(row[0] == "broke" for row in rows) == count
    broke.first.locator("a").click()
    expect(page).to_have_url(f"{base_url}/jobs/{JOB}/executions/{TONIGHT}/tasks/" + rows[1][1])


def test_the_executions_page_form_compares_any_two_runs_from_the_keyboard(page, base_url):
    page.goto(base_url + f"/jobs/{JOB}/executions")
    form = page.locator("form.compare-form")
    form.locator('select[name="base"]').select_option(LAST_SUCCESS)
    form.locator('select[name="head"]').focus()
    form.locator('select[name="head"]').select_option(TONIGHT)
    page.keyboard.press("Tab")
    expect(form.get_by_role("button", name="Compare")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(base_url + COMPARE)


def test_the_page_works_without_javascript_and_on_a_phone(browser, base_url, screenshots):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    phone = context.new_page()
    try:
        read_whole(phone, base_url + COMPARE)
        expect(phone.locator('[data-list="broke"] li').first).to_be_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        phone.screenshot(path=str(screenshots / "compare-phone.png"), full_page=True)
        assert width <= 390
    finally:
        context.close()


@pytest.mark.parametrize(
    ("query", "said"),
    [
        (f"base={TONIGHT}&head={TONIGHT}", "are the same run"),
        (f"base=exec-nope&head={TONIGHT}", "The base run “exec-nope” is not a run of job"),
        (f"base=exec-320-invoices&head={TONIGHT}", "The base run “exec-320-invoices”"),
        (f"base={TONIGHT}&head={LAST_SUCCESS}", "The base run was created after the head run"),
    ],
)
def test_each_bad_input_is_said_on_the_page(browser, base_url, query, said):
    """Said on the page (the console reports the 4xx status itself, so no console watch)."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(base_url + f"/jobs/{JOB}/compare?{query}")
        expect(page.locator("main")).to_contain_text(said)
    finally:
        context.close()
