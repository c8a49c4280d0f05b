"""`blaxel-jobs`: the app's console command, the same in a checkout and in an installed wheel."""

from __future__ import annotations

import os
import sys

import click
from flask.cli import ScriptInfo

from ..operate.cli import watch
from ..runs.cli import digest
from .app import create_app
from .auth import add_user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(context: click.Context) -> None:
    """Blaxel jobs: a web front end for Blaxel batch jobs.

    Settings come from the environment (BLAXEL_API_KEY, BLAXEL_WORKSPACE, WEBAPP_...; see
    docs/operations.md). Without BLAXEL_API_KEY the app shows demo data from its built-in
    simulator."""
    # What add-user (a Flask command) reads its settings from, as under `flask --app webapp`.
    context.obj = ScriptInfo(create_app=create_app, set_debug_flag=False)


main.add_command(add_user)
main.add_command(watch)
main.add_command(digest)


@main.command()
def serve() -> None:
    """The production server: gunicorn with the packaged configuration (what `make serve` runs).

    Listens on WEBAPP_BIND (default 127.0.0.1:8000) and needs WEBAPP_SECRET_KEY. Refuses to
    start, saying why, when the settings are unusable or would expose the token."""
    command = [sys.executable, "-m", "gunicorn", "-c", "python:webapp.web.gunicorn_config"]
    os.execv(sys.executable, command)  # noqa: S606 - our own interpreter and gunicorn


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def demo(host: str, port: int) -> None:
    """Try the app on demo data: Flask's development server and the built-in simulator of the
    Blaxel API (BLAXEL_API_KEY is ignored). Not for a team: use `serve`."""
    create_app({"BLAXEL_API_KEY": ""}).run(host=host, port=port)


if __name__ == "__main__":
    main()
