"""The one URL builder of the job → execution → task → logs hierarchy (webapp/common/urls.py):
its paths, the breadcrumbs it makes and the ways up of an error page."""

from __future__ import annotations

import pytest

from webapp.common.urls import urls

TASKS = "/jobs/nightly/executions/exec-1/tasks"


@pytest.fixture
def in_request(app):
    def at(path: str):
        return app.test_request_context(path)

    return at


def test_each_level_has_its_path_and_keeps_the_query_given(in_request):
    with in_request("/"):
        assert urls.jobs() == "/"
        assert urls.job("nightly", status="failed") == "/jobs/nightly/executions?status=failed"
        assert urls.execution("nightly", "exec-1", cause="c1") == TASKS + "?cause=c1"
        assert urls.task("nightly", "exec-1", "task-0") == TASKS + "/task-0"
        assert urls.logs("nightly", "exec-1", "task-0") == TASKS + "/task-0/logs"


def test_breadcrumbs_link_every_level_but_the_page_shown(in_request):
    """On the execution's own page its crumb is not a link; elsewhere (its failure groups) it
    is, and `here` ends the trail unlinked."""
    with in_request(TASKS):
        assert urls.crumbs("nightly", "exec-1", here="Tasks") == [
            ("Jobs", "/"),
            ("nightly", "/jobs/nightly/executions"),
            ("exec-1", ""),
            ("Tasks", ""),
        ]
    with in_request("/jobs/nightly/executions/exec-1/triage"):
        assert urls.crumbs("nightly", "exec-1", here="Failure groups")[2:] == [
            ("exec-1", TASKS),
            ("Failure groups", ""),
        ]


def test_a_crumbs_up_link_keeps_the_view_the_person_came_from(in_request):
    """A task's page links back to the list as it was filtered: `up` is the deepest level's link."""
    with in_request(TASKS + "/task-0"):
        trail = urls.crumbs("nightly", "exec-1", here="task-0", up=TASKS + "?status=failed")
    assert trail[2:] == [("exec-1", TASKS + "?status=failed"), ("task-0", "")]


def test_an_error_under_a_task_offers_each_level_above_it(app):
    """A task that is not there: its execution, its job and every job are the ways up."""
    page = app.test_client().get(TASKS + "/no-such-task")
    assert page.status_code == 404
    for link in (TASKS, "/jobs/nightly/executions", 'href="/"'):
        assert link in page.text
