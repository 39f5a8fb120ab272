"""Inside a language model: the entry point.

Run with ``streamlit run app.py``. The pages are declared here with
``st.navigation`` (so the ``pages/`` folder is not auto-discovered); the
sidebar drawn here is shared by every page and keeps the prompt across them.
The language is set first, so the page titles below are already translated.
"""

import streamlit as st

from explainer.i18n import _
from explainer.runtime import use_torch_threads
from pages.classroom import apply_followed_scene, keep_in_step, run_finished
from pages.shared import sidebar, start_language

use_torch_threads()  # a server's cores serve many sessions: one operation does not take them all
apply_followed_scene()  # a student following a room takes the teacher's text and language before anything is drawn
start_language()
st.set_page_config(page_title=_("Inside a language model"), page_icon="🔎", layout="wide")

PAGES = {
    _("The pipeline"): [
        st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
        st.Page("pages/tokenization.py", title=_("1 · Tokenization"), icon=":material/text_fields:"),
        st.Page("pages/attention.py", title=_("2 · Attention"), icon=":material/hub:"),
        st.Page("pages/next_token.py", title=_("3 · Next token"), icon=":material/bar_chart:"),
        st.Page("pages/loss.py", title=_("4 · Loss and perplexity"), icon=":material/trending_down:"),
    ],
    _("Go deeper"): [
        st.Page("pages/embeddings.py", title=_("Embeddings and positions"), icon=":material/scatter_plot:"),
        st.Page("pages/attention_steps.py", title=_("Attention, step by step"), icon=":material/calculate:"),
        st.Page("pages/logit_lens.py", title=_("Logit lens"), icon=":material/layers:"),
        st.Page("pages/generation.py", title=_("Generation"), icon=":material/edit_note:"),
        st.Page("pages/gpt_vs_bert.py", title=_("GPT vs BERT"), icon=":material/compare_arrows:"),
    ],
    _("Watch a model learn"): [
        st.Page("pages/pretraining.py", title=_("5 · Pretraining, live"), icon=":material/model_training:"),
        st.Page("pages/scaling_law.py", title=_("The scaling law"), icon=":material/ssid_chart:"),
        st.Page("pages/fine_tuning.py", title=_("Fine-tuning"), icon=":material/tune:"),
    ],
    _("Reasoning and translation"): [
        st.Page("pages/chain_of_thought.py", title=_("Chain of thought"), icon=":material/format_list_numbered:"),
        st.Page("pages/translation.py", title=_("Translation: encoder and decoder"), icon=":material/translate:"),
    ],
    _("Take it apart"): [
        st.Page("pages/compression.py", title=_("Make it smaller"), icon=":material/compress:"),
        st.Page("pages/ablation.py", title=_("Break it and see"), icon=":material/build:"),
    ],
    _("In class"): [
        st.Page("pages/lessons.py", title=_("Lessons"), icon=":material/school:"),
        st.Page("pages/room.py", title=_("Class room"), icon=":material/groups:"),
        st.Page("pages/guess_game.py", title=_("Guess the next token"), icon=":material/psychology_alt:"),
    ],
}

page = st.navigation(PAGES, position="top")  # the sections are menus in the header: the sidebar keeps the text
sidebar()
keep_in_step(page, [p for section in PAGES.values() for p in section])  # lead or follow a class room
page.run()
run_finished()  # a student's run that showed the teacher's change (traced for bench/room_latency.py)
