"""Who may read what the token reads: nobody checked, a users file (basic), or a sign-in proxy."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, g, request
from flask.cli import with_appcontext
from werkzeug.wrappers import Response as BaseResponse

from ..common import services
from ..common.config import Settings
from ..store import Events, open_events
from .errorpage import error_page
from .users import MAX_NAME_LENGTH, Busy, UsersFile, valid_name, write_user

log = logging.getLogger(__name__)

# Liveness and readiness answer load balancers, which carry no credentials; assets are public.
OPEN_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "static"})
REALM = "Blaxel jobs"
# Said at start (production.start_warnings) and at the first forwarded request.
BEHIND_A_PROXY = (
    "WEBAPP_AUTH=basic without WEBAPP_TRUSTED_PROXIES: behind a reverse proxy or load balancer, "
    "every person arrives from its address, so a few wrong guesses by anyone pause everyone's "
    "sign-in. Set WEBAPP_TRUSTED_PROXIES to the proxy's addresses; the client it names in "
    "X-Forwarded-For is then counted."
)
# A verified name and password pass without a hash this long after their last use, so a page's
# htmx requests skip it, and guessers on the person's name or address cannot slow them.
REMEMBER_SECONDS = 300


class SignInThrottle:
    """Failed sign-ins per key (a client address, a user name), counted in the store that every
    worker process shares. Once a key has `limit` failures within `window` seconds, attempts
    under it are refused, before any hashing, until the oldest of those leaves the window.
    Refused attempts are not counted, so the wait does not grow.

    A name and password verified recently pass before any of this, whichever worker answers:
    the store keeps a keyed digest of them and of the user's hash (so a changed password no
    longer passes), never the password or a digest anyone without the secret key could test."""

    def __init__(
        self, events: Events, limit: int, window: float, now: Callable[[], float], secret: str
    ) -> None:
        self.events = events
        self.limit = limit
        self.window = window
        self.now = now
        self._secret = secret.encode()

    def retry_after(self, keys: Iterable[str]) -> int:
        """Whole seconds until every key may try again; 0 if they may now."""
        now = self.now()
        wait = 0.0
        for key in keys:
            failures = [
                at
                for at in self.events.since(_counted(key), now - self.window)
                if at > now - self.window
            ]
            if len(failures) >= self.limit:
                wait = max(wait, failures[-self.limit] + self.window - now)
        return math.ceil(wait)

    def failed(self, keys: Iterable[str]) -> None:
        now = self.now()
        for key in keys:
            self.events.add(_counted(key), now, self.window)

    def forget(self, key: str) -> None:
        self.events.drop(_counted(key))

    def vouched(self, name: str, password: str, stored: str | None) -> bool:
        """Whether this name and password were verified against the user's current hash within
        REMEMBER_SECONDS of their last use; a use past half of that is noted again."""
        if stored is None:
            return False
        now = self.now()
        key = self._verified_key(name, password, stored)
        uses = self.events.since(key, now - REMEMBER_SECONDS)
        if not uses:
            return False
        if uses[-1] <= now - REMEMBER_SECONDS / 2:
            self.events.add(key, now, REMEMBER_SECONDS)
        return True

    def verified(self, name: str, password: str, stored: str) -> None:
        self.events.add(self._verified_key(name, password, stored), self.now(), REMEMBER_SECONDS)

    def _verified_key(self, name: str, password: str, stored: str) -> str:
        signed = f"{name}\0{password}\0{stored}".encode()
        return "signin-verified:" + hmac.new(self._secret, signed, hashlib.sha256).hexdigest()


def _counted(key: str) -> str:
    """A throttle key as stored: of fixed length, whatever name a guesser sends."""
    return "signin-failures:" + hashlib.sha256(key.encode()).hexdigest()


def client_address(settings: Settings) -> str:
    """Who is guessing: the peer, or the client a trusted proxy names in X-Forwarded-For (its last
    entry, the one the proxy added). An IPv6 client counts as its /64, which one host holds."""
    peer = _address(request.remote_addr)
    forwarded = request.headers.get("X-Forwarded-For", "").rpartition(",")[2]
    if peer is not None and forwarded and _trusted(peer, settings):
        peer = _address(forwarded.strip()) or peer
    if peer is None:
        return "unknown"
    if peer.version == 6:
        return str(ipaddress.ip_network(f"{peer}/64", strict=False))
    return str(peer)


def _address(raw: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw or "")
    except ValueError:
        return None


def _trusted(peer: ipaddress.IPv4Address | ipaddress.IPv6Address, settings: Settings) -> bool:
    return any(peer in network for network in settings.trusted_proxies)


def _refuse_basic() -> BaseResponse:
    response = error_page(
        401,
        "Sign in to see Blaxel jobs",
        "This app shows what its Blaxel API key can read, so it asks who you are. "
        "Ask whoever runs it for an account.",
    )
    response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


def _refuse_throttled(seconds: int) -> BaseResponse:
    response = error_page(
        429,
        "Too many failed sign-ins",
        f"Sign-in was refused too many times from here or for this name, so it is paused "
        f"for {seconds} seconds. Then try again, with care: each failure counts.",
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def _refuse_busy() -> BaseResponse:
    response = error_page(
        503,
        "Too many sign-ins at once",
        "The server is checking other sign-ins right now. Try again in a moment.",
    )
    response.headers["Retry-After"] = "2"
    return response


def _sign_in_basic(
    users: UsersFile, throttle: SignInThrottle, settings: Settings
) -> str | BaseResponse:
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        return _refuse_basic()
    name, password = credentials.username or "", credentials.password or ""
    stored = users.hashes().get(name)
    # A person whose password was just verified is let in before any throttle: guessers on
    # their name or address cannot slow them.
    if throttle.vouched(name, password, stored):
        return name
    keys = (f"address {client_address(settings)}", f"name {name}")
    wait = throttle.retry_after(keys)
    if wait:
        return _refuse_throttled(wait)
    try:
        verified = users.check(name, password)
    except Busy:
        return _refuse_busy()
    if not verified or stored is None:
        throttle.failed(keys)
        return _refuse_basic()
    throttle.forget(keys[1])
    throttle.verified(name, password, stored)
    return name


def _identity_from_proxy(settings: Settings) -> str | BaseResponse:
    peer = _address(request.remote_addr)
    if peer is None or not _trusted(peer, settings):
        # The header is ignored: anyone could send it.
        return error_page(
            403,
            "Sign in through the team's sign-in proxy",
            "This app only answers requests that come through its sign-in proxy, which "
            "tells it who you are. Use the address your team gave you for it.",
        )
    values = request.headers.getlist(settings.proxy_header)
    # Repeated headers arrive joined with commas: which of them the proxy meant is unknowable.
    if len(values) > 1 or any("," in value for value in values):
        return error_page(
            403,
            "The sign-in proxy named more than one person",
            f"The request came with several {settings.proxy_header} values, so the app cannot "
            f"tell who you are. Ask whoever runs this app to check the proxy: it must send "
            f"exactly one, and replace any the browser sent.",
        )
    identity = values[0].strip() if values else ""
    if not identity or len(identity) > 256 or not identity.isprintable():
        return error_page(
            403,
            "The sign-in proxy did not say who you are",
            f"The request came through the sign-in proxy without a usable "
            f"{settings.proxy_header} header. Ask whoever runs this app to check the proxy.",
        )
    return identity


def register(
    app: Flask, settings: Settings, clock: Callable[[], datetime], hash_wait: float = 2.0
) -> None:
    identify = lambda: _identity_from_proxy(settings)  # noqa: E731
    if settings.auth == "basic":
        users = UsersFile(settings.users_file, hash_wait)
        services.provide(app, users=users)
        # Opened here, so a data file the app cannot read stops it at start, naming the file.
        events = open_events(settings)
        throttle = SignInThrottle(
            events,
            settings.signin_failures,
            settings.signin_window,
            lambda: clock().timestamp(),
            settings.secret_key,
        )
        forwarded_seen = threading.Event()

        def identify() -> str | BaseResponse:
            forwarded = "X-Forwarded-For" in request.headers
            if forwarded and not settings.trusted_proxies and not forwarded_seen.is_set():
                forwarded_seen.set()
                log.warning(BEHIND_A_PROXY)
            return _sign_in_basic(users, throttle, settings)

    @app.before_request
    def check_access() -> BaseResponse | None:
        g.identity = ""
        if settings.auth == "none" or request.endpoint in OPEN_ENDPOINTS:
            return None
        identity = identify()
        if not isinstance(identity, str):
            return identity
        g.identity = identity
        return None

    app.cli.add_command(add_user)


@click.command("add-user")
@click.argument("name")
@click.password_option(help="The user's password (asked for when not given).")
@click.option(
    "--operator", is_flag=True, help="May cancel executions (needs BLAXEL_WRITE_API_KEY)."
)
@with_appcontext
def add_user(name: str, password: str, operator: bool) -> None:
    """Add a user to WEBAPP_USERS_FILE, or change their password and role (a viewer unless
    --operator is given)."""
    path = services.settings().users_file
    if not path:
        raise click.UsageError("Set WEBAPP_USERS_FILE to the users file to write.")
    if not valid_name(name):
        raise click.BadParameter(
            f"at most {MAX_NAME_LENGTH} printable characters, no ':'", param_hint="NAME"
        )
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="password")
    added = write_user(Path(path), name, password, operator)
    role = "an operator" if operator else "a viewer"
    click.echo(f"{'Added' if added else 'Changed the password of'} {name} ({role}) in {path}")
