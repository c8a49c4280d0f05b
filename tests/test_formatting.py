"""How times and durations read on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.formatting import duration, relative, span

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


def test_a_running_task_lasts_until_now_and_an_unstarted_one_has_no_duration():
    assert duration(NOW - timedelta(minutes=3), None, NOW) == "3 min"
    assert duration(None, None, NOW) == ""
