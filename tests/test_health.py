"""Health at a glance, server side: each job's recent runs, the failing-first order, the summary
over a window, the executions' status filter, and what each costs upstream."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from webapp import create_app
from webapp.simulator import create_simulator

from .conftest import FakeClock

HTMX = {"HX-Request": "true"}
NOW = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
FAILED = {"failed", "timeout"}
UNFINISHED = {"queued", "pending", "running", "cancelling"}


class Counting(httpx.BaseTransport):
    """The simulator, counting the calls that reach it, by path."""

    def __init__(self, clock) -> None:
        self.inner = httpx.WSGITransport(app=create_simulator(clock=clock))
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)


@pytest.fixture
def counted():
    clock = FakeClock(NOW)
    upstream = Counting(clock)
    app = create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": "any-token",
        },
        transport=upstream,
        clock=clock,
    )
    return app.test_client(), upstream


def simulator_runs(job: str) -> list[dict]:
    """The job's executions straight from the simulator, newest first."""
    client = create_simulator(clock=lambda: NOW).test_client()
    headers = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}
    found, cursor = [], ""
    while True:
        params = {"limit": 100, "sort": "createdAt:desc", **({"cursor": cursor} if cursor else {})}
        body = client.get(f"/v0/jobs/{job}/executions", query_string=params, headers=headers).json
        found += body["data"]
        if not body["meta"]["hasMore"]:
            return found
        cursor = body["meta"]["nextCursor"]


def simulator_jobs() -> list[str]:
    client = create_simulator(clock=lambda: NOW).test_client()
    headers = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}
    body = client.get("/v0/jobs", query_string={"limit": 200}, headers=headers).json
    return [job["metadata"]["name"] for job in body["data"]]


def last_finished_failed(runs: list[dict]) -> bool:
    finished = [run for run in runs if run["status"] not in UNFINISHED]
    return bool(finished) and finished[0]["status"] in FAILED


ROW_JOB = re.compile(r'<tr class="job">\s*<th[^>]*>\s*<a href="/jobs/([^"/]+)/executions">')


def test_the_jobs_page_newest_first_costs_one_call_and_each_strip_one_more(counted):
    client, upstream = counted
    html = client.get("/?sort=createdAt:desc").get_data(as_text=True)
    assert upstream.paths == ["/v0/jobs"]
    # Every row asks for its recent runs once it scrolls into view; without JavaScript, a link.
    assert html.count('hx-trigger="intersect once"') == len(simulator_jobs())
    assert '<a href="/jobs/orders-export/executions">Recent runs' in html
    client.get("/jobs/orders-export/recent", headers=HTMX)
    assert upstream.paths[1:] == ["/v0/jobs/orders-export/executions"]
    client.get("/jobs/orders-export/recent", headers=HTMX)
    assert len(upstream.paths) == 2  # shared through the cache


def test_a_strip_shows_the_20_newest_runs_oldest_first_each_linking_to_its_execution(client):
    html = client.get("/jobs/price-scraper/recent", headers=HTMX).get_data(as_text=True)
    runs = simulator_runs("price-scraper")[:20][::-1]
    links = re.findall(r'<a class="run run-(\w+)" href="([^"]+)" aria-label="([^"]+)"', html)
    assert [(status, href) for status, href, _ in links] == [
        (run["status"], f"/jobs/price-scraper/executions/{run['metadata']['id']}/tasks")
        for run in runs
    ]
    # The accessible name says which run, its status, its start and how long it ran.
    first = runs[0]
    assert links[0][2].startswith(f"{first['metadata']['id']}: {first['status']}, started ")
    assert first["metadata"]["startedAt"] in links[0][2] and ", ran " in links[0][2]
    assert "6 of 20 failed" in html


def test_a_job_failing_for_several_runs_says_since_when(client):
    html = client.get("/jobs/orders-export/recent", headers=HTMX).get_data(as_text=True)
    assert "failed 4 runs in a row, since" in html
    since = simulator_runs("orders-export")[3]["metadata"]["createdAt"]
    assert f'datetime="{since}"' in html


def test_without_htmx_the_recent_runs_link_leads_to_the_executions(client):
    response = client.get("/jobs/orders-export/recent")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/jobs/orders-export/executions")


