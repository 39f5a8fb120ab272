"""Home: the path a text takes through a GPT-style model, each stage linked to its page."""

import html

import streamlit as st

from explainer.i18n import N_, _
from pages.shared import active_model, page_header

page_header(_("Inside a language model"), _("What does a language model do with the text you type?"))
st.markdown(_(
    "Type any text in the sidebar. Every page shows what a real model, running here on this computer, "
    "does with **your** text, and every number comes from that model."
))

STAGES = [  # (stage, what happens, page or None), translated where shown
    (N_("Text"), N_("the characters you typed"), None),
    (N_("Tokens"), N_("the text cut into pieces from a fixed vocabulary, each with an id"), "pages/tokenization.py"),
    (N_("Embeddings"), N_("each id looked up as a vector, plus a vector for its position"), "pages/embeddings.py"),
    (N_("Attention blocks"), N_("N × (masked self-attention → MLP): each token gathers information from earlier ones"),
     "pages/attention.py"),
    (N_("Logits"), N_("the final norm and output layer score every token of the vocabulary"), "pages/next_token.py"),
    (N_("Softmax → next token"), N_("scores become probabilities; one token is picked"), "pages/next_token.py"),
    (N_("Loss"), N_("−log p of the token that really came next; its mean is the loss, exp of it the perplexity"),
     "pages/loss.py"),
]

PIPELINE_STYLE = ("display:flex;flex-wrap:wrap;align-items:center;gap:.35rem .5rem;margin:.2rem 0 .9rem 0;"
                  "font-size:1.05rem")
STEP_STYLE = "background:#e8eef7;border:1px solid #4c78a8;border-radius:.6rem;padding:.2rem .65rem;white-space:nowrap"


def pipeline_html() -> str:
    """The stages as a row of boxes joined by arrows, wrapping onto a second line on a narrow screen (escaped)."""
    steps = [f"<span style='{STEP_STYLE}'>{index}. {html.escape(_(stage))}</span>"
             for index, (stage, *__) in enumerate(STAGES, start=1)]
    return f"<div style='{PIPELINE_STYLE}'>" + "<span style='color:#4c78a8'>→</span>".join(steps) + "</div>"


st.html(pipeline_html())
CARDS_PER_ROW = 4
for first in range(0, len(STAGES), CARDS_PER_ROW):
    for number, column, (stage, explanation, page) in zip(
        range(first + 1, len(STAGES) + 1), st.columns(CARDS_PER_ROW), STAGES[first:first + CARDS_PER_ROW]
    ):
        with column.container(border=True, height="stretch"):
            st.markdown(f"**{number}. {_(stage)}**")
            st.caption(_(explanation))
            if page:
                st.page_link(page, label=_("Open"), icon=":material/arrow_forward:")

st.subheader(_("Go deeper"))
DEEPER = [  # (page, title, what it answers)
    ("pages/attention_steps.py", N_("Attention, step by step"), N_("every number of one head, from q·k to the output")),
    ("pages/logit_lens.py", N_("Logit lens"), N_("what the model would predict if it stopped after each layer")),
    ("pages/generation.py", N_("Generation"), N_("greedy, sampling and beam search, one token at a time")),
    ("pages/gpt_vs_bert.py", N_("GPT vs BERT"), N_("masked (causal) against bidirectional attention, and fill-in-the-blank")),
]
LEARNING = [
    ("pages/pretraining.py", N_("Pretraining, live"), N_("train a GPT from nothing and watch gibberish turn into words")),
    ("pages/scaling_law.py", N_("The scaling law"), N_("how the loss falls as the model grows, measured and fitted")),
    ("pages/fine_tuning.py", N_("Fine-tuning"), N_("what pretraining buys when a new task has few examples")),
]

IN_CLASS = [
    ("pages/lessons.py", N_("Lessons"), N_("a guided path, one stop at a time: guess first, then see what the model says")),
    ("pages/guess_game.py", N_("Guess the next token"), N_("you against the model, ten rounds")),
    ("pages/room.py", N_("Class room"), N_("the class follows the teacher's screen and sends its guesses")),
]


def page_cards(cards: list[tuple[str, str, str]]) -> None:
    for column, (page, title, question) in zip(st.columns(len(cards)), cards):
        with column.container(border=True):
            st.page_link(page, label=_(title), icon=":material/arrow_forward:")
            st.caption(_(question))


page_cards(DEEPER)
st.subheader(_("Watch a model learn"))
page_cards(LEARNING)
st.subheader(_("In class"))
page_cards(IN_CLASS)

model = active_model()
config = model.model.config
parameters = sum(p.numel() for p in model.model.parameters())
st.subheader(_("The model you are looking at"))
left, middle, right, last = st.columns([2, 1, 1, 1])
left.metric(_("Model"), model.spec.name)
middle.metric(_("Parameters"), f"{parameters / 1e6:.1f} M")
right.metric(_("Context (tokens)"), f"{model.context_length:,}")
last.metric(_("Vocabulary (tokens)"), f"{len(model.tokenizer):,}")
st.caption(_(model.spec.description))
