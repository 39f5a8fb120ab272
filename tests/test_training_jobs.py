"""The server's training slots: one run at a time, and every run stops by itself."""

import threading
import time

import pytest

from explainer.training.jobs import ESTIMATE_AFTER, JobBoard, ServerBusy

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow


class SpinRun:
    """A run that steps until its job says stop."""

    title = "a test run"
    max_steps = 1_000_000

    def __init__(self):
        self.started = threading.Event()

    def execute(self, job):
        self.started.set()
        step = 0
        while not job.should_stop():
            step += 1
            job.on_step(step)
            time.sleep(0.01)


class FailingRun(SpinRun):
    def execute(self, job):
        raise RuntimeError("out of memory")


def _wait_until_ended(job, seconds=5.0):
    job.thread.join(seconds)
    assert not job.running, "the job should have ended"


def test_a_second_session_is_told_the_server_is_busy_until_the_first_run_ends():
    board = JobBoard(slots=1)
    first = board.start("session A", SpinRun(), max_seconds=60)
    with pytest.raises(ServerBusy, match="busy.*a test run"):
        board.start("session B", SpinRun(), max_seconds=60)
    assert board.job_of("session B") is None
    first.stop()
    _wait_until_ended(first)
    assert first.state == "stopped" and first.stop_reason == "you pressed Stop"
    second = board.start("session B", SpinRun(), max_seconds=60)
    assert second.running and board.job_of("session B") is second
    second.stop()
    _wait_until_ended(second)


def test_two_slots_let_two_sessions_train_but_not_a_third():
    board = JobBoard(slots=2)
    jobs = [board.start(owner, SpinRun(), max_seconds=60) for owner in ("A", "B")]
    with pytest.raises(ServerBusy, match="2 training runs"):
        board.start("C", SpinRun(), max_seconds=60)
    for job in jobs:
        job.stop()
        _wait_until_ended(job)


def test_one_session_cannot_start_a_second_run_while_its_first_trains():
    board = JobBoard(slots=3)
    job = board.start("A", SpinRun(), max_seconds=60)
    with pytest.raises(ServerBusy, match="still training"):
        board.start("A", SpinRun(), max_seconds=60)
    job.stop()
    _wait_until_ended(job)


def test_a_run_nobody_watches_stops_as_if_its_tab_were_closed():
    board = JobBoard(abandon_after=0.3)
    job = board.start("A", SpinRun(), max_seconds=60)
    _wait_until_ended(job)
    assert job.state == "stopped" and "tab was closed" in job.stop_reason
    assert job.elapsed < 3


def test_a_watched_run_keeps_going_and_stops_at_its_time_limit():
    board = JobBoard(abandon_after=0.3)
    job = board.start("A", SpinRun(), max_seconds=1.0)
    while job.running:
        job.heartbeat()
        assert 0 <= job.fraction_done <= 1 and job.seconds_left <= 1.0
        time.sleep(0.05)
    assert job.state == "stopped" and "time limit of 1 s" in job.stop_reason
    assert job.step > 10 and job.fraction_done == 1.0 and job.seconds_left == 0.0


def test_a_failing_run_is_reported_and_frees_its_slot():
    board = JobBoard(slots=1)
    job = board.start("A", FailingRun(), max_seconds=60)
    _wait_until_ended(job)
    assert job.state == "failed" and "out of memory" in job.error
    other = board.start("B", SpinRun(), max_seconds=60)
    other.stop()
    _wait_until_ended(other)


def test_the_board_forgets_old_finished_jobs():
    board = JobBoard(remembered=2)
    for owner in "ABCD":
        job = board.start(owner, SpinRun(), max_seconds=60)
        job.stop()
        _wait_until_ended(job)
    assert board.job_of("A") is None and board.job_of("D") is not None


class HalfwayRun(SpinRun):
    """A run whose share of work done is set by the test (``progress``)."""

    max_steps = 100
    done = 0.0

    def progress(self, step: int) -> float:
        return self.done


def test_the_time_left_is_estimated_only_once_the_run_has_a_pace():
    board = JobBoard(abandon_after=60)
    run = HalfwayRun()
    job = board.start("A", run, max_seconds=600)
    run.started.wait(5)
    run.done = ESTIMATE_AFTER / 2  # the first seconds: tokenizing, building models
    assert not job.has_a_pace
    run.done = 0.5
    time.sleep(0.05)
    assert job.has_a_pace and job.seconds_left == pytest.approx(job.elapsed, rel=0.2, abs=0.05)
    job.stop()
    _wait_until_ended(job)
