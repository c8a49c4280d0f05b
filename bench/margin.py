"""Three figures of the app's own work, run after run: (c) a warm 200-task page against a direct
upstream call, (e) navigation → 50 rows visible in Chromium, (g) the app's 200-task fragment
against the reference renderer. Each is measured as `python -m bench` measures it; only these
three, so that several runs fit in a few minutes.

`python -m bench.margin --runs 3` prints a Markdown table: a row per run, then the medians.
"""

from __future__ import annotations

import argparse
import statistics

import httpx

from bench.__main__ import (
    CHROMIUM,
    CHROMIUM_ARGS,
    app_server,
    fetch,
    navigations,
    recorded_answers,
    upstream,
)
from bench.common import API_HEADERS, EXECUTION, JOB, median_ms, tasks_path

COLUMNS = (
    "(c) warm page, 200 tasks",
    "(a) direct call, 200 tasks",
    "(c) ratio",
    "(e) navigation → 50 rows visible, in the page",
    "(e) as Playwright's wait sees it",
    "(g) the app's fragment",
    "(g) reference",
    "(g) ratio",
)


def one_run(repeat: int) -> tuple[float, ...]:
    from playwright.sync_api import sync_playwright

    from bench.own_work import own_work

    with upstream() as upstream_url:
        with httpx.Client(base_url=upstream_url + "/v0", headers=API_HEADERS) as api:
            call = f"jobs/{JOB}/executions/{EXECUTION}/tasks?limit=200"
            direct = median_ms(lambda: api.get(call).json(), repeat)
        with (
            app_server(upstream_url, WEBAPP_CACHE_TTL="600") as warm,
            httpx.Client(base_url=warm) as http,
        ):
            page = median_ms(lambda: fetch(http, f"{tasks_path()}?limit=200"), repeat)
        with app_server(upstream_url, workers=1) as base, sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            in_page, polled, _, _ = navigations(chromium, base + tasks_path(), 10)
            chromium.close()
        answers = recorded_answers(upstream_url)
    own = own_work(answers, f"{tasks_path()}?limit=200", repeat * 2)
    return (
        page,
        direct,
        page / direct,
        statistics.median(in_page),
        statistics.median(polled),
        own["app"],
        own["reference"],
        own["ratio"],
    )


def cell(column: str, value: float) -> str:
    return f"{value:.2f}×" if "ratio" in column else f"{value:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description="(c), (e) and (g), run after run.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=25, help="samples per median")
    options = parser.parse_args()
    runs = []
    print("| run | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for number in range(1, options.runs + 1):
        runs.append(one_run(options.repeat))
        cells = (cell(column, value) for column, value in zip(COLUMNS, runs[-1], strict=True))
        print(f"| {number} | " + " | ".join(cells) + " |", flush=True)
    medians = (statistics.median(values) for values in zip(*runs, strict=True))
    cells = (cell(column, value) for column, value in zip(COLUMNS, medians, strict=True))
    print("| median | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
