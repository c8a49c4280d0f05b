"""An execution's tasks over time: one bar per task in parallel lanes, as an inline SVG the server
draws (geometry here, markup in templates/_timeline.html). However many tasks, the figure is a
few paths, and each task's name and times a row of a compact table the page's script reads to
say which bar is pointed at, so 5,000 tasks stay a page of a few hundred kilobytes.

Each bar runs from the task's scheduling (or, without it, its start) to its start, drawn as a
wait, then to its completion (or now, while it runs), drawn as the run. Lanes are filled first
come, first served, the way slots are: a bar takes the lowest lane free at its start. Above the
lanes, how many tasks had been created and not yet started at each moment: the queue. Tasks that
have not started are there, not in a lane.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import ClassVar

from markupsafe import Markup

from ..blaxel import Task
from ..common.formatting import iso, plural, span
from ..common.text import inert
from ..listing.gather import paced

WIDTH = 1000  # the viewBox's width
AXIS = 22  # room for the time axis, below the lanes
QUEUE = 40  # height of the queue's band, above the lanes
MOST_TASKS = 5000  # the whole execution's timeline shows its newest these, unless asked for all
MAX_LANES = 60  # beyond these, bars share the lane that frees first
MIN_RUN = 0.6  # the narrowest a run is drawn, so that a short task still shows
MIN_WAIT = 0.25  # a narrower wait (a quarter pixel on a 1,000-pixel chart) is in the table only
GROUP_ORDER = ("failed", "cancelled", "running", "succeeded")  # the table's groups, then others
EDGE = 32  # a tick closer than this to an edge has its label run inward (half "06:40 AM" wide)
# Tick steps a time axis may take, in seconds: the first giving at most 8 ticks is used.
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
STEPS += (86400, 172800, 604800)


@dataclass(frozen=True)
class Bar:
    task: Task
    lane: int
    begins: datetime  # scheduled, else created
    starts: datetime
    ends: datetime  # completed, else now
    wait_x: float
    wait_width: float
    run_x: float
    run_width: float
    still_running: bool
    # Whole seconds, for the table: from the timeline's start to this start, waited, ran.
    at: int
    waited: int
    ran: int


@dataclass(frozen=True)
class Tick:
    x: float
    at: datetime
    label: str
    # Which end of its label a tick holds: "start" or "end" near the chart's edges, where a
    # label centred on its tick would be cut; "" for the middle.
    anchor: str = ""


@dataclass(frozen=True)
class Timeline:
    """The figure drawn compactly, whatever the number of tasks: one path for every bar of a
    status (a stroke per bar, lane after lane) and one for every wait; each task's name and
    times are in the table below it, which the page's script reads to name the bar pointed at."""

    bars: tuple[Bar, ...]
    lanes: int
    lane_height: float
    start: datetime
    end: datetime
    ticks: tuple[Tick, ...]
    queue_path: str  # the outline of how many tasks waited, as an SVG path
    queue_peak: int
    untimed: int  # tasks not started, so not in a lane
    now_x: float | None  # where "now" is, while the execution runs
    runs: tuple[tuple[str, str], ...] = ()  # (status, SVG path) of the bars' runs
    waits: str = ""  # SVG path of the bars' waits
    width: ClassVar[int] = WIDTH
    lanes_top: ClassVar[float] = QUEUE + 6

    @property
    def height(self) -> float:
        return self.lanes_top + self.lanes * self.lane_height + AXIS

    @property
    def axis_y(self) -> float:
        return self.lanes_top + self.lanes * self.lane_height + 4

    @property
    def run_stroke(self) -> float:
        """A run's thickness: its lane less a gap."""
        return round(self.lane_height - 2, 2)

    @property
    def groups(self) -> list[tuple[str, int, Markup]]:
        """The bars by status, for the table: failures first, each group in order of start;
        (status, how many, their rows). A row is compact on purpose (end tags left out, times
        as whole seconds) and made here in one pass: 5,000 of them through the template's loop
        cost more than the rest of the page."""
        grouped: dict[str, list[Bar]] = {}
        for bar in self.bars:
            grouped.setdefault(bar.task.status, []).append(bar)
        order = {status: place for place, status in enumerate(GROUP_ORDER)}
        ordered = sorted(grouped.items(), key=lambda item: (order.get(item[0], 9), item[0]))
        return [(status, len(bars), _rows(bars)) for status, bars in ordered]

    @property
    def text(self) -> str:
        """The figure in words, for those who cannot see it."""
        longest = max(self.bars, key=lambda bar: bar.ran)
        length = span((self.end - self.start).total_seconds())
        text = (
            f"Timeline of {plural(len(self.bars), 'task')} in {plural(self.lanes, 'lane')}, from "
            f"{iso(self.start)} to {iso(self.end)} ({length}); at most "
            f"{plural(self.queue_peak, 'task')} waited for a slot at once"
        )
        if longest.ran:
            text += f"; the longest run was {longest.task.name}'s, {span(longest.ran)}"
        return text + ". The table below lists every bar."

    def x(self, moment: datetime) -> float:
        return self.at((moment - self.start).total_seconds())

    def at(self, seconds: float) -> float:
        """Where a moment `seconds` after the start is, across the chart."""
        return round(seconds / self.seconds * WIDTH, 2)

    @cached_property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds() or 1.0

    def middle(self, lane: int) -> float:
        """The height of a lane's middle, where its strokes run."""
        return round(self.lanes_top + (lane + 0.5) * self.lane_height, 2)


