"""Tokenization: how the text becomes tokens, and how tokenizers differ."""

import pandas as pd
import streamlit as st

from explainer import plots, tokenization
from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, load_tokenizer
from explainer.token_html import token_chips
from pages.shared import cached_model, chart, csv_download, literal, page_analysis, page_header

HUB_TOKENIZERS = ("gpt2", "bert-base-uncased")  # shown when they are in the local Hugging Face cache
COMPARED_CHARACTERS = 1000  # the comparison draws every byte as a chip; keep it readable


@st.cache_resource
def comparison_tokenizers() -> dict[str, object]:
    """The embedded tokenizers, plus hub ones found on this machine."""
    found = {
        f"{EMBEDDED_GPT} (byte-level BPE)": cached_model(EMBEDDED_GPT).tokenizer,
        f"{EMBEDDED_BERT} (WordPiece)": cached_model(EMBEDDED_BERT).tokenizer,
    }
    for name in HUB_TOKENIZERS:
        tokenizer = load_tokenizer(name)
        if tokenizer is not None:
            found[name] = tokenizer
    return found


page_header("1 · Tokenization", "How does the model cut your text into tokens, and what number is each token?")
analysis = page_analysis()
tokens = analysis.tokens

characters = len(tokens.text)
first, second, third = st.columns(3)
first.metric("Characters", f"{characters:,}")
second.metric("Tokens", f"{len(tokens):,}")
third.metric("Characters per token", f"{characters / max(1, len(tokens)):.2f}")

st.subheader(f"Your text as {literal(analysis.model_name)} sees it")
st.html(token_chips(tokens))
st.caption(
    "Each chip is one token; hover for its id. ␣ is a space, ↵ a new line. "
    "A token shown as bytes such as <E5> is a piece of a character (Chinese, emoji) "
    "that needs several bytes in UTF-8; the model learns which pieces go together."
)

with st.expander("Table: id, token and bytes of every token", expanded=len(tokens) <= 30):
    rows = pd.DataFrame(tokenization.token_rows(tokens))
    st.dataframe(rows, hide_index=True)
    csv_download(rows, "tokens")

st.subheader("The same text, four ways")
st.caption(
    "Byte-level BPE (GPT-2's scheme) can spell anything from 256 bytes; WordPiece (BERT's) lower-cases and "
    "marks word continuations with ##, and gives [UNK] for what it never saw; characters and bytes are the "
    "two extremes: no vocabulary to learn, but long sequences."
)
compared_text = tokens.text[:COMPARED_CHARACTERS]
if len(tokens.text) > COMPARED_CHARACTERS:
    st.info(f"The comparison uses the first {COMPARED_CHARACTERS:,} characters of your text.")
compared = tokenization.compare(compared_text, comparison_tokenizers())
counts = {name: len(result) for name, result in compared.items()}
chart(
    plots.token_count_bars(counts, len(compared_text)),
    pd.DataFrame({"tokenizer": list(counts), "tokens": list(counts.values()), "characters": len(compared_text)}),
    "token_counts",
)
for name, result in compared.items():
    st.markdown(f"**{name}** · {len(result):,} tokens")
    st.html(token_chips(result))
