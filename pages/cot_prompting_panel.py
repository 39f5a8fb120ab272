"""The chain-of-thought page's second tab: ask a hub instruct model the same question three ways (directly, "Let's
think step by step", one worked example) and measure each way on the bundled questions.

``pages/chain_of_thought.py`` calls ``draw_prompting()`` inside its tab. Offline (the hub unreachable, the model not
cached), the tab says so and points to the first tab, whose two models were trained here.
"""

import logging

import pandas as pd
import streamlit as st

from explainer import cot_prompting, plots
from explainer.cot_prompting import INSTRUCT_MODELS, MAX_NEW_TOKENS, MAX_QUESTION_CHARACTERS, STYLE_NAMES, STYLES, Reply
from explainer.i18n import _, current_language, labelled
from explainer.models import REGISTRY, HubUnreachable, ModelUnavailable, available_models
from pages.shared import cached_model, chart, csv_download, literal

MODEL_KEY = "cot_prompting_model"  # the instruct-model picker
QUESTION_KEY = "cot_prompting_question"  # the question picker: a bundled question's id, or OWN
OWN = "own"
OWN_TEXT = "cot_prompting_own_text"  # the learner's own question
ASKED = "cot_prompting_asked"  # session state: the (model, language, question, expected) the learner has asked
COUNT_KEY = "cot_prompting_count"  # how many bundled questions to measure
MEASURED = "cot_prompting_measured"  # session state: the (model, language, count) measured
COUNTS = (5, 10, 20)
BUSY_CPU_TOKENS_PER_SECOND = 2.5  # greedy, 1 torch thread, 2 busy cores: 1.7 (SmolLM2-360M's shape), 3.0 (Qwen2.5-0.5B's)
HIT, MISS = ":green[:material/check_circle:]", ":red[:material/cancel:]"

log = logging.getLogger("explainer")


@st.cache_resource
def question_set() -> cot_prompting.QuestionSet:
    return cot_prompting.load_questions()


@st.cache_data(ttl=120, show_spinner=False)
def model_problem(name: str, language: str) -> tuple[bool, str] | None:
    """None when ``name`` loads; else (offline, message): offline when the hub cannot be reached (remembered for
    two minutes; ``language`` keys the message's language)."""
    try:
        cached_model(name)
        return None
    except HubUnreachable:
        return True, ""
    except ModelUnavailable as error:
        return False, str(error)
    except Exception:  # noqa: BLE001 - any loading failure must become a message, not a traceback
        log.exception("loading %s failed", name)
        return False, _("{model} could not be loaded.").format(model=literal(name))


@st.cache_data(max_entries=512, show_spinner=False)
def cached_reply(model_name: str, question: str, style: str, language: str, expected: float | None) -> Reply:
    """One question asked one way (greedy, so the same for every session: computed once per server)."""
    return cot_prompting.ask(cached_model(model_name), question, style, language, question_set().examples[language],
                             expected)


def number_text(value: float | None) -> str:
    """An answer as read: every digit kept ("1,234", "-5", "12.5"), "–" for none."""
    if value is None:
        return "–"
    return f"{int(value):,}" if value.is_integer() else f"{value:,}"


def draw_reply(reply: Reply) -> None:
    """One style's reply (untrusted text, shown as code), its answer and whether it is right."""
    st.markdown(f"**{_(STYLE_NAMES[reply.style])}**")
    st.code(reply.text or " ", language=None, wrap_lines=True, height=260)
    mark = "" if reply.correct is None else (HIT if reply.correct else MISS) + " "
    st.markdown(mark + _("Answer read: **{answer}**").format(answer=number_text(reply.answer)))
    length = (_("{tokens} new tokens, {seconds:.1f} s") if reply.finished else
              _("{tokens} new tokens (cut at the limit), {seconds:.1f} s"))
    st.caption(length.format(tokens=reply.new_tokens, seconds=reply.seconds))
    with st.expander(_("What the model read")):
        st.code(reply.prompt, language=None, wrap_lines=True)


