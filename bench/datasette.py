"""Datasette serving the same 5,000 tasks from SQLite, beside the app on replayed answers: both
pages of 200 rows, each server alone in its process, over loopback, in the same run.

Datasette is installed only in the benchmark's own environment (`.venv-bench`, made by
`make bench`), never as a dependency of the app.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import tempfile
from pathlib import Path

import httpx

from bench.common import median_ms, verdict
from bench.replay import record
from bench.serving import free_port, running

ROOT = Path(__file__).resolve().parent.parent
DATASETTE = ROOT / ".venv-bench" / "bin" / "datasette"
COLUMNS = (
    "name",
    "status",
    "created_at",
    "started_at",
    "completed_at",
    "max_retries",
    "timeout",
    "key_reason",
    "key_message",
)


def task_table(tasks: list[dict], path: Path) -> None:
    """The tasks as one SQLite table, the visible fields of a row in its columns."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE tasks ({', '.join(COLUMNS)})")
        rows = []
        for task in tasks:
            metadata, spec = task.get("metadata") or {}, task.get("spec") or {}
            conditions = task.get("conditions") or []
            errors = [c for c in conditions if c.get("severity") == "Error"]
            key = (errors or conditions or [{}])[-1]
            rows.append(
                (
                    metadata.get("name"),
                    task.get("status"),
                    metadata.get("createdAt"),
                    metadata.get("startedAt"),
                    metadata.get("completedAt"),
                    spec.get("maxRetries"),
                    spec.get("timeout"),
                    key.get("reason"),
                    key.get("message"),
                )
            )
        places = ", ".join("?" * len(COLUMNS))
        db.executemany(f"INSERT INTO tasks VALUES ({places})", rows)  # noqa: S608 - no input
        db.commit()


def compare(report, answers: dict[str, bytes], tasks: list[dict], page: str, repeat: int) -> None:
    if not DATASETTE.exists():
        report.add("(h) against Datasette", "not run", "", "needs .venv-bench (`make bench`)")
        return
    with tempfile.TemporaryDirectory() as folder:
        database, recorded = Path(folder) / "tasks.db", Path(folder) / "answers.json"
        task_table(tasks, database)
        record(answers, recorded)
        theirs_port, ours_port = free_port(), free_port()
        theirs = f"http://127.0.0.1:{theirs_port}/tasks/tasks?_size=200"
        ours = f"http://127.0.0.1:{ours_port}{page}"
        with (
            running(
                [str(DATASETTE), "serve", str(database), "--port", str(theirs_port)], theirs, ROOT
            ),
            running(
                [sys.executable, "-m", "bench.replay", "--port", str(ours_port)]
                + ["--answers", str(recorded)],
                ours,
                ROOT,
            ),
            httpx.Client(timeout=60, headers={"Accept-Encoding": "identity"}) as http,
        ):
            assert http.get(theirs).text.count("<tr") >= 200
            datasette = median_ms(lambda: http.get(theirs).read(), repeat, warmup=3)
            app = median_ms(lambda: http.get(ours).read(), repeat, warmup=3)
    ratio = app / datasette
    report.add("(h) Datasette: a page of 200 of the 5,000 tasks from SQLite", f"{datasette:.1f} ms")
    report.add(
        "(h) the app: its page of 200 tasks, upstream answers replayed",
        f"{app:.1f} ms",
        f"{ratio:.2f}×",
        f"< 1× Datasette — {verdict(ratio < 1)}",
    )
