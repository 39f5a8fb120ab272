"""Tokenization: how the text becomes tokens, and how tokenizers differ."""

import pandas as pd
import streamlit as st

from explainer import plots, tokenization
from explainer.i18n import N_, _, lazy
from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, load_tokenizer
from explainer.token_html import token_chips
from pages.shared import cached_model, chart, csv_download, literal, page_analysis, page_header

HUB_TOKENIZERS = ("gpt2", "bert-base-uncased")  # shown when they are in the local Hugging Face cache
COMPARED_CHARACTERS = 1000  # the comparison draws every byte as a chip; keep it readable
SCHEMES = {EMBEDDED_GPT: N_("byte-level BPE"), EMBEDDED_BERT: N_("WordPiece")}  # what the embedded tokenizers are


@st.cache_resource(show_spinner=lazy(N_("Loading the tokenizers…")))
def comparison_tokenizers() -> dict[str, object]:
    """The embedded tokenizers, plus hub ones found on this machine (named in English: see ``shown_name``)."""
    found = {name: cached_model(name).tokenizer for name in SCHEMES}
    for name in HUB_TOKENIZERS:
        tokenizer = load_tokenizer(name)
        if tokenizer is not None:
            found[name] = tokenizer
    return found


def shown_name(name: str) -> str:
    """A compared tokenizer's name on screen, in the current language."""
    if name in SCHEMES:
        return _("{model} ({scheme})").format(model=name, scheme=_(SCHEMES[name]))
    return _(name)  # "characters" and "UTF-8 bytes" are catalog entries; hub names translate to themselves


page_header(_("1 · Tokenization"), _("How does the model cut your text into tokens, and what number is each token?"))
analysis = page_analysis()
tokens = analysis.tokens

characters = len(tokens.text)
first, second, third = st.columns(3)
first.metric(_("Characters"), f"{characters:,}")
second.metric(_("Tokens"), f"{len(tokens):,}")
third.metric(_("Characters per token"), f"{characters / max(1, len(tokens)):.2f}")

st.subheader(_("Your text as {model} sees it").format(model=literal(analysis.model_name)))
st.html(token_chips(tokens))
st.caption(_(
    "Each chip is one token; hover for its id. ␣ is a space, ↵ a new line. "
    "A token shown as bytes such as <E5> is a piece of a character (Chinese, emoji) "
    "that needs several bytes in UTF-8; the model learns which pieces go together."
))

with st.expander(_("Table: id, token and bytes of every token"), expanded=len(tokens) <= 30):
    rows = pd.DataFrame(tokenization.token_rows(tokens))
    st.dataframe(rows, hide_index=True, column_config={
        "position": st.column_config.NumberColumn(_("position")),
        "id": st.column_config.NumberColumn(_("id")),
        "token": _("token"),
        "bytes": _("bytes (hex)"),
        "text": _("text it covers"),
    })
    csv_download(rows, "tokens")

st.subheader(_("The same text, four ways"))
st.caption(_(
    "Byte-level BPE (GPT-2's scheme) can spell anything from 256 bytes; WordPiece (BERT's) lower-cases and "
    "marks word continuations with ##, and gives [UNK] for what it never saw; characters and bytes are the "
    "two extremes: no vocabulary to learn, but long sequences."
))
compared_text = tokens.text[:COMPARED_CHARACTERS]
if len(tokens.text) > COMPARED_CHARACTERS:
    st.info(_("The comparison uses the first {n:,} characters of your text.").format(n=COMPARED_CHARACTERS))
compared = tokenization.compare(compared_text, comparison_tokenizers())
counts = {name: len(result) for name, result in compared.items()}
chart(
    plots.token_count_bars({shown_name(name): count for name, count in counts.items()}, len(compared_text)),
    pd.DataFrame({"tokenizer": [f"{name} ({SCHEMES[name]})" if name in SCHEMES else name for name in counts],  # English
                  "tokens": list(counts.values()), "characters": len(compared_text)}),
    "token_counts",
)
for name, result in compared.items():
    st.markdown(_("**{tokenizer}** · {n:,} tokens").format(tokenizer=shown_name(name), n=len(result)))
    st.html(token_chips(result))
