"""The users file of basic auth: `name:werkzeug-password-hash` lines (`:operator` after the hash
for those who may cancel executions), read so that a bad line or a file caught mid-write locks
nobody out, and checked so that hashing cannot swamp the server."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from werkzeug.security import check_password_hash, generate_password_hash

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 128
# Hashes checked at once per process (scrypt: about 120 ms of CPU and 32 MiB each).
HASH_CHECKS = 2
# What werkzeug writes: scrypt:N:r:p or pbkdf2:HASH:ITERATIONS, then $salt$hex-digest.
HASH_FORMAT = re.compile(
    r"(?P<method>scrypt(?::\d+:\d+:\d+)?|pbkdf2:(?P<digest>[a-z0-9_]+)(?::\d+)?)"
    r"\$[^$\s]+\$(?P<hex>[0-9a-f]+)"
)
SCRYPT_HEX_LENGTH = 128  # werkzeug's scrypt keys are 64 bytes

Result = TypeVar("Result")


def valid_name(name: str) -> bool:
    return (
        0 < len(name) <= MAX_NAME_LENGTH
        and ":" not in name
        and name == name.strip()
        and not any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in name)
    )


def usable_hash(password_hash: str) -> bool:
    """A whole werkzeug hash: a line cut short by a write in progress is not one."""
    found = HASH_FORMAT.fullmatch(password_hash)
    if not found:
        return False
    if found["digest"] is None:
        return len(found["hex"]) == SCRYPT_HEX_LENGTH
    try:
        return len(found["hex"]) == 2 * hashlib.new(found["digest"]).digest_size
    except ValueError:  # a digest this Python's hashlib does not have
        return False


OPERATOR = ":operator"  # after the hash: the user may cancel executions


def parse_users(raw: bytes) -> tuple[dict[str, str], list[int], frozenset[str]]:
    """The users of a users file, the numbers of the lines that were skipped as unusable, and
    the names of the operators."""
    users, bad, operators = {}, [], set()
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        try:
            line = line_bytes.decode("utf-8").strip()
        except UnicodeDecodeError:
            bad.append(number)
            continue
        if not line or line.startswith("#"):
            continue
        name, _, password_hash = line.partition(":")
        operator = password_hash.endswith(OPERATOR)
        password_hash = password_hash.removesuffix(OPERATOR)
        if valid_name(name) and usable_hash(password_hash):
            users[name] = password_hash
            if operator:
                operators.add(name)
        else:
            bad.append(number)
    return users, bad, frozenset(operators)


def write_user(path: Path, name: str, password: str, operator: bool = False) -> bool:
    """Add or replace one user's hash and role, atomically; True if the user was new."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.partition(":")[0].strip() != name]
    kept.append(f"{name}:{generate_password_hash(password)}{OPERATOR if operator else ''}")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("\n".join(kept) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return len(kept) > len(lines)


class Busy(Exception):
    """Every hash check slot stayed taken while this one waited."""


class UsersFile:
    """The users file, re-read whenever it changes. A line that is not `name:hash` is skipped; a
    file that cannot be read, or has no usable line at all, leaves the last good table in place:
    a file caught mid-write or with a bad byte locks nobody out. Deleting it lets nobody in."""

    def __init__(self, path: str, hash_wait: float) -> None:
        self.path = Path(path)
        self.hash_wait = hash_wait
        self._stamp: tuple[int, int, int] | None = None
        self._hashes: dict[str, str] = {}
        self._operators: frozenset[str] = frozenset()
        self._problem = ""  # the last one logged, so a lasting problem is logged once
        self._lock = threading.Lock()
        self._hash_slots = threading.BoundedSemaphore(HASH_CHECKS)
        self._dummy = ""

    def hashes(self) -> dict[str, str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._warn("does not exist: nobody can sign in")
            self._stamp, self._hashes = None, {}
            return self._hashes
        except OSError as error:
            self._warn(f"cannot be read ({error.strerror}): keeping the users read before")
            return self._hashes
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            with self._lock:
                self._reload(stamp)
        return self._hashes

    def _reload(self, stamp: tuple[int, int, int]) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError as error:
            self._warn(f"cannot be read ({error.strerror}): keeping the users read before")
            return
        self._stamp = stamp
        users, bad, operators = parse_users(raw)
        for number in bad:
            # The line may hold a password hash: only its number is logged.
            log.warning("users file %s, line %d: not name:hash, skipped", self.path, number)
        if users or not self._hashes:
            self._hashes, self._operators, self._problem = users, operators, ""
        else:
            self._warn("has no usable line: keeping the users read before")

    def is_operator(self, name: str) -> bool:
        """Whether the users file, as last read, marks the user `:operator`."""
        self.hashes()
        return name in self._operators

    def _warn(self, problem: str) -> None:
        if problem != self._problem:
            log.warning("users file %s %s", self.path, problem)
            self._problem = problem

    def check(self, name: str, password: str) -> bool:
        """Hash the password against the user's: at most HASH_CHECKS at once, each waiting at
        most hash_wait seconds for its turn (else Busy), off gevent's event loop."""
        stored = self.hashes().get(name)
        if not self._hash_slots.acquire(timeout=self.hash_wait):
            raise Busy
        try:
            if stored is None and not self._dummy:
                self._dummy = off_the_event_loop(generate_password_hash, secrets.token_hex(8))
            # An unknown name costs the same hash, so timing does not tell which names exist.
            verified = off_the_event_loop(_matches, stored or self._dummy, password)
        finally:
            self._hash_slots.release()
        return stored is not None and verified


def _matches(stored: str, password: str) -> bool:
    try:
        return check_password_hash(stored, password)
    except ValueError:  # a method this werkzeug cannot compute
        return False


def off_the_event_loop(work: Callable[..., Result], *args: object) -> Result:
    """Run CPU-bound work (a password hash) where it stops no other request: under gevent, on a
    native thread of the hub's pool, since every greenlet of the worker would otherwise wait for
    it; elsewhere, right here on the request's own thread."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent

        return gevent.get_hub().threadpool.apply(work, args)
    return work(*args)
