"""What the three training pages share: the server's job board, the Train button,
the live progress panel with its Stop button, and the sidebar's heartbeat.

The CPU is shared: ``EXPLAINER_TRAINING_SLOTS`` runs at a time (default 1),
each at most ``EXPLAINER_MAX_TRAINING_SECONDS`` (default 300). A run stops
when its session's tab has been closed for 20 s: every page of the session
sends a heartbeat from the sidebar while its run trains.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import streamlit as st

from explainer.i18n import _, set_language
from explainer.training.jobs import JobBoard, ServerBusy, TrainingJob
from pages.untrusted import literal

TRAINING_SLOTS = int(os.environ.get("EXPLAINER_TRAINING_SLOTS", "1"))
MAX_TRAINING_SECONDS = float(os.environ.get("EXPLAINER_MAX_TRAINING_SECONDS", "300"))
REFRESH_SECONDS = 2.0  # 1 s made the browser's redraws slow a run on 2 CPUs by half (0:45 → 1:07)


@st.cache_resource
def job_board() -> JobBoard:
    """The one job board of this server process."""
    return JobBoard(slots=TRAINING_SLOTS)


def session_owner() -> str:
    """A random id for this browser session: the owner of its training jobs."""
    return st.session_state.setdefault("training_owner", uuid.uuid4().hex)


def my_job(run_type: type) -> TrainingJob | None:
    """This session's latest job if it trains a ``run_type``, else None."""
    job = job_board().job_of(session_owner())
    return job if job and isinstance(job.run, run_type) else None


def train_button(label: str, make_run: Callable[[], object], max_seconds: float, disabled: bool = False) -> None:
    """A Train button that starts ``make_run()`` on the board, or says why the server can't now."""
    running = job_board().job_of(session_owner())
    if st.button(label, type="primary", icon=":material/play_arrow:", disabled=disabled or bool(running and running.running)):
        try:
            job_board().ensure_free(session_owner())  # before make_run(): tokenizing a corpus costs seconds
            job_board().start(session_owner(), make_run(), min(max_seconds, MAX_TRAINING_SECONDS))
        except ServerBusy as busy:
            st.warning(str(busy), icon=":material/hourglass_top:")
            return
        except ValueError as problem:  # e.g. a pasted corpus that is too short
            st.info(str(problem), icon=":material/edit:")
            return
        st.rerun()


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def live_panel(job: TrainingJob, draw: Callable[[object], None]) -> None:
    """Progress, Stop and ``draw(run)``, redrawn every two seconds while ``job`` trains.

    When the run ends, the whole page reruns once, so it can offer the result.
    """
    was_running = job.running

    @st.fragment(run_every=REFRESH_SECONDS if was_running else None)
    def panel() -> None:
        set_language(st.session_state.get("lang"))  # a fragment's rerun does not run app.py
        job.heartbeat()
        title = _(job.run.title)
        if job.running:
            status, stop = st.columns([5, 1], vertical_alignment="bottom")
            if job.has_a_pace:
                status.progress(job.fraction_done, text=_(
                    "Training **{title}** · {elapsed} elapsed · about {left} left · step {step:,}").format(
                    title=title, elapsed=_minutes(job.elapsed), left=_minutes(job.seconds_left), step=job.step))
            else:
                status.progress(job.fraction_done, text=_(
                    "Training **{title}** · {elapsed} elapsed · estimating the time left · step {step:,}").format(
                    title=title, elapsed=_minutes(job.elapsed), step=job.step))
            stop.button(_("Stop"), icon=":material/stop:", on_click=job.stop, key="stop_training", width="stretch")
        elif job.state == "finished":
            st.success(_("**{title}** finished in {elapsed} ({steps:,} steps).").format(
                title=title, elapsed=_minutes(job.elapsed), steps=job.step), icon=":material/check_circle:")
        elif job.state == "stopped":
            st.info(_("**{title}** stopped after {elapsed} ({steps:,} steps) because {reason}.").format(
                title=title, elapsed=_minutes(job.elapsed), steps=job.step, reason=job.stop_reason_shown),
                icon=":material/stop_circle:")
        else:
            st.error(_("**{title}** failed: {error}").format(title=title, error=literal(job.error)), icon=":material/error:")
        draw(job.run)
        if was_running and not job.running:
            st.rerun()  # redraw the page once, without the one-second refresh

    panel()


def sidebar_heartbeat() -> None:
    """While this session trains, keep its run alive from any page and show how far it got."""
    job = job_board().job_of(session_owner()) if "training_owner" in st.session_state else None
    if not job or not job.running:
        return

    @st.fragment(run_every=2.0)
    def beat() -> None:
        set_language(st.session_state.get("lang"))  # a fragment's rerun does not run app.py
        job.heartbeat()
        if job.running:
            st.progress(job.fraction_done, text=_("Training: {title}").format(title=_(job.run.title)))
        else:
            st.caption(_("Training ended: {title}").format(title=_(job.run.title)))

    with st.sidebar:
        beat()
