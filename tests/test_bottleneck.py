"""What set a finished execution's run time, in a sentence from its tasks' own times: the queue
(a task waited for a slot half the run or more), the tail (the last 1 % of tasks to finish ran
on a quarter of the run or more after the rest), both, or neither; checked by hand on small
executions and against the simulator's data on the demo's, and shown above the timeline only
when the timeline holds a finished execution's every task."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import msgspec

from webapp.blaxel import Task
from webapp.common.formatting import span
from webapp.health.bottleneck import bottleneck

from .test_timeline import BIG, STRAGGLERS, moment, simulator_tasks

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def task(name: str, created: int, started: int | None, completed: int | None) -> Task:
    """A task from seconds after T0: created, started and completed (None: not yet)."""

    def at(seconds: int | None) -> str | None:
        return None if seconds is None else (T0 + timedelta(seconds=seconds)).isoformat()

    metadata = {
        "name": name,
        "createdAt": at(created),
        "startedAt": at(started),
        "completedAt": at(completed),
    }
    status = "succeeded" if completed is not None else "running"
    return msgspec.convert({"metadata": metadata, "status": status}, Task)


def test_tasks_waiting_most_of_the_run_make_the_queue_what_set_it():
    # Two slots, six 10-minute tasks created at once: the last two wait 20 of the 30 minutes.
    tasks = [task(f"t{n}", 0, n // 2 * 600, n // 2 * 600 + 600) for n in range(6)]
    found = bottleneck(tasks, 2)
    assert (found.run, found.longest_wait, found.longest_run) == (1800, 1200, 600)
    assert found.queue_bound and not found.tail_bound
    # The last two finish together: no tail to speak of.
    assert found.sentence == (
        "Tasks waited up to 20 min for a slot at parallelism 2 in a run of 30 min: the queue, "
        "not the tasks, set the run time."
    )


def test_a_few_tasks_running_long_past_the_rest_make_the_tail_what_set_it():
    # 200 tasks at once, all but two done in a minute; those two run 9 and 10 minutes.
    tasks = [task(f"t{n}", 0, 0, 60) for n in range(198)]
    tasks += [task("slow", 0, 0, 540), task("slowest", 0, 0, 600)]
    found = bottleneck(tasks, 200)
    # The last 1 % of 200 is 2 tasks: the rest had finished at 60 s.
    assert (found.tail_tasks, found.tail, found.run) == (2, 540, 600)
    assert found.tail_bound and not found.queue_bound
    assert found.sentence == (
        "The last 2 tasks to finish (1 %) ran on 9 min after the rest, in a run of 10 min: the "
        "tail, not the queue, set the run time (tasks waited at most 0 s for a slot at "
        "parallelism 200)."
    )


def test_a_queue_and_a_tail_together_are_both_named():
    tasks = [task(f"t{n}", 0, n * 60, n * 60 + 60) for n in range(10)]
    tasks.append(task("straggler", 0, 600, 1200))
    found = bottleneck(tasks, None)
    assert found.queue_bound and found.tail_bound
    assert found.sentence == (
        "Tasks waited up to 10 min for a slot in a run of 20 min, and the last task to finish "
        "ran on 10 min after the rest: the queue and the tail set the run time."
    )


def test_neither_queue_nor_tail_leaves_the_tasks_own_work():
    tasks = [task(f"t{n}", 0, 5, 600 + n) for n in range(50)]
    found = bottleneck(tasks, 50)
    assert not (found.queue_bound or found.tail_bound)
    assert found.sentence == (
        "The tasks' own work set the run time of 10 min 49 s: they waited at most 5 s for a "
        "slot at parallelism 50, the longest ran 10 min 44 s, and the last task to finish "
        "ran on 1 s after the rest."
    )


def test_tasks_without_times_say_nothing():
    assert bottleneck([task("t", 0, None, None)], 4) is None
    assert bottleneck([], 4) is None


def figures(tasks: dict[str, dict]) -> tuple[int, int, int, int]:
    """(run, longest wait, last 1 % count, tail) straight from the simulator's JSON."""
    created = [moment(t["metadata"]["createdAt"]) for t in tasks.values()]
    started = {n: moment(t["metadata"]["startedAt"]) for n, t in tasks.items()}
    ended = sorted(moment(t["metadata"]["completedAt"]) for t in tasks.values())
    few = math.ceil(len(ended) / 100)
    waits = [started[n] - moment(t["metadata"]["createdAt"]) for n, t in tasks.items()]
    return (
        round((ended[-1] - min(created)).total_seconds()),
        round(max(waits).total_seconds()),
        few,
        round((ended[-1] - ended[-few - 1]).total_seconds()),
    )


def test_the_big_demo_executions_queue_set_its_run_time_by_the_simulators_figures(client):
    """exec-5k-embeddings: 5,000 tasks at parallelism 50. Its figures, from the simulator's own
    data, are those the timeline's sentence gives."""
    run, wait, few, tail = figures(simulator_tasks(BIG))
    assert wait > run / 2  # the data holds what the sentence says
    url = BIG + "?view=timeline"
    for _ in range(2):  # the bounded walk reads 2,000 tasks a request
        client.get(url, headers={"HX-Request": "true"}).close()
    html = client.get(url).get_data(as_text=True)
    assert (
        f"Tasks waited up to {span(wait)} for a slot at parallelism 50 in a run of {span(run)}: "
        f"the queue, not the tasks, set the run time; the last {few} tasks to finish (1 %) ran "
        f"on {span(tail)} after the rest."
    ) in html
    assert "Tasks waited up to 3 h 12 min for a slot at parallelism 50" in html


def test_the_stragglers_figures_match_the_simulators_data(client):
    run, wait, few, tail = figures(simulator_tasks(STRAGGLERS))
    html = client.get(STRAGGLERS + "?view=timeline").get_data(as_text=True)
    found = bottleneck([msgspec.convert(t, Task) for t in simulator_tasks(STRAGGLERS).values()], 8)
    assert (found.run, found.longest_wait, found.tail_tasks, found.tail) == (run, wait, few, tail)
    assert f'<p class="timeline-cause">{found.sentence}</p>' in html


def test_no_sentence_for_a_part_of_the_execution_or_one_still_running(client):
    """The list's page, a filtered or searched view, a timeline still reading, and a running
    execution say nothing of what set the run time."""
    for query in ("span=page", "status=succeeded", "q=task-1"):
        html = client.get(f"{STRAGGLERS}?view=timeline&{query}").get_data(as_text=True)
        assert "timeline-cause" not in html, query
    assert "timeline-cause" not in client.get(BIG + "?view=timeline").get_data(as_text=True)
    running = "/jobs/thumbnail-render/executions/exec-slow-thumbnails/tasks?view=timeline"
    html = client.get(running).get_data(as_text=True)
    assert "Shows 60 of 60 tasks" in html and "timeline-cause" not in html


def test_the_timelines_table_shows_a_hostile_task_name_as_inert_text():
    # The table's rows are written in one pass, not through the template's escaping.
    from webapp.health.timeline import timeline

    hostile = '<img src=x onerror="alert(1)">\u202eevil'
    chart = timeline([task(hostile, 0, 5, 65), task("plain", 0, 10, 20)], T0 + timedelta(hours=1))
    rows = "".join(str(found) for _, _, found in chart.groups)
    assert "<img" not in rows and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in rows
    assert '<span class="ctl"' in rows  # the override shown as a mark, not applied
    assert (
        "<tr><th>plain<td>2<td>5<td>0<td>10\n" in rows
    )  # lane, start after the first, waited, ran
