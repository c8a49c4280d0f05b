"""`blaxel-jobs digest [JOB…]`: the digests of jobs' last finished runs made ahead (for cron),
so that no page waits for them."""

from __future__ import annotations

import sys

import click
from flask import Flask

from ..blaxel import CallScope, PageRequest, Session, UpstreamError
from ..common.services import services_of
from .shown import digests
from .window import fill, finished_runs

JOBS_PAGE = PageRequest("createdAt:desc", "", 100)
# The longest one run's walk may take: a run of 5,000 tasks is 25 pages.
RUN_SECONDS = 600.0


@click.command("digest")
@click.argument("jobs", nargs=-1)
@click.option(
    "--runs",
    type=click.IntRange(1, 1000),
    help="Finished runs per job (default: WEBAPP_RUNS_COMPARED).",
)
@click.pass_obj
def digest(info, jobs: tuple[str, ...], runs: int | None) -> None:
    """Make the digests of the JOBS' last finished runs (every job when none is named). Runs
    digested already cost nothing; a progress bar shows on a terminal."""
    app: Flask = info.load_app()
    settings = services_of(app).settings
    size = runs or settings.runs_compared
    with app.app_context():
        api = Session(services_of(app).client, CallScope.starting_now(RUN_SECONDS))
        try:
            names = list(jobs) or every_job(api)
        except UpstreamError as error:
            raise click.ClickException(f"The jobs could not be listed: {error}") from None
        made = failed = 0
        for name in names:
            try:
                todo = finished_runs(api, name, size)
            except UpstreamError as error:
                click.echo(f"{name}: its runs could not be listed ({error})", err=True)
                failed += 1
                continue
            kept = digests().many(name, [run.id for run in todo])
            missing = [run for run in todo if run.id not in kept]
            label = f"{name}: {len(missing)} of {len(todo)} runs to digest"
            with click.progressbar(missing, label=label, file=sys.stderr) as bar:
                for run in bar:
                    session = Session(services_of(app).client, CallScope.starting_now(RUN_SECONDS))
                    try:
                        fill(session, digests(), name, [run], lifetime=settings.cache_final_ttl)
                        made += 1
                    except UpstreamError as error:
                        click.echo(f"\n{name}/{run.id}: not digested ({error})", err=True)
                        failed += 1
        click.echo(f"{made} digests made, {failed} failures.")
        if failed:
            sys.exit(1)


def every_job(api: Session) -> list[str]:
    """The names of the workspace's jobs, every page of them."""
    names: list[str] = []
    cursor = ""
    while True:
        page = api.list_jobs(PageRequest(JOBS_PAGE.sort, "", JOBS_PAGE.limit, cursor))
        names.extend(job.name for job in page.items if job.name)
        if not page.has_more or not page.next_cursor:
            return names
        cursor = page.next_cursor
