"""Where the app's 200-task fragment spends its time: the (g) request (its upstream answers
replayed from memory, `bench/own_work.py`) under cProfile, its time split into the parts a
change would aim at. Shares, not milliseconds: the profiler slows Python code down unevenly, so
the shares say where to look, `python -m bench.margin` what a change is worth. With `--warm`,
the (c) page instead: the whole page of 200 tasks, every upstream answer already kept (the
in-process simulator behind the app's cache; the failed execution opens failed first, an order
made among all its 5,000 tasks).

    python -m bench.profile_fragment [--requests 40] [--warm]

To profile an older revision, check it out beside this one and run this file against it:
`git worktree add /tmp/before REV && PYTHONPATH=/tmp/before python bench/profile_fragment.py`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import httpx

from bench.common import API_HEADERS, EXECUTION, JOB, tasks_path
from bench.replay import replaying

# (part, where its inclusive time is: (file ending, function name), the first found; older
# revisions named some parts differently).
PARTS = [
    ("the rows' values (task_rows)", [("listing/rows.py", "task_rows")]),
    (
        "  of which attempts counted",
        [("failures/causes.py", "_count_attempts"), ("failures/causes.py", "attempts")],
    ),
    ("  of which conditions cells", [("listing/rows.py", "conditions_cell")]),
    ("templates (Jinja)", [("jinja2/environment.py", "render")]),
    ("the failed-first order (every task read, ordered)", [("listing/gather.py", "app_ordered")]),
    ("upstream calls (client, cache)", [("blaxel/session.py", "together")]),
    ("answers decoded (msgspec)", [("blaxel/client.py", "decode")]),
]


def recorded() -> dict[str, bytes]:
    """The simulator's answers to the fragment's two upstream calls, in process."""
    from webapp.simulator import create_simulator

    transport = httpx.WSGITransport(app=create_simulator())
    with httpx.Client(transport=transport, base_url="http://simulator", headers=API_HEADERS) as api:
        execution = f"/v0/jobs/{JOB}/executions/{EXECUTION}"
        return {
            execution: api.get(execution).content,
            execution + "/tasks": api.get(execution + "/tasks?limit=200").content,
        }


def warm_app():
    """The app in front of the in-process simulator, its answers kept ten minutes."""
    from webapp import create_app
    from webapp.simulator import create_simulator

    settings = {"BLAXEL_API_KEY": "bench-token", "WEBAPP_CACHE_TTL": "600"}
    return create_app(settings, transport=httpx.WSGITransport(app=create_simulator()))


def inclusive(stats: pstats.Stats, where: str, name: str) -> float:
    """Seconds spent in and under the functions named `name` in files ending with `where`."""
    return sum(
        row[3]
        for (path, _, function), row in stats.stats.items()  # type: ignore[attr-defined]
        if function == name and path.endswith(where)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warm", action="store_true", help="the (c) page, answers kept")
    options = parser.parse_args()
    url, headers = f"{tasks_path()}?limit=200", {"Accept-Encoding": "identity"}
    if options.warm:
        client = warm_app().test_client()
    else:
        client = replaying(recorded()).test_client()
        headers["HX-Request"] = "true"
    for _ in range(5):  # warm: imports, template compilation, caches of names
        client.get(url, headers=headers).get_data()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(options.requests):
        client.get(url, headers=headers).get_data()
    profile.disable()
    stats = pstats.Stats(profile)
    total = inclusive(stats, "flask/app.py", "wsgi_app")
    each = 1000 / options.requests
    print(f"| part | ms a request, under the profiler ({options.requests} requests) | share |")
    print("|---|---:|---:|")
    print(f"| the whole request | {total * each:.1f} | 100% |")
    for part, functions in PARTS:
        spent = next(
            (found for where, name in functions if (found := inclusive(stats, where, name))), 0.0
        )
        print(f"| {part} | {spent * each:.1f} | {spent / total:.1%} |")


if __name__ == "__main__":
    main()
