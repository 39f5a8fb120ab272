"""Inside a language model: the entry point.

Run with ``streamlit run app.py``. The pages are declared here with
``st.navigation`` (so the ``pages/`` folder is not auto-discovered); the
sidebar drawn here is shared by every page and keeps the prompt across them.
"""

import streamlit as st

from pages.shared import sidebar

st.set_page_config(page_title="Inside a language model", page_icon="🔎", layout="wide")

PAGES = {
    "The pipeline": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/tokenization.py", title="1 · Tokenization", icon=":material/text_fields:"),
        st.Page("pages/attention.py", title="2 · Attention", icon=":material/hub:"),
        st.Page("pages/next_token.py", title="3 · Next token", icon=":material/bar_chart:"),
        st.Page("pages/loss.py", title="4 · Loss and perplexity", icon=":material/trending_down:"),
    ],
    "Go deeper": [
        st.Page("pages/embeddings.py", title="Embeddings and positions", icon=":material/scatter_plot:"),
        st.Page("pages/attention_steps.py", title="Attention, step by step", icon=":material/calculate:"),
        st.Page("pages/logit_lens.py", title="Logit lens", icon=":material/layers:"),
        st.Page("pages/generation.py", title="Generation", icon=":material/edit_note:"),
        st.Page("pages/gpt_vs_bert.py", title="GPT vs BERT", icon=":material/compare_arrows:"),
    ],
    "Watch a model learn": [
        st.Page("pages/pretraining.py", title="5 · Pretraining, live", icon=":material/model_training:"),
        st.Page("pages/scaling_law.py", title="The scaling law", icon=":material/ssid_chart:"),
        st.Page("pages/fine_tuning.py", title="Fine-tuning", icon=":material/tune:"),
    ],
}

page = st.navigation(PAGES, expanded=True)  # all 13 pages listed, in three sections
sidebar()
page.run()
