"""gunicorn's configuration for the production server (`blaxel-jobs serve`, `make serve`).

Settings come from the environment (docs/operations.md); this module fits gunicorn to the app."""

import os
import sys

from webapp.web.production import (
    DEFAULT_BIND,
    LOOP_TIMEOUT,
    logging_config,
    shutdown_grace,
    start_problems,
    start_warnings,
)

wsgi_app = "webapp.web.production:production_app()"
bind = [os.environ.get("WEBAPP_BIND") or DEFAULT_BIND]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# Each connection is a greenlet, not a thread: a client that sends or reads slowly holds a few
# kilobytes while everyone else is served. Waiting on the API, Redis or a client yields.
worker_class = "gevent"
# gevent patches each worker before it loads the app, but this module has made the master import
# the app's modules already: thread pools, queues and locks belong in create_app(), not at import.
worker_connections = int(os.environ.get("WEBAPP_CONNECTIONS") or 1000)
timeout = LOOP_TIMEOUT
graceful_timeout = shutdown_grace(os.environ)
# Also the time a client gets to send a request's headers: a connection that trickles them is
# closed after it.
keepalive = 5
# Our own structured line per request replaces the access log (whose URLs carry cursors).
accesslog = None
logconfig_dict = logging_config(os.environ.get("WEBAPP_LOG_LEVEL") or "INFO")
forwarded_allow_ips = os.environ.get("WEBAPP_TRUSTED_PROXIES") or "127.0.0.1,::1"
# No runtime control socket (gunicorn 25.1+): its default path in the home folder would be shared
# by every server this account runs.
control_socket_disable = True


def on_starting(server):
    problems = start_problems(os.environ, server.cfg.bind)
    if problems:
        sys.exit("Not starting:\n- " + "\n- ".join(problems))
    for warning in start_warnings(os.environ, server.cfg.bind):
        server.log.warning(warning)