def pick_question(language: str) -> tuple[str, float | None] | None:
    """The question picker; returns (question, its answer or None), or None while the learner's own is not usable."""
    questions = question_set().questions
    options = [q.id for q in questions] + [OWN]
    by_id = {q.id: q for q in questions}
    choice = st.selectbox(_("Question"), options, key=QUESTION_KEY, format_func=labelled(
        options, lambda key: _("Your own question…") if key == OWN else f"{options.index(key) + 1}. "
                                                                       f"{by_id[key].text(language)}"))
    if choice != OWN:
        question = by_id[choice]
        st.caption(_("The right answer: {answer}").format(answer=number_text(question.answer)))
        return question.text(language), question.answer
    text = st.text_area(_("Your question (a word problem with one number as its answer)"), key=OWN_TEXT,
                        max_chars=MAX_QUESTION_CHARACTERS, height=90)
    try:
        return cot_prompting.check_question(text), None
    except ValueError as problem:
        st.info(str(problem), icon=":material/edit:")
        return None


def draw_prompts_and_questions(language: str) -> None:
    """What the three prompts say (for the first bundled question) and every bundled question with its answer:
    readable offline too, e.g. to ask a class."""
    questions = question_set()
    with st.expander(_("The three prompts, and the {n} bundled questions").format(n=len(questions.questions))):
        first = questions.questions[0].text(language)
        for column, style in zip(st.columns(3), STYLES):
            column.markdown(f"**{_(STYLE_NAMES[style])}**")
            column.code(cot_prompting.messages_text(cot_prompting.build_messages(
                first, style, language, questions.examples[language])), language=None, wrap_lines=True)
        st.dataframe(pd.DataFrame({"question": [q.text(language) for q in questions.questions],
                                   "answer": [int(q.answer) for q in questions.questions]}),
                     hide_index=True, column_config={
                         "question": st.column_config.TextColumn(_("question"), width="large"),
                         "answer": st.column_config.NumberColumn(_("answer"), width="small")})
        st.caption(_("Written for this app in English and Chinese (MIT licence), like the worked example."))


def draw_measurement(model_name: str, language: str, asked: list[Reply]) -> None:
    """The button that asks the first N bundled questions three ways, and the accuracy table and chart."""
    st.subheader(_("Each way's accuracy on the bundled questions"))
    questions = question_set()
    count = st.segmented_control(_("Questions to ask"), COUNTS, key=COUNT_KEY, default=COUNTS[0], required=True)
    rate = cot_prompting.tokens_per_second(asked)
    replies = count * len(STYLES)
    if rate:
        estimate = _("{replies} replies of up to {tokens} tokens each: at most {minutes:.0f} minutes at the speed of the "
                     "replies above ({rate:.1f} tokens a second on this server). Replies that stop early take less; the "
                     "server is shared, so ask for more questions only when you need them.")
    else:
        rate = BUSY_CPU_TOKENS_PER_SECOND
        estimate = _("{replies} replies of up to {tokens} tokens each: at most {minutes:.0f} minutes at {rate:.1f} tokens "
                     "a second (models of these sizes on one core of a busy machine; ask one question above to measure "
                     "this server). Replies that stop early take less; the server is shared, so ask for more questions "
                     "only when you need them.")
    st.caption(estimate.format(replies=replies, tokens=MAX_NEW_TOKENS, rate=rate,
                               minutes=replies * MAX_NEW_TOKENS / rate / 60))
    wanted = (model_name, language, count)
    if st.button(_("Ask {n} questions three ways").format(n=count), icon=":material/play_arrow:"):
        progress = st.progress(0.0, text=_("Starting…"))
        done = []
        for question in questions.questions[:count]:
            for style in STYLES:
                done.append(cached_reply(model_name, question.text(language), style, language, question.answer))
                left = (replies - len(done)) * sum(r.seconds for r in done) / len(done)
                progress.progress(len(done) / replies, text=_("{done} of {total} replies; about {minutes:.0f} "
                                                              "minutes left").format(done=len(done), total=replies,
                                                                                     minutes=left / 60))
        progress.empty()
        st.session_state[MEASURED] = wanted
    if st.session_state.get(MEASURED) != wanted:
        return
    measured = [cached_reply(model_name, q.text(language), style, language, q.answer)  # from the cache
                for q in questions.questions[:count] for style in STYLES]
    scores = cot_prompting.scores_table(cot_prompting.score(measured))
    names = {style: _(STYLE_NAMES[style]) for style in STYLES}
    figure_box, table_box = st.columns(2)
    with figure_box:
        chart(plots.prompting_accuracy_bars(scores, names), scores, "cot_prompting_accuracy",
              _("Accuracy of each way, {n} questions").format(n=count), source=plots.source_line(model_name))
    with table_box:
        st.dataframe(scores.assign(style=[names[s] for s in scores["style"]]), hide_index=True,
                     column_order=["style", "correct", "accuracy", "mean_new_tokens", "cut"], column_config={
                         "style": _("prompt"),
                         "correct": st.column_config.NumberColumn(_("right")),
                         "accuracy": st.column_config.NumberColumn(_("accuracy"), format="percent"),
                         "mean_new_tokens": st.column_config.NumberColumn(_("tokens a reply"), format="%.0f"),
                         "cut": st.column_config.NumberColumn(_("cut at the limit")),
                     })
        st.caption(_("Tokens a reply: the mean length of the replies, the price of thinking aloud. Cut at the limit: "
                     "replies stopped at {tokens} tokens before they ended.").format(tokens=MAX_NEW_TOKENS))
    with st.expander(_("Every reply")):
        table = cot_prompting.replies_table(measured)
        st.dataframe(table, hide_index=True)
        csv_download(table, "cot_prompting_replies")


