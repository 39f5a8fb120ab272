"""Lessons: a guided path through the pipeline, one stop at a time, each with a question to answer before the reveal.

The URL names the stop (``?lesson=attention&step=3``), so a teacher can link it; ``&present=1`` is the presenter
view: large type, no controls and no sidebar, and the arrow keys move through the stops.
"""

import hashlib

import streamlit as st

from explainer import plots
from explainer.i18n import _, labelled
from explainer.lessons import LESSONS, Answer, Lesson, stop_at
from pages.lesson_views import VIEWS, Context
from pages.shared import CHART_SOURCE, cached_analysis, default_model, literal, page_header, require_app_entry

PRESENTER_STYLE = """<style>
/* The presenter view: for the back of a room at 1280×720. No sidebar, no header, no controls. */
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
.st-key-lesson_controls, [data-testid="stToolbar"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1.2rem !important; max-width: 100% !important; }
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label p { font-size: 1.45rem !important; }
[data-testid="stMain"] h1 { font-size: 2.2rem !important; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 2rem !important; }
[data-testid="stMain"] code, [data-testid="stMain"] [data-testid="stText"] { font-size: 1.3rem !important; }
.stPlotlyChart { zoom: 1.2; }
</style>"""

ARROW_KEYS = """<script>
if (!window.lessonArrowKeys) {  // one listener, however often the page reruns
  window.lessonArrowKeys = true;
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, [contenteditable]")) return;
    const button = {ArrowRight: "lesson_next", ArrowLeft: "lesson_back", r: "lesson_reveal"}[event.key];
    const target = button && document.querySelector(`.st-key-${button} button`);
    if (target && !target.disabled) { event.preventDefault(); target.click(); }
  });
}
</script>"""


def lesson_from_url() -> Lesson | None:
    return LESSONS.get(st.query_params.get("lesson", ""))


def step_from_url() -> int:
    try:
        return int(st.query_params.get("step", "1"))
    except ValueError:
        return 1


def go_to(lesson: Lesson, step: int) -> None:
    """Move to ``step`` of ``lesson``: the URL changes, so the stop can be linked."""
    st.query_params["lesson"] = lesson.key
    st.query_params["step"] = str(min(max(1, step), len(lesson.stops)))


def choose_lesson() -> None:
    """The lesson cards, shown when the URL names no lesson."""
    page_header(_("Lessons"), _("A guided path through the model, one stop at a time. At each stop, guess first, "
                                "then see the answer the model gives."))
    for column, lesson in zip(st.columns(len(LESSONS)), LESSONS.values()):
        with column.container(border=True):
            st.subheader(_(lesson.title))
            st.write(_(lesson.summary))
            st.caption(_("{n} stops").format(n=len(lesson.stops)))
            st.button(_("Start"), key=f"start_{lesson.key}", on_click=go_to, args=(lesson, 1), type="primary",
                      icon=":material/play_arrow:")


def formatted(template: str, answer: Answer) -> str:
    """``template`` (translated) filled with the answer's facts; text facts are shown literally."""
    facts = {name: literal(value) if isinstance(value, str) else value for name, value in answer.facts.items()}
    return _(template).format(**facts)


def option_label(answer: Answer):
    def label(index: int) -> str:
        option = answer.options[index]
        if not option.untrusted:
            return _(option.text).format(**answer.facts)
        return literal(option.text) if option.position is None else f"{option.position}: {literal(option.text)}"

    return label


require_app_entry()
lesson = lesson_from_url()
if lesson is None:
    choose_lesson()
    st.stop()

presenter = st.query_params.get("present") == "1"
step, stop = stop_at(lesson, step_from_url())
language = st.session_state.get("lang", "en")
with st.container(key="lesson_controls"):
    controls = st.columns([3, 2, 2], vertical_alignment="bottom")
    chosen = controls[0].selectbox(_("Lesson"), list(LESSONS), index=list(LESSONS).index(lesson.key),
                                   format_func=labelled(list(LESSONS), lambda key: _(LESSONS[key].title)))
    if chosen != lesson.key:
        go_to(LESSONS[chosen], 1)
        st.rerun()
    own_text = controls[1].toggle(_("Use my own text"), key="lesson_own_text",
                                  help=_("Off: the lesson's sentence. On: the text in the sidebar."))
    controls[2].link_button(_("Presenter view"), f"?lesson={lesson.key}&step={step}&present=1&lang={language}",
                            icon=":material/co_present:", help=_("Large type, no controls, arrow keys move."))
if presenter:
    st.html(PRESENTER_STYLE)
    st.html(ARROW_KEYS, unsafe_allow_javascript=True)

model_name = default_model()
text = (st.session_state.get("prompt", "") if own_text else "") or lesson.prompts.get(language, lesson.prompts["en"])
try:
    analysis = cached_analysis(model_name, text)
except ValueError as hint:
    st.info(str(hint), icon=":material/edit:")
    st.stop()
st.session_state[CHART_SOURCE] = plots.source_line(model_name, text)  # every chart of the stop says what it shows
context = Context(model_name, text, analysis, seed=f"{lesson.key}/{step}/{language}")
view = VIEWS[stop.view]
answer = view.answer(context)

st.progress(step / len(lesson.stops), text=_("{lesson} · stop {step} of {n}").format(
    lesson=_(lesson.title), step=step, n=len(lesson.stops)))
st.header(_(stop.title))
st.markdown(_(stop.explanation))
st.caption(_("The text, as {model} reads it:").format(model=literal(model_name)))
st.text(text)

text_key = hashlib.sha256(f"{model_name}\n{text}".encode()).hexdigest()[:12]
guess_key = f"guess_{lesson.key}_{step}_{text_key}"
revealed_key = f"revealed_{guess_key}"
guess = st.radio(formatted(stop.question, answer), range(len(answer.options)), index=None, key=guess_key,
                 format_func=option_label(answer), disabled=st.session_state.get(revealed_key, False))
reveal_label = _("Reveal the answer") if presenter else _("Lock in my guess")
if not st.session_state.get(revealed_key):
    if st.button(reveal_label, key="lesson_reveal", type="primary", disabled=guess is None and not presenter,
                 icon=":material/visibility:"):
        st.session_state[revealed_key] = True
        st.rerun()
    if not presenter:
        st.caption(_("Choose an answer, then lock it in: the chart and the answer appear after your guess."))
else:
    if answer.correct is None:
        st.info(_("The answer comes from a run: press the button below, and it shows when both have trained."),
                icon=":material/hourglass_top:")
    else:
        right = option_label(answer)(answer.correct)
        if guess == answer.correct:
            st.success(_("Right: {answer}.").format(answer=right), icon=":material/check_circle:")
        elif guess is None:
            st.info(_("The answer: {answer}.").format(answer=right), icon=":material/lightbulb:")
        else:
            st.warning(_("Not this time: the answer is {answer}.").format(answer=right), icon=":material/lightbulb:")
        st.markdown(formatted(stop.reveal, answer))
    view.draw(context)

back, where, forward = st.columns([1, 2, 1], vertical_alignment="center")
back.button(_("Back"), key="lesson_back", on_click=go_to, args=(lesson, step - 1), disabled=step == 1,
            icon=":material/arrow_back:", width="stretch")
where.caption(_("Link to this stop: {link}").format(link=literal(f"?lesson={lesson.key}&step={step}")))
forward.button(_("Next"), key="lesson_next", on_click=go_to, args=(lesson, step + 1), disabled=step == len(lesson.stops),
               icon=":material/arrow_forward:", width="stretch")
