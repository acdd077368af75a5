"""A large batch shared by forked processes (``envelopes.actions.batch.run_steps``): every
step's result comes back once and in order; a child that dies or hangs costs the steps it did
not report, never the whole call or the caller's process (a pool that waits for a dead
child's results forever would hang the request)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from qianshu.envelopes.actions import batch as batch_actions

LOST = ("lost", 0)


@pytest.fixture
def two_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_actions, "processes_for", lambda count: 2)


def _run(step: Any, count: int) -> list[Any]:
    return batch_actions.run_steps(count, lambda index: (step(index), []), LOST)


@pytest.mark.usefixtures("two_processes")
def test_every_step_once_in_order_from_more_than_one_process() -> None:
    parent = os.getpid()
    results = _run(lambda index: (index * index, os.getpid()), 40)
    assert [square for square, _ in results] == [i * i for i in range(40)]
    pids = {pid for _, pid in results}
    assert parent not in pids and len(pids) == 2


@pytest.mark.usefixtures("two_processes")
def test_a_child_that_dies_costs_only_the_steps_it_did_not_report() -> None:
    def step(index: int) -> tuple[int, int]:
        if index == 3:
            os._exit(9)  # as a child killed by the kernel, mid-step
        return index, os.getpid()

    started = time.monotonic()
    results = _run(step, 40)
    assert time.monotonic() - started < batch_actions.STEP_SECONDS
    assert results[3] == LOST
    done = [i for i, result in enumerate(results) if result != LOST]
    # The dead child's chunk (steps 0-4) is lost from step 3 on; every other chunk went to
    # the child that lived.
    assert done == [0, 1, 2, *range(5, 40)]
    assert len({pid for _, pid in results[5:]}) == 1


@pytest.mark.usefixtures("two_processes")
def test_a_child_that_hangs_is_stopped_and_the_others_steps_come_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(batch_actions, "STEP_SECONDS", 5.0)
    marker = tmp_path / "hung"

    def step(index: int) -> int:
        if index == 7:
            marker.write_text(str(os.getpid()))
            time.sleep(600)
        return index

    started = time.monotonic()
    results = _run(step, 40)
    assert time.monotonic() - started < 60
    # Step 7 and the rest of its chunk (5-9) are lost; the other child did every other chunk.
    assert [i for i, result in enumerate(results) if result == LOST] == [7, 8, 9]
    assert all(result == i for i, result in enumerate(results) if result != LOST)
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left behind
        os.kill(int(marker.read_text()), 0)


@pytest.mark.usefixtures("two_processes")
def test_no_process_to_be_had_answers_every_step_lost_instead_of_failing_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forking refused (memory, the process limit): the call still answers, each step lost
    (retried, nothing is signed twice), rather than raising out of the batch."""
    import multiprocessing.context

    def refused(self: Any) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", refused)
    assert _run(lambda index: index, 40) == [LOST] * 40


@pytest.mark.usefixtures("two_processes")
def test_a_second_process_refused_leaves_the_batch_to_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing.context

    start = multiprocessing.context.ForkProcess.start
    started: list[int] = []

    def once(self: Any) -> None:
        if started:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        started.append(1)
        start(self)

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", once)
    results = _run(lambda index: (index, os.getpid()), 40)
    assert [i for i, _ in results] == list(range(40))
    assert len({pid for _, pid in results}) == 1
