"""Settings from the environment (or a test mapping), checked once at start-up."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_API_URL = "https://api.blaxel.ai/v0"
DEFAULT_SCAN_BUDGET = 10
MAX_SCAN_BUDGET = 1000
AUTH_MODES = ("none", "basic", "proxy")
DEFAULT_PROXY_HEADER = "X-Forwarded-Email"  # what oauth2-proxy sends
DEFAULT_SIGNIN_FAILURES = 5
MAX_COUNT = 1000
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(RuntimeError):
    """A setting is present but unusable; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    api_url: str = DEFAULT_API_URL
    # repr=False: settings may be logged or shown in a debugger, the token must not be.
    api_key: str = field(default="", repr=False)
    workspace: str = ""
    timeout: float = 10.0
    # Signs what the app hands to browsers; random per process unless configured.
    secret_key: str = field(default="", repr=False)
    # Upstream calls one filtered task page may spend walking the cursor chain.
    scan_budget: int = DEFAULT_SCAN_BUDGET
    # Who may read what the token reads: nobody checked, a users file, or a sign-in proxy.
    auth: str = "none"
    users_file: str = ""
    proxy_header: str = DEFAULT_PROXY_HEADER
    trusted_proxies: tuple[Network, ...] = ()
    https: bool = False
    # Upstream answers are shared for cache_ttl seconds (0: not at all), in Redis if a URL is set.
    cache_url: str = field(default="", repr=False)
    cache_ttl: float = 5.0
    cache_final_ttl: float = 600.0
    # Bytes of answers this process's cache may hold (Redis bounds its own with maxmemory).
    cache_max_bytes: int = 64 * 1024 * 1024
    # Seconds a streamed export may take in all; each of its calls still has BLAXEL_TIMEOUT.
    export_seconds: float = 600.0
    # Failed sign-ins allowed per client address and per user name within signin_window seconds;
    # more are refused before the password is hashed.
    signin_failures: int = DEFAULT_SIGNIN_FAILURES
    signin_window: float = 300.0
    # The longest one 429 from Blaxel holds back every call, whatever its Retry-After asks.
    rate_limit_max_hold: float = 60.0
    # Where what every worker shares is kept when no Redis is set (see store.data_dir).
    data_dir: str = ""
    # Exports (whole executions walked) running at once per person, and per worker process.
    exports_per_person: int = 2
    exports_per_worker: int = 4
    # Heavy pages (a whole execution walked or drawn) loading at once per person and per worker.
    heavy_pages_per_person: int = 2
    heavy_pages_per_worker: int = 2
    # The key that may cancel executions (scope jobs:delete); none: nobody can (docs/operating.md).
    write_api_key: str = field(default="", repr=False)
    # Proxy mode: the header naming the person's groups, and the group whose members may cancel.
    groups_header: str = "X-Forwarded-Groups"
    operator_group: str = ""
    # Runs remembered (webapp/runs): the runs a failure is compared with, digests kept per job.
    runs_compared: int = 20
    runs_kept: int = 200

    @property
    def demo(self) -> bool:
        return not self.api_key

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None) -> Settings:
        source: dict[str, Any] = dict(os.environ)
        source.update(overrides or {})
        raw_timeout = str(source.get("BLAXEL_TIMEOUT") or "10")
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise ConfigError(
                f"BLAXEL_TIMEOUT must be a number of seconds, not {raw_timeout!r}"
            ) from None
        if not 0 < timeout <= 300:
            raise ConfigError("BLAXEL_TIMEOUT must be more than 0 and at most 300 seconds")
        api_url = str(source.get("BLAXEL_API_URL") or DEFAULT_API_URL)
        if not api_url.startswith(("https://", "http://")):
            raise ConfigError("BLAXEL_API_URL must be an http(s) URL such as " + DEFAULT_API_URL)
        scan_budget = _count(
            source, "WEBAPP_SCAN_BUDGET", DEFAULT_SCAN_BUDGET, MAX_SCAN_BUDGET, " of upstream calls"
        )
        auth = str(source.get("WEBAPP_AUTH") or "none").strip().lower()
        if auth not in AUTH_MODES:
            raise ConfigError(f"WEBAPP_AUTH must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
        users_file = str(source.get("WEBAPP_USERS_FILE") or "").strip()
        if auth == "basic" and not users_file:
            raise ConfigError(
                "WEBAPP_AUTH=basic needs WEBAPP_USERS_FILE, the file of users "
                "(add one with: flask --app webapp add-user NAME)"
            )
        trusted_proxies = _networks(str(source.get("WEBAPP_TRUSTED_PROXIES") or ""))
        if auth == "proxy" and not trusted_proxies:
            raise ConfigError(
                "WEBAPP_AUTH=proxy needs WEBAPP_TRUSTED_PROXIES, the addresses of the sign-in "
                "proxy (e.g. 127.0.0.1): the identity header is believed from them only"
            )
        write_api_key = str(source.get("BLAXEL_WRITE_API_KEY") or "").strip()
        if write_api_key and write_api_key == str(source.get("BLAXEL_API_KEY") or "").strip():
            raise ConfigError(
                "BLAXEL_WRITE_API_KEY must be another key than BLAXEL_API_KEY: the read key "
                "is never used to write (see docs/operating.md)"
            )
        cache_url = str(source.get("WEBAPP_CACHE_URL") or "").strip()
        if cache_url and not cache_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                "WEBAPP_CACHE_URL must be a Redis URL such as redis://localhost:6379/0"
            )
        return cls(
            api_url=api_url,
            api_key=str(source.get("BLAXEL_API_KEY") or "").strip(),
            workspace=str(source.get("BLAXEL_WORKSPACE") or "").strip(),
            timeout=timeout,
            secret_key=str(source.get("WEBAPP_SECRET_KEY") or "") or secrets.token_hex(32),
            scan_budget=scan_budget,
            auth=auth,
            users_file=users_file,
            proxy_header=str(source.get("WEBAPP_PROXY_HEADER") or DEFAULT_PROXY_HEADER).strip(),
            trusted_proxies=trusted_proxies,
            https=flag(source.get("WEBAPP_HTTPS")),
            cache_url=cache_url,
            cache_ttl=_seconds(source, "WEBAPP_CACHE_TTL", 5.0),
            cache_final_ttl=_seconds(source, "WEBAPP_CACHE_FINAL_TTL", 600.0),
            cache_max_bytes=_count(source, "WEBAPP_CACHE_MAX_MB", 64, 65536, " of MiB") * 1024**2,
            export_seconds=_seconds(source, "WEBAPP_EXPORT_SECONDS", 600.0, low=1),
            signin_failures=_count(source, "WEBAPP_SIGNIN_FAILURES", DEFAULT_SIGNIN_FAILURES),
            signin_window=_signin_window(source),
            rate_limit_max_hold=_max_hold(source),
            data_dir=str(source.get("WEBAPP_DATA_DIR") or "").strip(),
            exports_per_person=_count(source, "WEBAPP_EXPORTS_PER_PERSON", 2),
            exports_per_worker=_count(source, "WEBAPP_EXPORTS_PER_WORKER", 4),
            heavy_pages_per_person=_count(source, "WEBAPP_HEAVY_PAGES_PER_PERSON", 2),
            heavy_pages_per_worker=_count(source, "WEBAPP_HEAVY_PAGES_PER_WORKER", 2),
            write_api_key=write_api_key,
            groups_header=str(source.get("WEBAPP_PROXY_GROUPS_HEADER") or "X-Forwarded-Groups"),
            operator_group=str(source.get("WEBAPP_OPERATOR_GROUP") or "").strip(),
            runs_compared=_count(source, "WEBAPP_RUNS_COMPARED", 20, 200, " of runs"),
            runs_kept=_count(source, "WEBAPP_RUNS_KEPT", 200, 100_000, " of runs"),
        )