def timeline(tasks: Sequence[Task], now: datetime) -> Timeline | None:
    """The started tasks' bars laid out in lanes (the others are in the queue's band); None
    when no task has started."""
    timed = []
    for task in tasks:
        starts = task.started_at
        if starts is None:
            continue
        scheduled = task.scheduled_at
        begins = scheduled if scheduled is not None and scheduled <= starts else starts
        ends = task.completed_at or (task.updated_at if task.is_final else None) or now
        timed.append((begins, max(ends, starts), task))
    if not timed:
        return None
    timed.sort(key=lambda item: (item[0], item[2].name))
    start = timed[0][0]
    end = max(max(ends for _, ends, _ in timed), start + timedelta(seconds=1))
    lanes = _lanes(timed)
    count = max(lanes) + 1
    lane_height = max(6.0, min(18.0, 560 / count))
    shape = Timeline((), count, lane_height, start, end, (), "", 0, len(tasks) - len(timed), None)
    bars = []
    for (begins, ends, task), lane in paced(zip(timed, lanes, strict=True)):
        starts = task.started_at or begins
        # Seconds from the start, each moment's once: 5,000 bars are 15,000 moments.
        since = [(moment - start).total_seconds() for moment in (begins, starts, ends)]
        wait_x, run_x, end_x = map(shape.at, since)
        bars.append(
            Bar(
                task,
                lane,
                begins,
                starts,
                ends,
                wait_x,
                round(run_x - wait_x, 2),
                run_x,
                round(end_x - run_x, 2),
                not task.is_final,
                round(since[1]),
                round(since[1] - since[0]),
                round(since[2] - since[1]),
            )
        )
    path, peak = _queue(tasks, shape, now)
    running = any(bar.still_running for bar in bars) and start <= now <= end
    now_x = shape.x(now) if running else None
    by_status: dict[str, list[tuple[int, float, float]]] = {}
    for bar in bars:
        stroke = (bar.lane, bar.run_x, max(bar.run_width, MIN_RUN))
        by_status.setdefault(bar.task.status, []).append(stroke)
    waits = [(bar.lane, bar.wait_x, bar.wait_width) for bar in bars if bar.wait_width >= MIN_WAIT]
    return replace(
        shape,
        bars=tuple(bars),
        ticks=_ticks(shape),
        queue_path=path,
        queue_peak=peak,
        now_x=now_x,
        runs=tuple((status, _strokes(shape, found)) for status, found in sorted(by_status.items())),
        waits=_strokes(shape, waits),
    )


