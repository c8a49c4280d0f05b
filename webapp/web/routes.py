"""The routes, one blueprint per area. Each view reads top to bottom: parse the URL, ask
Blaxel through this request's session, render a page or, for htmx, the rows."""

from __future__ import annotations

from flask import Flask

from ..common.paths import IdConverter
from ..common.services import services_of
from ..listing import executions, jobs, tasks
from ..listing.query import check_id
from ..logs import routes as logs
from ..operate import routes as operate
from ..runs import views as runs
from . import readiness as health

# Ids that go into upstream paths (a task is looked up through the search, never by path).
PATH_IDS = {"job_id": "job name", "execution_id": "execution id"}


def register(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter

    @app.url_value_preprocessor
    def check_path_ids(endpoint: str | None, values: dict[str, str] | None) -> None:
        """Every id in a path goes upstream; refuse, once, any that Blaxel's paths cannot hold."""
        for name, value in (values or {}).items():
            if name in PATH_IDS:
                check_id(value, PATH_IDS[name])

    # Cancelling exists only with a write key: without one its route answers 404.
    cancelling = operate.blueprint(services_of(app).write)
    for blueprint in (jobs.bp, executions.bp, tasks.bp, logs.bp, health.bp, runs.bp, cancelling):
        app.register_blueprint(blueprint)
