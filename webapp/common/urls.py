"""Every URL of the job → execution → task → logs hierarchy, built in one place: views,
templates (as `urls`), breadcrumbs and the error page's ways up all ask it."""

from __future__ import annotations

from flask import request, url_for


class Urls:
    """The paths of the hierarchy and the view arguments each takes; extra keyword arguments
    are the view's query (`status=`, `cause=`, ...)."""

    def jobs(self, **query: object) -> str:
        return url_for("jobs.index", **query)

    def job(self, job: str, **query: object) -> str:
        return url_for("executions.index", job_id=job, **query)

    def execution(self, job: str, execution: str, **query: object) -> str:
        return url_for("tasks.index", job_id=job, execution_id=execution, **query)

    def task(self, job: str, execution: str, task: str, **query: object) -> str:
        return url_for("tasks.task", job_id=job, execution_id=execution, task_name=task, **query)

    def logs(
        self, job: str, execution: str, task: str, endpoint: str = "logs.page", **query: object
    ) -> str:
        """A task's logs page, or one of its parts (`logs.lines`, `logs.follow`, ...)."""
        return url_for(endpoint, job_id=job, execution_id=execution, task_name=task, **query)

    def execution_logs(self, job: str, execution: str, **query: object) -> str:
        """The search of every task's logs of an execution (`q=`, `cause=`)."""
        return url_for("logs.search_page", job_id=job, execution_id=execution, **query)

    def levels(self, job: str = "", execution: str = "", task: str = "") -> list[tuple[str, ...]]:
        """(kind, name, URL) of every job, then of each level down to the deepest named."""
        found = [("", "Jobs", self.jobs())]
        if job:
            found.append(("Job", job, self.job(job)))
        if job and execution:
            found.append(("Execution", execution, self.execution(job, execution)))
        if job and execution and task:
            found.append(("Task", task, self.task(job, execution, task)))
        return found

    def crumbs(
        self, job: str = "", execution: str = "", task: str = "", *, here: str = "", up: str = ""
    ) -> list[tuple[str, str]]:
        """(label, URL) of a page's breadcrumbs: each level down to the deepest named links to
        its page, the deepest to `up` when given (a view of it, its query kept); the level
        being shown is not linked; `here`, the page's own name, ends the trail."""
        shown = url_for(request.endpoint, **(request.view_args or {})) if request.endpoint else ""
        trail = [
            (name, "" if url == shown else url)
            for _, name, url in self.levels(job, execution, task)
        ]
        if up:
            trail[-1] = (trail[-1][0], up)
        return trail + ([(here, "")] if here else [])


urls = Urls()