def _rows(bars: list[Bar]) -> Markup:
    """The table's rows of these bars: task, lane (from 1), started at, waited, ran. The name is
    made inert; the rest are whole numbers, written as they are (a template's formatting, 5,000
    times, cost more than the rest of the page)."""
    return Markup(  # noqa: S704 - the name made inert, the others `:d` (whole numbers only)
        "".join(
            f"<tr><th>{inert(bar.task.name)}<td>{bar.lane + 1}<td>{bar.at:d}<td>{bar.waited:d}"
            f"<td>{bar.ran:d}\n"
            for bar in paced(bars)
        )
    )


def _strokes(shape: Timeline, strokes: list[tuple[int, float, float]]) -> str:
    """One path drawing many bars as horizontal strokes, lane by lane: a lane's first bar as
    "M x y h width", each next one as "m gap 0 h width" from the end of the one before."""
    parts, lane_now, end = [], -1, 0.0
    for lane, x, width in sorted(strokes):
        if lane != lane_now:
            parts.append(f"M{_number(x)} {_number(shape.middle(lane))}h{_number(width)}")
        else:
            parts.append(f"m{_number(x - end)} 0h{_number(width)}")
        lane_now, end = lane, round(x + width, 2)
    return "".join(parts)


def _number(value: float) -> str:
    """A coordinate in its shortest form to two decimals: 0.50 as .5, -0.25 as -.25."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    if text in ("", "-0"):
        return "0"
    return text.replace("0.", ".", 1) if text.startswith(("0.", "-0.")) else text


def _lanes(timed: list[tuple[datetime, datetime, Task]]) -> list[int]:
    """A lane for each bar, in order of start: the lowest lane free by then."""
    free: list[int] = []  # lanes whose last bar has ended, lowest first
    busy: list[tuple[datetime, int]] = []  # (end, lane) of the bars still running
    lanes, count = [], 0
    for begins, ends, _ in timed:
        while busy and busy[0][0] <= begins:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        elif count < MAX_LANES:
            lane, count = count, count + 1
        else:
            lane = heapq.heappop(busy)[1]  # every lane taken: share the one freeing first
        heapq.heappush(busy, (ends, lane))
        lanes.append(lane)
    return lanes


def _queue(tasks: Sequence[Task], shape: Timeline, now: datetime) -> tuple[str, int]:
    """How many tasks had been created but not started, over time, as a step outline."""
    changes: list[tuple[datetime, int]] = []
    for task in tasks:
        if task.created_at is None:
            continue
        left = task.started_at or (task.completed_at if task.is_final else None) or now
        if left > task.created_at:
            changes += [(task.created_at, 1), (left, -1)]
    if not changes:
        return "", 0
    changes.sort()
    levels: dict[float, int] = {}  # waiting after the last change at each tenth of a unit
    waiting, peak = 0, 0
    for moment, change in changes:
        waiting += change
        levels[round(min(max(shape.x(moment), 0.0), WIDTH), 1)] = waiting
        peak = max(peak, waiting)
    scale = (QUEUE - 4) / max(peak, 1)
    steps, height = [], float(QUEUE)
    for x, after in levels.items():
        level = round(QUEUE - after * scale, 1)
        if level != height:  # a step only where the outline moves
            steps.append(f"H{_number(x)}V{_number(level)}")
            height = level
    return f"M0 {QUEUE}{''.join(steps)}H{WIDTH}V{QUEUE}Z", peak


def _ticks(shape: Timeline) -> tuple[Tick, ...]:
    seconds = (shape.end - shape.start).total_seconds()
    step = next((s for s in STEPS if seconds / s <= 8), STEPS[-1])
    first = datetime.fromtimestamp(
        -(-shape.start.timestamp() // step) * step, tz=shape.start.tzinfo
    )
    form = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%b %d"
    ticks, at = [], first
    while at <= shape.end:
        x = shape.x(at)
        anchor = "start" if x < EDGE else "end" if x > WIDTH - EDGE else ""
        ticks.append(Tick(x, at, at.strftime(form), anchor))
        at += timedelta(seconds=step)
    return tuple(ticks)