def _seconds(source: Mapping[str, Any], name: str, default: float, low: float = 0) -> float:
    raw = source.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not low <= seconds <= 86400:
        raise ConfigError(f"{name} must be between {low:g} and 86400 seconds")
    return seconds


def flag(value: Any) -> bool:
    """An on/off environment variable: 1, true, yes or on."""
    return str(value or "").strip().lower() in {"1", "true", "yes", "on"}


def _networks(raw: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR ranges, e.g. "127.0.0.1, 10.0.0.0/8"."""
    networks = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"WEBAPP_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR range"
            ) from None
    return tuple(networks)


def _count(
    source: Mapping[str, Any], name: str, default: int, high: int = MAX_COUNT, unit: str = ""
) -> int:
    """A whole number from 1 to `high`; `unit` says what it counts, for the message."""
    raw = str(source.get(name) or default).strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number{unit} from 1 to {high}, not {raw!r}")
    return int(raw)


def _signin_window(source: Mapping[str, Any]) -> float:
    window = _seconds(source, "WEBAPP_SIGNIN_WINDOW", 300.0)
    if window < 1:
        raise ConfigError("WEBAPP_SIGNIN_WINDOW must be at least 1 second")
    return window


def _max_hold(source: Mapping[str, Any]) -> float:
    hold = _seconds(source, "WEBAPP_RATE_LIMIT_MAX_HOLD", 60.0, low=1)
    if hold > 300:
        raise ConfigError("WEBAPP_RATE_LIMIT_MAX_HOLD must be between 1 and 300 seconds")
    return hold
