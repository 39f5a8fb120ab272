"""The room a class follows, on every page: the teacher's session leads it, the students' sessions follow it.

app.py calls ``apply_followed_scene`` first (before any widget: a followed change of text or language is set
there) and ``keep_in_step`` after the sidebar. A teacher's run publishes what it shows; a student's sidebar
polls the room every ``FOLLOW_SECONDS`` in a fragment and, when the teacher's scene changed, switches to it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from explainer.i18n import _
from explainer.rooms import MAX_GUESS_CHARACTERS, Room, RoomBoard, RoomGone, Scene, clean_code, trace
from pages.shared import LANGUAGE_KEY, literal, requested_model_name

FOLLOW_SECONDS = 1.0  # a student's poll: the class follows the teacher within about this (plus a page run)
JOIN_PARAMETER = "room"  # ?room=CODE joins a room
CODE_KEY, SECRET_KEY, STUDENT_KEY = "room_code", "room_secret", "room_student"  # session-state keys
FOLLOWING_KEY, SWITCHED_AT_KEY, PENDING_KEY = "room_following", "room_last_switch", "room_pending_scene"
FOLLOW_TOGGLE = "room_follow_toggle"  # the toggle's own key; FOLLOWING_KEY holds the choice (see _follow)
SWITCH_PATIENCE = 10.0  # seconds a switch to the teacher's scene may take, under load, before it is asked for again
MY_GUESS_KEY = "room_my_guess"  # (the question, the guess this session sent)
# PENDING_KEY holds the teacher's scene from the run that switched to it until the next run applies it;
# SWITCHED_AT_KEY, the last scene switched to and when; ASKED_KEY, the room version a poll last asked a full run
# for, and when
ASKED_KEY = "room_asked"
SHOWING_KEY = "room_showing"  # the room version this run shows (traced: a student's when the run has finished,
# the teacher's when it changes)


@st.cache_resource
def room_board() -> RoomBoard:
    """The server's rooms (one board per process; with several replicas, sticky sessions keep a class on one)."""
    return RoomBoard()


def is_teacher() -> bool:
    return SECRET_KEY in st.session_state


def is_student() -> bool:
    return STUDENT_KEY in st.session_state


def open_room() -> None:
    st.session_state[CODE_KEY], st.session_state[SECRET_KEY] = room_board().open()
    for key in (STUDENT_KEY, FOLLOWING_KEY):
        st.session_state.pop(key, None)


def join_room(code: str) -> None:
    """Join room ``code`` as a student (the room is checked by the first poll)."""
    st.session_state[CODE_KEY] = clean_code(code)
    st.session_state[STUDENT_KEY] = secrets.token_hex(8)
    st.session_state[FOLLOWING_KEY] = True
    st.session_state.pop(SECRET_KEY, None)


def leave_room() -> None:
    if is_teacher():
        try:
            room_board().close(st.session_state[CODE_KEY], st.session_state[SECRET_KEY])
        except (RoomGone, PermissionError):
            pass
    for key in (CODE_KEY, SECRET_KEY, STUDENT_KEY, FOLLOWING_KEY, FOLLOW_TOGGLE, SWITCHED_AT_KEY, PENDING_KEY, ASKED_KEY):
        st.session_state.pop(key, None)
    st.query_params.pop(JOIN_PARAMETER, None)


def apply_followed_scene() -> None:
    """First thing of a run: join a room named in the URL, and take over a followed scene's text, language and
    model before the sidebar's widgets are made."""
    code = clean_code(st.query_params.get(JOIN_PARAMETER, ""))
    if code and not is_teacher() and st.session_state.get(CODE_KEY) != code:
        join_room(code)
    scene: Scene | None = st.session_state.pop(PENDING_KEY, None)
    if scene is not None:
        st.session_state["prompt"] = scene.text
        st.session_state[LANGUAGE_KEY] = scene.language
        st.session_state["model_choice"] = scene.model


def scene_of_this_run(page: StreamlitPage) -> Scene:
    """What this session shows now."""
    on_lessons = page.url_path == "lessons"
    step = st.query_params.get("step", "1") if on_lessons else "0"
    return Scene(page.url_path, st.session_state.get("prompt", ""), st.session_state.get(LANGUAGE_KEY, "en"),
                 requested_model_name(), st.query_params.get("lesson", "") if on_lessons else "",
                 int(step) if step.isdigit() else 1)


def keep_in_step(page: StreamlitPage, pages: list[StreamlitPage]) -> None:
    """After the sidebar: a teacher's run publishes its scene; a student's sidebar follows the room."""
    if is_teacher():
        try:
            version = room_board().lead(st.session_state[CODE_KEY], st.session_state[SECRET_KEY], scene_of_this_run(page))
            if st.session_state.get(SHOWING_KEY) != version:
                st.session_state[SHOWING_KEY] = version
                _trace("lead", version)
        except RoomGone:
            leave_room()
        return
    if is_student():
        with st.sidebar:
            _follow(page, {p.url_path: p for p in pages})


