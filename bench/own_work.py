"""The app's own work for a 200-task fragment, against a floor measured in the same process.

The floor is a reference renderer: the same 200 tasks' visible fields (name and link, status badge
with its shape, three times as <time> elements with the exact time, duration, retries, key
condition) through a minimal Jinja loop straight over the parsed JSON. The app's side is the whole
request (routing, parsing the URL, models, the rows template, headers), its upstream answer
replayed from memory so that no wait is counted.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment

from bench.common import median_ms
from bench.replay import replaying

SHAPES = {"succeeded": "✓", "failed": "✕", "running": "▶", "pending": "…", "cancelled": "⊘"}
SHAPES |= {"reconciling": "↻", "unspecified": "?"}
REFERENCE_ROWS = Path(__file__).with_name("reference_rows.html")


def reference_renderer() -> Callable[[bytes], str]:
    environment = Environment(autoescape=True)
    now = datetime.now(UTC)

    def ago(text: str) -> str:
        return f"{int((now - datetime.fromisoformat(text)).total_seconds() // 60)} min ago"

    def took(metadata: dict) -> str:
        if not metadata.get("startedAt") or not metadata.get("completedAt"):
            return ""
        seconds = (
            datetime.fromisoformat(metadata["completedAt"])
            - datetime.fromisoformat(metadata["startedAt"])
        ).total_seconds()
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"

    def key(conditions: list) -> dict | None:
        errors = [c for c in conditions if c.get("severity") == "Error"]
        return (errors or conditions or [None])[-1]

    environment.filters.update(ago=ago, took=took, key=key)
    template = environment.from_string(REFERENCE_ROWS.read_text())
    base = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks/"
    return lambda raw: template.render(tasks=json.loads(raw)["data"], base=base, shapes=SHAPES)


def own_work(answers: dict[str, bytes], url: str, repeat: int) -> dict[str, float]:
    """The reference and the app's whole fragment request, in one process, their samples taken
    in turn so that the machine's ups and downs fall on both; `answers` are the recorded
    upstream answers, the task list's under the path ending "/tasks". CPU time of this process:
    the machine is shared."""
    from webapp.blaxel import Page, Task
    from webapp.blaxel.client import decode

    raw = next(body for path, body in answers.items() if path.endswith("/tasks"))
    reference = reference_renderer()
    client = replaying(answers).test_client()
    headers = {"HX-Request": "true", "Accept-Encoding": "identity"}

    def app() -> None:
        client.get(url, headers=headers).get_data()

    def timed(call) -> float:
        started = time.process_time()
        call()
        return (time.process_time() - started) * 1000

    for _ in range(3):
        reference(raw), app()
    pairs = [(timed(lambda: reference(raw)), timed(app)) for _ in range(repeat)]
    return {
        "reference": statistics.median(ref for ref, _ in pairs),
        "app": statistics.median(ours for _, ours in pairs),
        "ratio": statistics.median(ours / ref for ref, ours in pairs),
        "models": median_ms(lambda: decode(raw, Page[Task]), repeat),
        "json": median_ms(lambda: json.loads(raw), repeat),
    }
