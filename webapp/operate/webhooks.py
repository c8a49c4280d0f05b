"""The watcher's webhooks: which URLs, what each is sent (Slack's incoming-webhook body or plain
JSON), and the POST itself. A webhook URL is a secret (it lets anyone post to the channel): it
is never stored, logged or shown; a label (its host and a short digest) stands for it."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..common.config import ConfigError

FORMATS = ("json", "slack")
SLACK_HOSTS = ("hooks.slack.com",)
TIMEOUT_SECONDS = 10.0
GROUPS_SHOWN = 5  # failure groups a Slack message lists; the JSON body has them all


@dataclass(frozen=True)
class Webhook:
    url: str
    format: str  # "json" or "slack"

    @property
    def label(self) -> str:
        """What stands for the URL in the store, the log and /readyz."""
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:10]
        return f"{urlsplit(self.url).hostname}#{digest}"


class DeliveryFailed(Exception):
    """The webhook did not take the message; the text says why, without its URL."""


def parse_webhooks(raw: str) -> tuple[Webhook, ...]:
    """WEBAPP_WEBHOOK_URLS: URLs separated by commas or spaces, each optionally prefixed with
    its format, `slack:` or `json:`; without one, Slack's own hosts get Slack's body."""
    hooks = []
    for item in raw.replace(",", " ").split():
        kind, _, rest = item.partition(":")
        if kind in FORMATS and rest.startswith(("http://", "https://")):
            url, format_ = rest, kind
        else:
            url = item
            format_ = "slack" if urlsplit(url).hostname in SLACK_HOSTS else "json"
        if not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
            # Only the scheme is quoted: the rest may be the secret part.
            raise ConfigError(
                f"WEBAPP_WEBHOOK_URLS: each entry must be an http(s) URL, optionally prefixed "
                f"slack: or json: (one starts with {item.partition(':')[0][:10]!r})"
            )
        hooks.append(Webhook(url, format_))
    return tuple(hooks)


def body(hook: Webhook, message: dict[str, Any]) -> bytes:
    """The message as the webhook wants it."""
    if hook.format == "slack":
        return json.dumps({"text": slack_text(message)}).encode()
    return json.dumps(message).encode()


def slack_text(message: dict[str, Any]) -> str:
    counts = message["counts"]
    if message["kind"] == "slower":
        run = f"*{_esc(message['job'])}* run `{_esc(message['execution'])}`"
        what = " and ".join(message.get("slower", [])) or "its time"
        head = f"🐢 {run}: {_esc(what)} above the usual (the p95 of the job's recent runs)"
    else:
        head = (
            f"❌ *{_esc(message['job'])}* run `{_esc(message['execution'])}` "
            f"{_esc(message['status'])}: {counts['failed']} of {counts['total']} tasks failed "
            f"({counts['succeeded']} succeeded, {counts['cancelled']} cancelled, "
            f"{counts['retried']} retried)"
        )
    lines = [head]
    for group in message["failure_groups"][:GROUPS_SHOWN]:
        mark = ""
        if group.get("mark") == "new":
            mark = f" _new (not in the last {group['runs_read']} runs)_"
        elif group.get("mark"):
            seen, read = group["seen_in_runs"], group["runs_read"]
            mark = f" _recurring: also in {seen} of the last {read} runs_"
        lines.append(
            f"• {group['count']} × {_esc(group['reason'] or group['outcome'])}: "
            f"{_esc(group['pattern'])}{mark}"
        )
    hidden = len(message["failure_groups"]) - GROUPS_SHOWN
    if hidden > 0:
        lines.append(f"• and {hidden} more causes")
    if message["url"]:
        lines.append(f"<{message['url']}|Open the run>")
    return "\n".join(lines)


def _esc(text: str) -> str:
    """Text as Slack's markup shows it literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Poster:
    """POSTs messages to webhooks over one connection pool; a 2xx answer is delivery."""

    def __init__(self, hooks: tuple[Webhook, ...], transport: httpx.BaseTransport | None = None):
        self._http = httpx.Client(
            timeout=TIMEOUT_SECONDS, follow_redirects=False, transport=transport
        )
        hide_urls(hooks)

    def send(self, hook: Webhook, content: bytes) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "blaxel-jobs-watch/0.1"}
        try:
            answer = self._http.post(hook.url, content=content, headers=headers)
        except httpx.HTTPError as error:
            raise DeliveryFailed(f"no answer ({type(error).__name__})") from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryFailed(f"answered {answer.status_code}")

    def close(self) -> None:
        self._http.close()


class _HideUrls(logging.Filter):
    """httpx logs every URL it posts to: each webhook's becomes its label."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = message
        for url, label in self.labels.items():
            cleaned = cleaned.replace(url, f"[webhook {label}]")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_hidden = _HideUrls()


def hide_urls(hooks: tuple[Webhook, ...]) -> None:
    _hidden.labels.update({hook.url: hook.label for hook in hooks})
    logger = logging.getLogger("httpx")
    if _hidden not in logger.filters:
        logger.addFilter(_hidden)
