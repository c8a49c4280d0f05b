"""How times and durations read on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from webapp.blaxel import Task
from webapp.common.formatting import badge, iso, plural, relative, run_time, span, wait_time
from webapp.common.text import inert, inert_text

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (61, "1 min 01 s"),
        (3600, "1 h"),
        (3725, "1 h 02 min"),
        (86400 * 2 + 3600 * 5, "2 d 5 h"),
        (None, ""),
        (-5, ""),
    ],
)
def test_durations_use_their_two_largest_units(seconds, text):
    assert span(seconds) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3), "3h ago"),
        (timedelta(days=2), "2d ago"),
        (timedelta(days=400), "1y ago"),
        (timedelta(minutes=-10), "in 10 min"),
    ],
)
def test_relative_times_read_like_people_say_them(delta, text):
    assert relative(NOW - delta, NOW) == text


def task(status: str, **metadata: str) -> Task:
    return msgspec.convert({"metadata": metadata, "status": status}, Task)


def test_a_running_task_lasts_until_now_and_an_unstarted_one_has_no_duration():
    assert run_time(task("running", startedAt="2026-11-28T11:57:00Z"), NOW) == 180
    assert run_time(task("pending"), NOW) is None


def test_a_final_task_ends_at_its_completion_else_its_last_update_never_now():
    done = task("succeeded", startedAt="2026-11-28T11:00:00Z", completedAt="2026-11-28T11:02:00Z")
    assert run_time(done, NOW) == 120
    quiet = task("cancelled", startedAt="2026-11-28T11:00:00Z", updatedAt="2026-11-28T11:05:00Z")
    assert run_time(quiet, NOW) == 300
    unknown = task("succeeded", startedAt="2026-11-28T11:00:00Z")
    assert run_time(unknown, NOW) is None


def test_the_queue_wait_runs_from_creation_to_start_and_grows_only_while_waiting():
    started = task("running", createdAt="2026-11-28T11:00:00Z", startedAt="2026-11-28T11:00:30Z")
    assert wait_time(started, NOW) == 30
    waiting = task("pending", createdAt="2026-11-28T11:59:00Z")
    assert wait_time(waiting, NOW) == 60
    assert wait_time(task("cancelled", createdAt="2026-11-28T11:00:00Z"), NOW) is None


def test_a_moment_reads_relative_with_its_exact_utc_time_for_machines_and_on_hover():
    from webapp import create_app

    app = create_app(clock=lambda: NOW)
    moment = datetime(2026, 11, 28, 13, 30, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    with app.app_context():
        html = app.jinja_env.from_string("{{ moment | when }}").render(moment=moment, now=NOW)
    assert html == (
        '<time datetime="2026-11-28T11:30:05Z" title="2026-11-28 11:30:05 UTC">30 min ago</time>'
    )
    assert iso(moment) == "2026-11-28T11:30:05Z"
    assert iso(None) == ""


def test_a_missing_moment_says_not_yet_to_screen_readers():
    from webapp import create_app

    app = create_app(clock=lambda: NOW)
    html = app.jinja_env.from_string("{{ none | when }}").render(now=NOW)
    assert 'aria-label="not yet"' in html


def test_a_status_badge_escapes_whatever_status_upstream_sends():
    html = str(badge('<img src=x onerror="alert(1)">'))
    assert "<img" not in html
    assert "&lt;img" in html
    assert badge("FAILED") == (
        '<span class="badge badge-failed"><span aria-hidden="true">✕</span> failed</span>'
    )


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((1, "task"), "1 task"),
        ((2, "task"), "2 tasks"),
        ((0, "task"), "0 tasks"),
        ((2000, "task"), "2,000 tasks"),
        ((1, "matching task"), "1 matching task"),
        ((3, "matching task"), "3 matching tasks"),
        ((1, "match", "matches"), "1 match"),
        ((5, "match", "matches"), "5 matches"),
        ((2, "person", "people"), "2 people"),
        ((None, "task"), "? tasks"),
    ],
)
def test_a_count_agrees_with_its_noun_irregular_plurals_given(args, text):
    assert plural(*args) == text


def test_the_plural_filter_reads_the_same_in_templates():
    from webapp import create_app

    env = create_app(clock=lambda: NOW).jinja_env
    html = env.from_string('{{ 1 | plural("job") }}, {{ 2 | plural("match", "matches") }}')
    assert html.render() == "1 job, 2 matches"


def test_bidi_and_control_characters_in_upstream_text_are_shown_not_applied():
    html = str(inert("invoice-\u202egnp.exe<b>\x00"))
    assert "\u202e" not in html and "\x00" not in html
    assert html == (
        'invoice-<span class="ctl" title="bidirectional control U+202E, shown instead of '
        'applied">U+202E</span>gnp.exe&lt;b&gt;<span class="ctl" title="control character '
        'U+0000, shown instead of applied">␀</span>'
    )
    every = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert inert_text("a" + every + "b") == "a" + "".join(f"⟨U+{ord(c):04X}⟩" for c in every) + "b"
    assert inert("plain name") == "plain name" and inert(None) == "" and inert_text(None) == ""
    assert "\n" in inert("line one\nline two")  # text keeps its own line breaks
