"""Who may read what the token reads: nobody checked, a users file (basic), or a sign-in proxy."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import tempfile
import threading
import time
import unicodedata
from pathlib import Path

import click
from flask import Flask, current_app, g, request
from flask.cli import with_appcontext
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response as BaseResponse

from .config import Settings
from .handlers import error_page

log = logging.getLogger(__name__)

# Liveness and readiness answer load balancers, which carry no credentials; assets are public.
OPEN_ENDPOINTS = frozenset({"listings.healthz", "listings.readyz", "static"})
REALM = "Blaxel jobs"
MAX_NAME_LENGTH = 128
# A verified password is remembered this long, so a page's htmx requests skip the slow hash.
REMEMBER_SECONDS = 300


def valid_name(name: str) -> bool:
    return (
        0 < len(name) <= MAX_NAME_LENGTH
        and ":" not in name
        and name == name.strip()
        and not any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in name)
    )


class UsersFile:
    """`name:werkzeug-password-hash` lines, re-read whenever the file changes."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._hashes: dict[str, str] = {}
        self._lock = threading.Lock()
        self._remembered: dict[bytes, tuple[str, float]] = {}
        self._key = secrets.token_bytes(32)
        self._dummy = ""

    def hashes(self) -> dict[str, str]:
        try:
            stat = self.path.stat()
        except OSError:
            if self._stamp is not None or not self._hashes:
                log.warning("users file %s cannot be read: nobody can sign in", self.path)
            self._stamp, self._hashes = None, {}
            return self._hashes
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            with self._lock:
                self._hashes = parse_users(self.path.read_text(encoding="utf-8"))
                self._stamp = stamp
        return self._hashes

    def verify(self, name: str, password: str) -> bool:
        stored = self.hashes().get(name)
        key = hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        remembered = self._remembered.get(key)
        now = time.monotonic()
        if stored and remembered and remembered[0] == stored and remembered[1] > now:
            return True
        if stored is None:
            # Spend the same time on unknown names, so timing does not tell which names exist.
            self._dummy = self._dummy or generate_password_hash(secrets.token_hex(8))
            check_password_hash(self._dummy, password)
            return False
        if not check_password_hash(stored, password):
            return False
        if len(self._remembered) > 1024:
            self._remembered.clear()
        self._remembered[key] = (stored, now + REMEMBER_SECONDS)
        return True


def parse_users(text: str) -> dict[str, str]:
    users = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, password_hash = line.partition(":")
        if name and password_hash:
            users[name] = password_hash
    return users


def write_user(path: Path, name: str, password: str) -> bool:
    """Add or replace one user's hash, atomically; True if the user was new."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.partition(":")[0].strip() != name]
    kept.append(f"{name}:{generate_password_hash(password)}")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("\n".join(kept) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return len(kept) > len(lines)


def _refuse_basic() -> BaseResponse:
    response = error_page(
        401,
        "Sign in to see Blaxel jobs",
        "This app shows what its Blaxel API key can read, so it asks who you are. "
        "Ask whoever runs it for an account.",
    )
    response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


def _identity_from_proxy(settings: Settings) -> str | BaseResponse:
    try:
        peer = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        peer = None
    if peer is None or not any(peer in network for network in settings.trusted_proxies):
        # The header is ignored: anyone could send it.
        return error_page(
            403,
            "Sign in through the team's sign-in proxy",
            "This app only answers requests that come through its sign-in proxy, which "
            "tells it who you are. Use the address your team gave you for it.",
        )
    identity = request.headers.get(settings.proxy_header, "").strip()
    if not identity or len(identity) > 256 or not identity.isprintable():
        return error_page(
            403,
            "The sign-in proxy did not say who you are",
            f"The request came through the sign-in proxy without a usable "
            f"{settings.proxy_header} header. Ask whoever runs this app to check the proxy.",
        )
    return identity


def register(app: Flask, settings: Settings) -> None:
    users = UsersFile(settings.users_file) if settings.users_file else None

    @app.before_request
    def check_access() -> BaseResponse | None:
        g.identity = ""
        if settings.auth == "none" or request.endpoint in OPEN_ENDPOINTS:
            return None
        if settings.auth == "proxy":
            identity = _identity_from_proxy(settings)
            if not isinstance(identity, str):
                return identity
            g.identity = identity
            return None
        credentials = request.authorization
        if (
            users is None
            or credentials is None
            or credentials.type != "basic"
            or not users.verify(credentials.username or "", credentials.password or "")
        ):
            return _refuse_basic()
        g.identity = credentials.username or ""
        return None

    app.cli.add_command(add_user)


@click.command("add-user")
@click.argument("name")
@click.password_option(help="The user's password (asked for when not given).")
@with_appcontext
def add_user(name: str, password: str) -> None:
    """Add a user to WEBAPP_USERS_FILE, or change their password."""
    path = current_app.extensions["settings"].users_file
    if not path:
        raise click.UsageError("Set WEBAPP_USERS_FILE to the users file to write.")
    if not valid_name(name):
        raise click.BadParameter(
            f"at most {MAX_NAME_LENGTH} printable characters, no ':'", param_hint="NAME"
        )
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="password")
    added = write_user(Path(path), name, password)
    click.echo(f"{'Added' if added else 'Changed the password of'} {name} in {path}")