def test_the_jobs_open_on_what_needs_attention_as_the_simulator_has_it(client):
    """Failing jobs first, then running ones, then the rest; the latest last run first in each."""
    html = client.get("/").get_data(as_text=True)
    assert '<option value="failing" selected>Failing first</option>' in html
    shown = ROW_JOB.findall(html)
    assert sorted(shown) == sorted(simulator_jobs())

    def expected(job: str) -> tuple[int, str, str]:
        runs = simulator_runs(job)[:20]
        if not runs:
            return (3, "", job)
        group = 0 if last_finished_failed(runs) else 1 if runs[0]["status"] in UNFINISHED else 2
        # ISO times of one format: the latest sorts first once each character is inverted.
        created = "".join(chr(255 - ord(ch)) for ch in runs[0]["metadata"]["createdAt"])
        return (group, created, job)

    assert shown == sorted(shown, key=expected)
    failing = [job for job in shown if last_finished_failed(simulator_runs(job)[:20])]
    assert shown[: len(failing)] == failing and "orders-export" in failing
    assert client.get("/?sort=failing").get_data(as_text=True).count('class="job"') == len(shown)
    # The runs are known already: every row shows its strip, no lazy placeholder.
    assert 'hx-trigger="intersect once"' not in html


def test_only_failing_lists_exactly_the_jobs_whose_last_finished_run_failed(client):
    html = client.get("/?only=failing").get_data(as_text=True)
    expected = {job for job in simulator_jobs() if last_finished_failed(simulator_runs(job))}
    assert set(ROW_JOB.findall(html)) == expected
    assert "orders-export" in expected and "price-scraper" not in expected
    assert 'id="only-failing" name="only" value="failing" checked' in html


def test_the_failing_order_pages_with_a_signed_cursor(client):
    html = client.get("/?sort=failing&limit=10").get_data(as_text=True)
    first = ROW_JOB.findall(html)
    more = re.search(r'class="load-more" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    second = ROW_JOB.findall(client.get(more, headers=HTMX).get_data(as_text=True))
    everything = ROW_JOB.findall(client.get("/?sort=failing").get_data(as_text=True))
    assert first + second == everything[:20]
    forged = re.sub(r"cursor=[^&]+", "cursor=abc.def", more)
    assert "That position in the list expired" in client.get(forged).get_data(as_text=True)


def simulator_deactivated() -> set[str]:
    client = create_simulator(clock=lambda: NOW).test_client()
    headers = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}
    body = client.get("/v0/jobs", query_string={"limit": 200}, headers=headers).json
    return {job["metadata"]["name"] for job in body["data"] if job["status"] == "DEACTIVATED"}


