"""Cancelling a run in a real browser: the form on the execution's page, its typed id, the
answer, and the audit trail; under the strict CSP (no console error, no serious axe finding)."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from webapp import create_app

from .browser import expect, serious_violations, serve
from .conftest import WRITE_TOKEN

pytestmark = pytest.mark.browser

RUNNING = "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks"


@pytest.mark.screenshot
def test_an_operator_cancels_from_the_page_and_reads_the_audit_trail(
    browser, tmp_path, screenshots, clock
):
    """The operator opens "Cancel this run", types the id, sends: the answer says Blaxel
    accepted and shows the run cancelling; /audit lists the attempt. Screenshots of the form
    and of the audit trail."""
    users = tmp_path / "users"
    users.write_text(f"olga:{generate_password_hash('operator password')}:operator\n")
    app = create_app(
        {
            "BLAXEL_API_KEY": "",
            "BLAXEL_WRITE_API_KEY": WRITE_TOKEN,
            "WEBAPP_AUTH": "basic",
            "WEBAPP_USERS_FILE": str(users),
        },
        clock=clock,
    )
    with serve(app) as url:
        context = browser.new_context(
            viewport={"width": 1400, "height": 900},
            http_credentials={"username": "olga", "password": "operator password"},
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.goto(url + RUNNING)
        page.get_by_text("Cancel this run", exact=True).first.click()
        field = page.get_by_label("Type the execution's id")
        expect(field).to_be_visible()
        field.fill("exec-slow-thumbnails")
        assert serious_violations(page) == []
        page.locator(".cancel-run").screenshot(path=str(screenshots / "cancel-form.png"))
        page.get_by_role("button", name="Cancel this run").click()
        expect(page.locator("#answer-title")).to_have_text("Blaxel accepted the cancel")
        expect(page.locator("#execution-summary .badge")).to_contain_text("cancelling")
        page.goto(url + "/audit")
        expect(page.locator("tr.audit-entry")).to_have_count(1)
        expect(page.locator("tr.audit-entry .audit-outcome")).to_have_text("accepted")
        assert serious_violations(page) == []
        page.screenshot(path=str(screenshots / "audit.png"))
        context.close()
    assert problems == []
