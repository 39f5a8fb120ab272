"""Training jobs: each run in a background thread, a fixed number at a time per server.

A classroom server's CPU is shared, so a ``JobBoard`` runs at most ``slots``
jobs at once; asking for another while it is full raises ``ServerBusy`` with
a message for the learner. Every job stops itself

- when the learner presses Stop (``stop``);
- when its time limit is spent;
- when nobody has looked at it for ``abandon_after`` seconds: its page calls
  ``heartbeat`` every second or two, so a closed tab frees the CPU quickly.

What a job trains is a *run*: any object with a ``title``, a ``max_steps`` and
an ``execute(job)`` method that trains, polls ``job.should_stop()`` and
reports each step with ``job.on_step``. The run keeps its own curves and
samples, which the page reads while it trains.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from explainer.i18n import N_, _, ngettext

log = logging.getLogger("explainer")
ESTIMATE_AFTER = 0.05  # share of a run done before the time left is estimated


class Run(Protocol):
    """What a job trains. A run whose steps cost unequal time may also define ``progress(step) -> float`` in
    [0, 1], the share of its work done after ``step`` steps; the progress bar and the time left then use it."""

    title: str
    max_steps: int

    def execute(self, job: TrainingJob) -> None: ...


class ServerBusy(RuntimeError):
    """No free training slot; the message is meant for the learner."""


class TrainingJob:
    """One run on its own thread, with its progress and the reason it stopped."""

    def __init__(self, owner: str, run: Run, max_seconds: float, abandon_after: float):
        self.owner = owner
        self.run = run
        self.max_seconds = max_seconds
        self.abandon_after = abandon_after
        self.state = "running"  # running | finished | stopped | failed
        self.stop_reason = ""  # why a stopped job stopped, for the learner (English; ``stop_reason_shown`` translates)
        self._stop_message: tuple[str, dict] = ("", {})  # the same as a catalog message and its values
        self.error = ""
        self.step = 0
        self.started = time.monotonic()
        self.ended: float | None = None
        self._last_seen = self.started
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._work, name=f"training:{run.title}", daemon=True)

    # ------------------------------------------------------- called by the page

    def heartbeat(self) -> None:
        """Say that someone is still watching; without it the job stops after ``abandon_after`` s."""
        self._last_seen = time.monotonic()

    def stop(self, reason: str = N_("you pressed Stop"), **values) -> None:
        """Ask the run to stop; ``reason`` is a catalog message (marked with ``N_``), filled in with ``values``."""
        if self.running and not self._stop.is_set():
            self.stop_reason = reason.format(**values)
            self._stop_message = (reason, values)
            self._stop.set()

    @property
    def stop_reason_shown(self) -> str:
        """``stop_reason`` in the current language (a job may stop on its own thread, where that is English)."""
        reason, values = self._stop_message
        return _(reason).format(**values) if reason else ""

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it ended)."""
        return (self.ended or time.monotonic()) - self.started

    @property
    def fraction_done(self) -> float:
        """Progress in [0, 1]: the larger of steps done and time budget spent."""
        if not self.running:
            return 1.0
        progress = getattr(self.run, "progress", None)
        work = progress(self.step) if progress else self.step / max(1, self.run.max_steps)
        return min(1.0, max(work, self.elapsed / self.max_seconds))

    @property
    def has_a_pace(self) -> bool:
        """Whether enough of the run is done (``ESTIMATE_AFTER``) for ``seconds_left`` to mean something: the first
        seconds go to tokenizing and building models, and an estimate from them overshoots several times."""
        return self.fraction_done >= ESTIMATE_AFTER

    @property
    def seconds_left(self) -> float:
        """An estimate of the time left, from the pace so far and the time limit."""
        if not self.running:
            return 0.0
        by_pace = self.elapsed * (1 - self.fraction_done) / max(self.fraction_done, 1e-6)
        return max(0.0, min(by_pace, self.max_seconds - self.elapsed))

    # -------------------------------------------------------- called by the run

    def on_step(self, step: int, loss: float | None = None) -> None:
        self.step = step

    def should_stop(self) -> bool:
        """Polled by the run every step: Stop pressed, time spent or page gone."""
        now = time.monotonic()
        if now - self._last_seen > self.abandon_after:
            self.stop(N_("nobody watched it for {seconds:.0f} s (the tab was closed)"), seconds=self.abandon_after)
        elif now - self.started > self.max_seconds:
            self.stop(N_("it reached its time limit of {seconds:.0f} s"), seconds=self.max_seconds)
        return self._stop.is_set()

    # ---------------------------------------------------------------- thread

    def _work(self) -> None:
        try:
            self.run.execute(self)
            self.state = "stopped" if self._stop.is_set() else "finished"
        except Exception as error:  # noqa: BLE001 - a failed run must not take the server down
            log.exception("training run %r failed", self.run.title)
            self.error = f"{type(error).__name__}: {error}"
            self.state = "failed"
        finally:
            self.ended = time.monotonic()


class JobBoard:
    """The server's training jobs: at most ``slots`` running, one latest job per owner."""

    def __init__(self, slots: int = 1, abandon_after: float = 20.0, remembered: int = 16):
        self.slots = slots
        self.abandon_after = abandon_after
        self.remembered = remembered
        self._jobs: dict[str, TrainingJob] = {}  # owner (a session) -> its latest job
        self._lock = threading.Lock()

    def ensure_free(self, owner: str) -> None:
        """Raise ``ServerBusy`` unless ``owner`` could start a run now.

        Call it before preparing a run (tokenizing a corpus costs seconds and hundreds of MB), so a busy
        server turns a learner away before doing that work.
        """
        with self._lock:
            self._raise_if_busy(owner)

    def start(self, owner: str, run: Run, max_seconds: float) -> TrainingJob:
        """Start ``run`` for ``owner`` on its own thread; raise ``ServerBusy`` when no slot is free."""
        with self._lock:
            self._raise_if_busy(owner)
            job = TrainingJob(owner, run, max_seconds, self.abandon_after)
            self._jobs.pop(owner, None)
            self._jobs[owner] = job
            self._forget_old_jobs()
            job.thread.start()
            return job

    def _raise_if_busy(self, owner: str) -> None:
        mine = self._jobs.get(owner)
        if mine and mine.running:
            raise ServerBusy(_("Your previous run is still training. Stop it first, or wait for it to finish."))
        running = [job for job in self._jobs.values() if job.running]
        if len(running) >= self.slots:
            soonest = min(job.seconds_left for job in running)
            raise ServerBusy(ngettext(
                "The server is busy: {n} training run already uses its CPU ({title}). "
                "A slot frees up in about {seconds:.0f} s; press Train again then.",
                "The server is busy: {n} training runs already use its CPU ({title}). "
                "A slot frees up in about {seconds:.0f} s; press Train again then.",
                len(running),
            ).format(n=len(running), title=_(running[0].run.title), seconds=soonest))

    def job_of(self, owner: str) -> TrainingJob | None:
        """The owner's latest job, running or not (None if it has none or it was forgotten)."""
        return self._jobs.get(owner)

    def _forget_old_jobs(self) -> None:
        """Keep memory bounded: drop the oldest finished jobs beyond ``remembered``."""
        finished = [owner for owner, job in self._jobs.items() if not job.running]
        for owner in finished[: max(0, len(self._jobs) - self.remembered)]:
            del self._jobs[owner]