@pytest.mark.parametrize("window", ["24h", "3d", "7d"])
def test_the_summary_counts_match_a_direct_count_over_the_simulator(client, window):
    """Failed, running and failing jobs as the simulator's runs have them; a deactivated job
    whose last run failed is counted apart; the list under the figure names the same jobs."""
    length = {"24h": timedelta(hours=24), "3d": timedelta(days=3), "7d": timedelta(days=7)}
    start = NOW - length[window]
    failed = running = 0
    failing, failing_off = [], []
    off = simulator_deactivated()
    for job in simulator_jobs():
        runs = simulator_runs(job)
        failed += sum(
            run["status"] in FAILED
            and datetime.fromisoformat(run["metadata"]["createdAt"]) >= start
            for run in runs
        )
        running += sum(run["status"] in UNFINISHED for run in runs)
        if last_finished_failed(runs[:20]):
            (failing_off if job in off else failing).append(job)
    assert failing and failing_off  # the demo has both
    html = client.get(f"/health?window={window}", headers=HTMX).get_data(as_text=True)
    assert f'<strong data-count="failed">{failed}</strong>' in html
    assert f'<strong data-count="running">{running}</strong>' in html
    assert f'<strong data-count="failing">{len(failing)}</strong>' in html
    assert f'<span data-count="failing-deactivated">{len(failing_off)}</span>' in html
    listed = re.search(r'data-list="failing">(.*?)</p>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</a>", listed) == sorted(failing)
    listed_off = re.search(r'data-list="failing-deactivated">(.*?)</p>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</a>", listed_off) == sorted(failing_off)
    assert "partial" not in html
    # The chart says what it shows, one bar per hour (or day) of the clock; NOW is on the hour.
    bars = 8 if window == "7d" else int(length[window].total_seconds() // 3600)
    assert html.count('<rect class="bar ') == bars
    assert 'aria-label="Failed executions per ' in html and f"{failed} in all" in html


def test_the_summarys_bars_are_hours_of_the_clock_each_linking_to_its_failed_executions():
    """At 09:21:16 the 24-hour window's bars are 08:21:16–09:00, then whole hours to 09:21:16;
    a bar of one job links to its executions filtered to that hour and to failed, a bar of
    several jobs to the summary page listing that hour's failures."""
    moment = NOW + timedelta(minutes=21, seconds=16)
    clock = FakeClock(moment)
    app = create_app({"TESTING": True, "BLAXEL_API_KEY": ""}, clock=clock)
    html = app.test_client().get("/health?window=24h", headers=HTMX).get_data(as_text=True)
    titles = re.findall(r"<title>(\S+) to (\S+): (\d+) failed", html)
    assert len(titles) == 25
    assert titles[0][:2] == ("2026-11-27T09:21:16Z", "2026-11-27T10:00:00Z")
    assert titles[1][:2] == ("2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z")
    assert titles[-1][:2] == ("2026-11-28T09:00:00Z", "2026-11-28T09:21:16Z")
    links = re.findall(r'<a href="([^"]+)" aria-label="(\S+) to (\S+): (\d+) failed', html)
    assert links and len(links) == sum(int(count) > 0 for *_, count in titles)
    for href, since, until, _ in links:
        href = href.replace("&amp;", "&")
        assert f"since={since}&until={until}" in href
        assert (
            href.startswith("/jobs/")
            and "status=failed,timeout" in href
            or href.startswith("/health?window=24h&")
        )


def test_the_summary_costs_one_call_per_job_and_shares_the_strips_answers(counted):
    client, upstream = counted
    client.get("/health?window=24h", headers=HTMX)
    jobs = simulator_jobs()
    assert upstream.paths.count("/v0/jobs") == 1
    assert sorted(p for p in upstream.paths if p != "/v0/jobs") == sorted(
        f"/v0/jobs/{job}/executions" for job in jobs
    )
    before = len(upstream.paths)
    client.get("/jobs/orders-export/recent", headers=HTMX)
    client.get("/?sort=failing", headers=HTMX)
    assert len(upstream.paths) == before  # the same answers, ListJobs included


def executions_page(runs: int, cursor: str = "") -> dict:
    """One page of 20 hourly executions, all failed, newest first; `runs` in all."""
    start = int(cursor or 0)
    items = [
        {
            "metadata": {
                "id": f"exec-{index}",
                "job": "busy",
                "createdAt": (NOW - timedelta(hours=index)).isoformat(),
                "startedAt": (NOW - timedelta(hours=index)).isoformat(),
                "completedAt": (NOW - timedelta(hours=index) + timedelta(minutes=5)).isoformat(),
            },
            "status": "failed",
        }
        for index in range(start, min(start + 20, runs))
    ]
    more = start + 20 < runs
    return {"data": items, "meta": {"hasMore": more, "nextCursor": str(start + 20) if more else ""}}


def test_a_window_needing_more_than_five_pages_of_runs_is_counted_as_partial(scripted):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/jobs"):
            job = {"metadata": {"name": "busy"}, "status": "DEPLOYED"}
            return httpx.Response(200, json={"data": [job], "meta": {"hasMore": False}})
        return httpx.Response(200, json=executions_page(200, request.url.params.get("cursor")))

    client, upstream = scripted(answer)
    html = client.get("/health?window=7d", headers=HTMX).get_data(as_text=True)
    assert len(upstream.requests) == 1 + 5  # bounded: five pages of 20
    assert '<strong data-count="failed">100</strong>' in html
    assert "at least" in html and "only the 100 newest runs of busy were read" in html
    html = client.get("/health?window=24h", headers=HTMX).get_data(as_text=True)
    assert '<strong data-count="failed">25</strong>' in html  # 0 h to 24 h ago, both ends in
    assert "partial" not in html


def test_without_javascript_the_summary_is_a_page_of_its_own(client):
    html = client.get("/").get_data(as_text=True)
    assert '<a href="/health">Count the failed executions of every job</a>' in html
    page = client.get("/health?window=7d").get_data(as_text=True)
    assert "<h1>Health" in page and 'aria-current="true">7 days</a>' in page


@pytest.mark.parametrize(
    "url", ["/?only=broken", "/?window=2d", "/jobs/x/executions?window=3d", "/?status=failed"]
)
def test_health_parameters_are_checked(client, url):
    assert client.get(url).status_code == 400


def test_the_window_is_kept_in_the_jobs_page_links(client):
    html = client.get("/?window=24h&sort=name:asc").get_data(as_text=True)
    assert 'hx-get="/health?sort=name:asc&amp;window=24h"' in html
    assert '<input type="hidden" id="window-input" name="window" value="24h">' in html
    # A window chosen in the summary replaces the form's, so the controls keep it.
    fragment = client.get("/health?window=7d", headers=HTMX).get_data(as_text=True)
    assert 'id="window-input" name="window" value="7d" hx-swap-oob="true"' in fragment


def test_only_failing_with_no_failing_job_says_so(client):
    html = client.get("/?only=failing&q=digest").get_data(as_text=True)
    assert "No job's last finished run failed among those with “digest” in their name." in html


def test_the_executions_status_filter_walks_and_lists_exactly_the_matching_runs(client):
    expected = [
        run["metadata"]["id"]
        for run in simulator_runs("nightly-embeddings")
        if run["status"] in {"failed", "cancelled"}
    ]
    url = "/jobs/nightly-embeddings/executions?status=failed,cancelled&limit=3"
    shown: list[str] = []
    for _ in range(10):
        html = client.get(url, headers=HTMX if shown else {}).get_data(as_text=True)
        shown += re.findall(
            r'<th scope="row" class="name"><a href="[^"]+/executions/([^/"]+)/', html
        )
        more = re.search(r'class="load-more" href="([^"]+)"', html)
        if more is None:
            break
        url = more.group(1).replace("&amp;", "&")
    assert shown == expected and len(expected) > 3


def test_the_executions_page_shows_failed_tasks_and_a_chart_of_the_listed_runs(client):
    html = client.get("/jobs/nightly-embeddings/executions").get_data(as_text=True)
    assert '<th scope="col">Failed tasks</th>' in html
    big = "/jobs/nightly-embeddings/executions/exec-5k-embeddings/tasks"
    assert f'<a href="{big}?status=failed">125</a>' in html
    chart = re.search(r'<figure id="runs-chart".*?</figure>', html, re.S).group(0)
    assert chart.count('<rect class="bar ') == 2 * 20
    assert 'role="img" aria-label="Run time of the 20 runs listed, oldest to newest' in chart
    fragment = client.get(
        "/jobs/nightly-embeddings/executions?status=failed", headers=HTMX
    ).get_data(as_text=True)
    assert '<figure id="runs-chart" class="runs-chart" hx-swap-oob="true">' in fragment


def two_jobs_one_broken(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/jobs"):
        jobs = [{"metadata": {"name": name}} for name in ("busy", "broken")]
        return httpx.Response(200, json={"data": jobs, "meta": {"hasMore": False}})
    if "/broken/" in request.url.path:
        return httpx.Response(500, json={"error": "boom"})
    return httpx.Response(200, json=executions_page(3))


def test_a_job_whose_runs_cannot_be_read_leaves_the_summary_partial_not_broken(scripted):
    client, _ = scripted(two_jobs_one_broken)
    html = client.get("/health", headers=HTMX).get_data(as_text=True)
    assert '<strong data-count="failed">3</strong>' in html
    assert "The runs of broken could not be read." in html
    # Failing first still orders what it knows, and leaves the unknown job last, lazily loaded.
    page = client.get("/?sort=failing").get_data(as_text=True)
    assert ROW_JOB.findall(page) == ["busy", "broken"]
    assert 'hx-get="/jobs/broken/recent"' in page


def test_a_strip_that_fails_says_so_in_its_cell_with_a_retry(scripted):
    client, _ = scripted(two_jobs_one_broken)
    response = client.get("/jobs/broken/recent", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 502
    assert 'class="recent recent-error" role="alert"' in html
    assert 'hx-get="/jobs/broken/recent"' in html


def test_the_benchmark_lists_fifty_jobs_whose_copies_answer_with_the_originals_runs():
    from bench.health import FiftyJobs

    upstream = FiftyJobs(lambda: NOW)
    client = httpx.Client(transport=upstream, base_url="http://simulator.invalid/v0")
    headers = {"Authorization": "Bearer t", "Blaxel-Version": "2026-04-28"}
    jobs = client.get("/jobs", params={"limit": 200}, headers=headers).json()["data"]
    assert len(jobs) == 50 and jobs[30]["metadata"]["name"].endswith("-copy")
    copy = jobs[30]["metadata"]["name"]
    original = copy.removesuffix("-copy")
    runs = [
        client.get(f"/jobs/{name}/executions", headers=headers).json() for name in (copy, original)
    ]
    assert runs[0] == runs[1]
    assert upstream.calls == {"ListJobs": 1, "ListJobExecutions": 2}


def test_failing_first_says_when_it_ordered_only_the_first_200_jobs(scripted):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/jobs"):
            jobs = [{"metadata": {"name": f"job-{index}"}} for index in range(200)]
            meta = {"hasMore": True, "nextCursor": "Q1VSU09S", "total": 230}
            return httpx.Response(200, json={"data": jobs, "meta": meta})
        return httpx.Response(200, json=executions_page(1))

    client, upstream = scripted(answer)
    html = client.get("/?sort=failing&limit=25").get_data(as_text=True)
    assert "Ordered among the first 200 jobs only: 30 more were not read." in html
    assert len(upstream.requests) == 1 + 200


def test_the_executions_time_filter_lists_exactly_the_runs_created_within_it(client):
    """`since` and `until` narrow a job's executions to those created in that span (with or
    without a status), as the simulator has them; the links and status chips keep to it."""
    runs = simulator_runs("price-scraper")
    since, until = NOW - timedelta(days=2), NOW - timedelta(hours=20)

    def created(run):
        return datetime.fromisoformat(run["metadata"]["createdAt"])

    span = "since=2026-11-26T09:00:00Z&until=2026-11-27T13:00:00Z"
    within = [run for run in runs if since <= created(run) < until]
    failed = [run["metadata"]["id"] for run in within if run["status"] in FAILED]
    assert failed and len(failed) < len(within) < len(runs)
    html = client.get(f"/jobs/price-scraper/executions?{span}").get_data(as_text=True)
    assert re.findall(r'<tr class="execution[^"]*">\s*<th[^>]*>\s*<a[^>]*>([^<]+)</a>', html) == [
        run["metadata"]["id"] for run in within
    ]
    assert "Created from" in html and 'name="since" value="2026-11-26T09:00:00Z"' in html
    html = client.get(f"/jobs/price-scraper/executions?status=failed,timeout&{span}").get_data(
        as_text=True
    )
    assert (
        re.findall(r'<tr class="execution[^"]*">\s*<th[^>]*>\s*<a[^>]*>([^<]+)</a>', html) == failed
    )
    # The status chips count the runs of that span only, as the rows do.
    chip = re.search(r'id="count-link-failed"[^>]*>([\d,]+)</a>', html).group(1)
    assert int(chip) == sum(run["status"] == "failed" for run in within)


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-11-27T10:00:00",
        "since=2026-11-27T10:00Z&until=2026-11-27T09:00Z",
    ],
)
def test_a_time_filter_that_is_not_a_utc_span_is_refused_with_a_clear_error(client, query):
    response = client.get(f"/jobs/price-scraper/executions?{query}")
    assert response.status_code == 400
    assert "“since”" in response.get_data(as_text=True) or "“until”" in response.get_data(
        as_text=True
    )


def test_the_summary_page_lists_one_hours_failures_across_jobs(client):
    """A bar of several jobs leads to /health with that hour: its failed executions, each a
    link, and per job a link to its executions of that hour."""
    html = client.get("/health?window=7d", headers=HTMX).get_data(as_text=True)
    several = [
        href.replace("&amp;", "&")
        for href in re.findall(r'<a href="(/health\?[^"]+)" aria-label=', html)
    ]
    assert several  # the demo has an hour (or day) where two jobs failed
    page = client.get(several[0]).get_data(as_text=True)
    chosen = page[page.index('class="health-chosen"') :]
    count = int(
        re.search(r"since=[^&]+&amp;until=[^\"]+\" aria-label=\"\S+ to \S+: (\d+)", html).group(1)
    )
    assert chosen.count("<li>") == count
    assert "status=failed,timeout&amp;since=" in chosen


@pytest.mark.parametrize(
    ("query", "label", "window", "refresh"),
    [("", "24 hours", "24h", "60"), ("?window=3d&refresh=30", "3 days", "3d", "30")],
)
def test_the_kiosk_shows_its_window_and_refreshes_the_same_view(
    client, query, label, window, refresh
):
    """The kiosk opens on 24 hours every 60 s unless its URL says otherwise, and its own
    refresh asks for that same window, the jobs page's default (3 days) included."""
    html = client.get("/kiosk" + query).get_data(as_text=True)
    assert f"failed executions over the last {label}" in html
    asked = re.search(r'id="kiosk-board"[^>]*hx-get="([^"]+)"', html).group(1)
    assert sorted(asked.split("?")[1].split("&amp;")) == [f"refresh={refresh}", f"window={window}"]
    assert f'hx-trigger="every {refresh}s"' in html
    assert "demo-banner" not in html and "<form" not in html
