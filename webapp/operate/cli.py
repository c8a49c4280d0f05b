"""`blaxel-jobs watch`: the watcher as a console command (see watch.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..common.services import services_of
from ..common.urls import urls
from ..store import open_outbox
from .marks import Marks
from .watch import Watcher, WatchSettings, serve_readiness
from .webhooks import body


def run_link(app: Flask, public_url: str) -> Callable[[str, str], str]:
    """A run's page: WEBAPP_PUBLIC_URL and the app's own path to it (the path alone without)."""

    def link(job: str, execution: str) -> str:
        with app.test_request_context("/"):
            path = urls.execution(job, execution)
        return public_url + path

    return link


def watcher_for(app: Flask, now: Callable[[], float] = time.time, **overrides) -> Watcher:
    """A watcher reading through the app's client and settings, its outbox in the app's store."""
    settings = WatchSettings.load({**_environment(), **app.config, **overrides})
    app_settings = services_of(app).settings
    return Watcher(
        services_of(app).client,
        open_outbox(app_settings),
        settings,
        app_settings,
        marks=Marks(services_of(app).digests, app_settings.runs_compared),
        link=run_link(app, settings.public_url),
        now=now,
    )


def _environment() -> dict[str, str]:
    return dict(os.environ)


@click.command("watch")
@click.option(
    "--once", is_flag=True, help="One pass (read, post what is due), then exit: for cron."
)
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and keep nothing.")
@with_appcontext
def watch(once: bool, dry_run: bool) -> None:
    """Post a message to each of WEBAPP_WEBHOOK_URLS once for every execution that ends failed
    (docs/operating.md). Serves /healthz and /readyz on WEBAPP_WATCH_BIND while it runs."""
    app = current_app._get_current_object()  # noqa: SLF001 - the app itself, for url_for
    watcher = watcher_for(app)
    settings = watcher.settings
    if dry_run:
        for message in watcher.preview():
            for hook in settings.webhooks or ():
                click.echo(f"to webhook {hook.label} ({hook.format}):")
                click.echo(body(hook, message).decode())
            if not settings.webhooks:
                click.echo(json.dumps(message, indent=2))
        return
    if not settings.webhooks:
        raise click.UsageError("Set WEBAPP_WEBHOOK_URLS to the webhooks to post to.")
    if not settings.public_url:
        click.echo("WEBAPP_PUBLIC_URL is not set: messages link to the run's path only.", err=True)
    if once:
        added, delivered = watcher.run_once()
        click.echo(f"{added} new messages, {delivered} delivered")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = serve_readiness(watcher, settings.bind)
    click.echo(f"Watching every {settings.interval:g} s; /readyz on {settings.bind}")
    try:
        watcher.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
