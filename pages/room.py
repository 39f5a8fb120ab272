"""Class room: a teacher opens a room and the class follows; the teacher can ask what comes next and see the
class's guesses beside the model's."""

import pandas as pd
import streamlit as st

from explainer import plots
from explainer.guessing import guess_probability, top_next
from explainer.i18n import _, set_language
from explainer.numbers import plain_number
from explainer.rooms import CODE_LENGTH, IDLE_MINUTES, RoomGone, RoomsFull, as_continuation, tally
from pages.classroom import (
    CODE_KEY,
    JOIN_PARAMETER,
    SECRET_KEY,
    is_student,
    is_teacher,
    join_room,
    leave_room,
    open_room,
    room_board,
)
from pages.shared import LANGUAGE_KEY, cached_model, chart, literal, page_header, requested_model_name

REFRESH_SECONDS = 2.0  # the teacher's view of the class


def join_link(code: str) -> str:
    """The link students open: this server, the home page, and the room's code."""
    base = (st.context.url or "").split("?")[0].rsplit("/", 1)[0]
    return f"{base}/?{JOIN_PARAMETER}={code}"


@st.cache_data(max_entries=64, show_spinner=False)
def model_view(model_name: str, question: str):
    """The model's top 10 after the question's text: computed once, not on every refresh of the teacher's view."""
    return top_next(cached_model(model_name), question, k=10)


@st.cache_data(max_entries=1024, show_spinner=False)
def guess_chance(model_name: str, question: str, guess: str) -> float:
    """The model's probability of a class guess after the question's text (once per distinct guess)."""
    return guess_probability(cached_model(model_name), question, as_continuation(question, guess)).probability


def try_to_open() -> None:
    try:
        open_room()
    except RoomsFull as full:
        st.session_state["room_problem"] = str(full)


def teacher_view() -> None:
    code = st.session_state[CODE_KEY]
    big, link = st.columns([1, 2], vertical_alignment="center")
    big.metric(_("Room code"), code)
    link.markdown(_("Students open {link}, or type the code on this page. They then see your page, text and "
                    "lesson stop, within about two seconds of each change.").format(link=literal(join_link(code))))
    asking = st.columns([1, 1, 1])
    asking[0].button(_("Ask: what comes next?"), type="primary", icon=":material/quiz:",
                     on_click=lambda: room_board().ask(code, st.session_state[SECRET_KEY]),
                     help=_("The class guesses the next word of your text; each student's last guess counts."))
    asking[1].button(_("Close the question"), icon=":material/done_all:",
                     on_click=lambda: room_board().close_question(code, st.session_state[SECRET_KEY]))
    asking[2].button(_("Close the room"), icon=":material/logout:", on_click=leave_room)
    st.caption(_("The room closes by itself {minutes} minutes after your last page change.").format(minutes=IDLE_MINUTES))

    @st.fragment(run_every=REFRESH_SECONDS)
    def the_class() -> None:
        set_language(st.session_state.get(LANGUAGE_KEY))
        try:
            students = room_board().students(code, st.session_state[SECRET_KEY])
            guesses = room_board().guesses(code, st.session_state[SECRET_KEY])
            question = room_board().question(code, st.session_state[SECRET_KEY])
        except RoomGone:
            st.warning(_("The room has closed."), icon=":material/meeting_room:")
            return
        st.markdown(_("**{n}** students following.").format(n=students))
        if question is None:
            st.caption(_("Ask the class what comes next to collect their guesses."))
            return
        class_guesses = tally(guesses)
        st.markdown(_("**What comes next after** {text}? {n} guesses so far.").format(
            text=literal(question[-80:]), n=len(guesses)))
        if class_guesses.empty:
            return
        model_name = requested_model_name()
        chart(plots.class_and_model_bars(class_guesses, model_view(model_name, question)), class_guesses, "class_guesses",
              _("The class's guesses beside the model's distribution"), source=plots.source_line(model_name, question))
        scored = pd.DataFrame({
            "guess": class_guesses["guess"], "students": class_guesses["students"],
            "model_probability": [plain_number(guess_chance(model_name, question, g)) for g in class_guesses["guess"]],
        })
        st.dataframe(scored, hide_index=True, column_config={
            "guess": _("guess"), "students": _("students"), "model_probability": _("the model's probability")})

    the_class()


def student_view() -> None:
    st.success(_("You are in room {code}. Your screen follows your teacher's; the sidebar says when there is a "
                 "question for you.").format(code=literal(st.session_state[CODE_KEY])), icon=":material/groups:")
    st.button(_("Leave the room"), on_click=leave_room, icon=":material/logout:")


def lobby() -> None:
    teach, learn = st.columns(2, gap="large")
    with teach.container(border=True):
        st.subheader(_("Teach"))
        st.write(_("Open a room: your class sees what you show, page by page, and can send you guesses."))
        st.button(_("Open a room"), type="primary", on_click=try_to_open, icon=":material/add_circle:")
        if problem := st.session_state.pop("room_problem", None):
            st.warning(problem, icon=":material/block:")
    with learn.container(border=True):
        st.subheader(_("Join"))
        code = st.text_input(_("Room code"), max_chars=CODE_LENGTH, placeholder="ABC23")
        if st.button(_("Join"), icon=":material/login:") and code.strip():
            join_room(code)
            st.rerun()


page_header(_("Class room"), _("Teach with it: the class follows your screen and answers your questions."))
if is_teacher():
    teacher_view()
elif is_student():
    student_view()
else:
    lobby()