def _follow(page: StreamlitPage, pages: dict[str, StreamlitPage]) -> None:
    """The student's room panel, drawn on each full run, and a poll that draws nothing: every ``FOLLOW_SECONDS``
    it asks the room for news and, only when there is some, starts one full run: of the teacher's scene (a new
    text, stop or page), or of this page (a question opened or closed). A quiet poll sends nothing to the browser,
    so twenty idle students cost little."""
    code, student = st.session_state[CODE_KEY], st.session_state[STUDENT_KEY]
    try:
        room = room_board().follow(code, student)
    except RoomGone as gone:
        st.warning(str(gone), icon=":material/meeting_room:")
        st.button(_("Leave the room"), key="leave_gone_room", on_click=leave_room)
        return
    with st.container(border=True):
        st.markdown(_("**Room {code}** · you follow your teacher").format(code=code))
        # The choice is kept under a key of its own, not the widget's: a widget's state is dropped when a run that
        # should draw it is cut short (under load, a browser behind by several runs), and the toggle would come
        # back off. Drawn again, the toggle starts from the kept choice.
        st.toggle(_("Follow the teacher"), value=bool(st.session_state.get(FOLLOWING_KEY)), key=FOLLOW_TOGGLE,
                  on_change=_keep_follow_choice,
                  help=_("Off: explore on your own; on: jump back to what your teacher shows."))
        if room.question is not None:
            _guess_form(code, room.question)
        st.button(_("Leave the room"), key="leave_room", on_click=leave_room)
    _catch_up(room, page, pages)
    if room.scene is not None and _shows(room.scene, page, pages):
        st.session_state[SHOWING_KEY] = room.version

    @st.fragment(run_every=FOLLOW_SECONDS)
    def poll() -> None:
        try:
            latest = room_board().follow(code, student)
        except RoomGone:
            st.rerun()  # the full run says so, and stops polling
        behind = st.session_state.get(FOLLOWING_KEY) and latest.scene is not None \
            and not _shows(latest.scene, page, pages)
        asked_for, asked_at = st.session_state.get(ASKED_KEY, (None, 0.0))
        if (behind or latest.question != room.question) and \
                (latest.version != asked_for or time.monotonic() - asked_at > SWITCH_PATIENCE):
            st.session_state[ASKED_KEY] = (latest.version, time.monotonic())  # once: a rerun asked again would
            if behind:  # cancel the slow one under way
                _go_to(latest.scene, page, pages)
            st.rerun()

    poll()


def run_finished() -> None:
    """After a page's run: a student's run that showed the teacher's scene is traced (``rooms.trace``)."""
    if is_student() and SHOWING_KEY in st.session_state:
        _trace("shown", st.session_state.pop(SHOWING_KEY))


def _trace(event: str, version: int) -> None:
    trace(event, st.session_state[CODE_KEY], st.session_state.get(STUDENT_KEY, "teacher"), version)


def _keep_follow_choice() -> None:
    st.session_state[FOLLOWING_KEY] = st.session_state[FOLLOW_TOGGLE]


def _catch_up(room: Room, page: StreamlitPage, pages: dict[str, StreamlitPage]) -> None:
    """Switch to the teacher's scene when this session, following, shows something else. A switch to the same
    scene is given ``SWITCH_PATIENCE`` seconds before it is asked for again: a switch that got lost is retried,
    and a slow one is not restarted every second."""
    if not st.session_state.get(FOLLOWING_KEY) or room.scene is None or _shows(room.scene, page, pages):
        return
    last_scene, last_time = st.session_state.get(SWITCHED_AT_KEY, (None, 0.0))
    if room.scene == last_scene and time.monotonic() - last_time < SWITCH_PATIENCE:
        return
    _go_to(room.scene, page, pages)


def _go_to(scene: Scene, page: StreamlitPage, pages: dict[str, StreamlitPage]) -> None:
    """Show the teacher's ``scene`` in a new run: on this page, one rerun with the stop in the address (the run
    takes the text, language and model first); on another page, a switch to it."""
    st.session_state[SWITCHED_AT_KEY] = (scene, time.monotonic())
    st.session_state[PENDING_KEY] = scene
    stop = {"lesson": scene.lesson, "step": str(scene.step)} if scene.lesson else {}
    target = pages.get(scene.page, page)
    if target.url_path != page.url_path:
        st.switch_page(target, query_params=stop)
    for name in ("lesson", "step"):
        st.query_params.pop(name, None)
    st.query_params.update(stop)
    st.rerun()


def _shows(scene: Scene, page: StreamlitPage, pages: dict[str, StreamlitPage]) -> bool:
    """Whether this session shows ``scene``: its page (if this app has it), text, language and lesson stop. The
    model is left out: a student may not have the teacher's (a model the teacher trained and kept)."""
    here = scene_of_this_run(page)
    return replace(scene, model="", page=scene.page if scene.page in pages else here.page) == replace(here, model="")


def _guess_form(code: str, question: str) -> None:
    """The question's guess box; once sent, the guess stays shown (and can be changed) while the question is open."""
    with st.form("room_guess", clear_on_submit=True, border=False):
        guess = st.text_input(_("Your teacher asks: what comes next?"), max_chars=MAX_GUESS_CHARACTERS,
                              placeholder=_("one word"))
        if st.form_submit_button(_("Send my guess"), icon=":material/send:") and guess.strip():
            if room_board().guess(code, st.session_state[STUDENT_KEY], guess):
                st.session_state[MY_GUESS_KEY] = (question, " ".join(guess.split()))
    sent = st.session_state.get(MY_GUESS_KEY)
    if sent and sent[0] == question:
        st.caption(_("Your guess: {guess}").format(guess=literal(sent[1])))
