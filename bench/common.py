"""What the benchmark's parts share: the execution they measure, how a verdict reads."""

from __future__ import annotations

TOKEN = "bench-token"  # noqa: S105 - the simulator accepts any token
JOB, EXECUTION = "nightly-embeddings", "exec-5k-embeddings"
API_HEADERS = {"Authorization": f"Bearer {TOKEN}", "Blaxel-Version": "2026-04-28"}


def tasks_path(job: str = JOB, execution: str = EXECUTION) -> str:
    return f"/jobs/{job}/executions/{execution}/tasks"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"
