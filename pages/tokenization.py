"""Tokenization: how the text becomes tokens, and how tokenizers differ."""

import pandas as pd
import streamlit as st

from explainer import plots, tokenization
from explainer.i18n import N_, _, lazy
from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, EMBEDDED_ZH, load_tokenizer
from explainer.token_html import token_chips
from pages.shared import cached_model, chart, csv_download, literal, page_analysis, page_header

HUB_TOKENIZERS = ("gpt2", "bert-base-uncased", "Qwen/Qwen2.5-0.5B")  # shown when in the local Hugging Face cache
COMPARED_CHARACTERS = 1000  # the comparison draws every byte as a chip; keep it readable
PAIR_CHARACTERS = 300  # the learner's own pair of sentences
SCHEMES = {  # what the embedded tokenizers are
    EMBEDDED_GPT: N_("byte-level BPE"),
    EMBEDDED_BERT: N_("WordPiece"),
    EMBEDDED_ZH: N_("bilingual byte-level BPE"),
}


@st.cache_resource(show_spinner=lazy(N_("Loading the tokenizers…")))
def comparison_tokenizers() -> dict[str, object]:
    """The embedded tokenizers, plus hub ones found on this machine (named in English: see ``shown_name``)."""
    found = {name: cached_model(name).tokenizer for name in SCHEMES}
    for name in HUB_TOKENIZERS:
        tokenizer = load_tokenizer(name)
        if tokenizer is not None:
            found[name] = tokenizer
    return found