def draw_prompting() -> None:
    """Draw the online prompting tab: model and question pickers, three replies side by side, the measurement."""
    language = current_language()
    st.markdown(_("A model tuned to follow instructions gets the same question three ways: **directly** (\"answer "
                  "with the number only\"), with **\"Let's think step by step\"** added, and after **one worked "
                  "example** whose answer shows its steps. Its reply is greedy (the most likely token each time, so "
                  "always the same), and the answer read from it is its last number."))
    draw_prompts_and_questions(language)
    allowed = {spec.name for spec in available_models()}
    names = [name for name in INSTRUCT_MODELS if name in allowed]
    if not names:
        st.info(_("This server's model list has no instruct model, so this tab cannot run here. The first tab's "
                  "models were trained here and work offline."), icon=":material/block:")
        return
    model_name = st.selectbox(_("Instruct model"), names, key=MODEL_KEY,
                              format_func=labelled(names, lambda name: f"{name} — {_(REGISTRY[name].description)}"))
    problem = model_problem(model_name, language)
    if problem:
        offline, message = problem
        if offline:
            st.info(_("The Hugging Face hub cannot be reached from this server, and {model} is not on this machine, "
                      "so this tab cannot run here. The first tab works offline: two tiny models trained in this "
                      "repository, one that answers at once and one that writes its steps first, and their measured "
                      "accuracy.").format(model=literal(model_name)), icon=":material/cloud_off:")
        else:
            st.warning(message, icon=":material/block:")
        return
    picked = pick_question(language)
    if picked is None:
        return
    question, expected = picked
    key = (model_name, language, question, expected)
    if st.button(_("Ask it three ways"), type="primary", icon=":material/forum:"):
        st.session_state[ASKED] = key
    asked = []
    if st.session_state.get(ASKED) == key:
        for column, style in zip(st.columns(3), STYLES):
            with column, st.spinner(_("Writing…")):
                asked.append(cached_reply(model_name, question, style, language, expected))
                draw_reply(asked[-1])
    else:
        st.caption(_("Each reply may take up to {tokens} tokens: up to a few minutes on a CPU.").format(
            tokens=MAX_NEW_TOKENS))
    draw_measurement(model_name, language, asked)
