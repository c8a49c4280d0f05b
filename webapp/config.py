"""Settings from the environment (or a test mapping), checked once at start-up."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_API_URL = "https://api.blaxel.ai/v0"
DEFAULT_SCAN_BUDGET = 10
MAX_SCAN_BUDGET = 1000


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
    # Upstream answers are shared for cache_ttl seconds (0: not at all), in Redis if a URL is set.
    cache_url: str = field(default="", repr=False)
    cache_ttl: float = 5.0
    cache_final_ttl: float = 600.0

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
        raw_budget = str(source.get("WEBAPP_SCAN_BUDGET") or DEFAULT_SCAN_BUDGET).strip()
        if (
            not (raw_budget.isascii() and raw_budget.isdigit())
            or not 1 <= int(raw_budget) <= MAX_SCAN_BUDGET
        ):
            raise ConfigError(
                f"WEBAPP_SCAN_BUDGET must be a whole number of upstream calls from 1 to "
                f"{MAX_SCAN_BUDGET}, not {raw_budget!r}"
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
            scan_budget=int(raw_budget),
            cache_url=cache_url,
            cache_ttl=_seconds(source, "WEBAPP_CACHE_TTL", 5.0),
            cache_final_ttl=_seconds(source, "WEBAPP_CACHE_FINAL_TTL", 600.0),
        )


def _seconds(source: Mapping[str, Any], name: str, default: float) -> float:
    raw = source.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 <= seconds <= 86400:
        raise ConfigError(f"{name} must be between 0 and 86400 seconds")
    return seconds