def english_name(name: str) -> str:
    """A compared tokenizer's name in the CSV downloads (English in every language)."""
    return f"{name} ({SCHEMES[name]})" if name in SCHEMES else name


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
st.html(token_chips(tokens, groups=tokenization.character_groups(tokens)))
st.caption(_(
    "Each chip is one token; hover for its id. ␣ is a space, ↵ a new line. "
    "A token shown as bytes such as <E5> is a piece of a character (Chinese, emoji) "
    "that needs several bytes in UTF-8; the model learns which pieces go together."
))
st.caption(_(
    "A frame gathers the tokens whose bytes make one character, and its label spells it out: "
    "猫 = E7 8C AB means the three bytes E7, 8C and AB together are 猫. "
    "A tokenizer that learned the whole character needs no frame: 猫 is then one token."
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

compared_text = tokens.text[:COMPARED_CHARACTERS]
compared = tokenization.compare(compared_text, comparison_tokenizers())
st.subheader(_("The same text, {n} ways").format(n=len(compared)))
st.caption(_(
    "Byte-level BPE (GPT-2's scheme) can spell anything from 256 bytes; WordPiece (BERT's) lower-cases and "
    "marks word continuations with ##, and gives [UNK] for what it never saw; characters and bytes are the "
    "two extremes: no vocabulary to learn, but long sequences."
))
st.caption(_(
    "{zh} uses byte-level BPE too, but learned its vocabulary of {n:,} tokens from Chinese and English text, "
    "so common Chinese characters and words are single tokens in it."
).format(zh=literal(EMBEDDED_ZH), n=len(comparison_tokenizers()[EMBEDDED_ZH])))
if len(tokens.text) > COMPARED_CHARACTERS:
    st.info(_("The comparison uses the first {n:,} characters of your text.").format(n=COMPARED_CHARACTERS))
counts = {name: len(result) for name, result in compared.items()}
chart(
    plots.token_count_bars({shown_name(name): count for name, count in counts.items()}, len(compared_text)),
    pd.DataFrame({"tokenizer": [english_name(name) for name in counts],
                  "tokens": list(counts.values()), "characters": len(compared_text)}),
    "token_counts",
        _("The same text, counted in tokens by each tokenizer"),
)
for name, result in compared.items():
    st.markdown(_("**{tokenizer}** · {n:,} tokens").format(tokenizer=shown_name(name), n=len(result)))
    st.html(token_chips(result, groups=tokenization.character_groups(result)))

st.subheader(_("What the same sentence costs in Chinese and in English"))
st.caption(_(
    "Two sentences that say the same thing, one in Chinese and one in English. For each tokenizer: "
    "how many tokens each sentence needs, divided by its number of characters (no special tokens)."
))
with st.expander(_("Try your own pair of sentences")):
    left, right = st.columns(2)
    own = {
        "zh": left.text_input(_("Chinese sentence"), tokenization.SAME_MEANING["zh"], max_chars=PAIR_CHARACTERS,
                              key="pair_zh"),
        "en": right.text_input(_("English sentence"), tokenization.SAME_MEANING["en"], max_chars=PAIR_CHARACTERS,
                               key="pair_en"),
    }
sentences = {}
for language, sentence in own.items():
    try:
        sentences[language] = tokenization.clean_text(sentence)
    except ValueError:
        sentences[language] = tokenization.SAME_MEANING[language]
        st.info(_("An empty sentence was replaced by the example one."))
costs = pd.DataFrame(tokenization.tokens_per_character(sentences, comparison_tokenizers()))
costs["name"] = [shown_name(name) for name in costs["tokenizer"]]
chart(
    plots.tokens_per_character_bars(costs),
    costs.assign(tokenizer=[english_name(name) for name in costs["tokenizer"]],
                 sentence=[sentences[language] for language in costs["language"]])[
        ["tokenizer", "language", "sentence", "characters", "tokens", "unknown", "tokens_per_character"]],
    "tokens_per_character",
        _("Tokens per character, in Chinese and in English"),
)
per_character = {(row.tokenizer, row.language): row for row in costs.itertuples()}
english_bpe, chinese_bpe = per_character[(EMBEDDED_GPT, "zh")], per_character[(EMBEDDED_ZH, "zh")]
st.markdown(_(
    "**Why Chinese costs more under an English-trained BPE.** {gpt} learned its merges from Jane Austen, so it "
    "has English words and word pieces but no Chinese: each Chinese character falls apart into its UTF-8 bytes "
    "(3 for most characters), {gpt_zh:.2f} tokens per character here, while the English sentence needs "
    "{gpt_en:.2f}. {zh} saw Chinese while its vocabulary was built, so whole characters and common words are "
    "single tokens: {zh_zh:.2f} tokens per character. Fewer tokens means more text fits in the context, "
    "and less computation for the same meaning."
).format(gpt=literal(EMBEDDED_GPT), zh=literal(EMBEDDED_ZH), gpt_zh=english_bpe.tokens_per_character,
         gpt_en=per_character[(EMBEDDED_GPT, "en")].tokens_per_character,
         zh_zh=chinese_bpe.tokens_per_character))
notes = [_(
    "A Chinese character carries more meaning than an English letter, so compare the totals too: the Chinese "
    "sentence is {gpt_tokens} tokens under {gpt} and {zh_tokens} under {zh}."
).format(gpt=literal(EMBEDDED_GPT), zh=literal(EMBEDDED_ZH), gpt_tokens=english_bpe.tokens,
         zh_tokens=chinese_bpe.tokens)]
if per_character[(EMBEDDED_BERT, "zh")].unknown:
    notes.append(_(
        "{bert} looks cheap on Chinese only because it gives up: {n} of its {total} tokens are [UNK], "
        "a character it never saw, whose meaning is lost."
    ).format(bert=literal(EMBEDDED_BERT), n=per_character[(EMBEDDED_BERT, "zh")].unknown,
             total=per_character[(EMBEDDED_BERT, "zh")].tokens))
st.caption(" ".join(notes))
language_names = {"zh": _("Chinese"), "en": _("English")}
st.dataframe(
    costs.assign(language=[language_names[language] for language in costs["language"]])[
        ["name", "language", "characters", "tokens", "unknown", "tokens_per_character"]],
    hide_index=True,
    column_config={
        "name": _("tokenizer"),
        "language": _("sentence"),
        "characters": st.column_config.NumberColumn(_("number of characters")),
        "tokens": st.column_config.NumberColumn(_("number of tokens")),
        "unknown": st.column_config.NumberColumn(_("[UNK] tokens")),
        "tokens_per_character": st.column_config.NumberColumn(_("tokens per character"), format="%.2f"),
    },
)
