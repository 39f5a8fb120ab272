"""Home: the path a text takes through a GPT-style model, each stage linked to its page."""

import streamlit as st

from pages.shared import active_model, page_header

page_header("Inside a language model", "What does a language model do with the text you type?")
st.markdown(
    "Type any text in the sidebar. Every page shows what a real model, running here on this computer, "
    "does with **your** text, and every number comes from that model."
)

STAGES = [  # (stage, what happens, page or None)
    ("Text", "the characters you typed", None),
    ("Tokens", "the text cut into pieces from a fixed vocabulary, each with an id", "pages/tokenization.py"),
    ("Embeddings", "each id looked up as a vector, plus a vector for its position", "pages/embeddings.py"),
    ("Attention blocks", "N × (masked self-attention → MLP): each token gathers information from earlier ones", "pages/attention.py"),
    ("Logits", "the final norm and output layer score every token of the vocabulary", "pages/next_token.py"),
    ("Softmax → next token", "scores become probabilities; one token is picked", "pages/next_token.py"),
    ("Loss", "−log p of the token that really came next; its mean is the loss, exp of it the perplexity", "pages/loss.py"),
]

PIPELINE = "digraph {{ rankdir=LR; bgcolor=transparent; node [shape=box, style=\"rounded,filled\", fillcolor=\"#e8eef7\", color=\"#4c78a8\", fontname=sans]; {} }}"
st.graphviz_chart(PIPELINE.format(" -> ".join(f'"{i + 1}. {stage}"' for i, (stage, _, _) in enumerate(STAGES))))
CARDS_PER_ROW = 4
for first in range(0, len(STAGES), CARDS_PER_ROW):
    for number, column, (stage, explanation, page) in zip(
        range(first + 1, len(STAGES) + 1), st.columns(CARDS_PER_ROW), STAGES[first:first + CARDS_PER_ROW]
    ):
        with column.container(border=True, height="stretch"):
            st.markdown(f"**{number}. {stage}**")
            st.caption(explanation)
            if page:
                st.page_link(page, label="Open", icon=":material/arrow_forward:")

st.subheader("Go deeper")
DEEPER = [  # (page, what it answers)
    ("pages/attention_steps.py", "Attention, step by step", "every number of one head, from q·k to the output"),
    ("pages/logit_lens.py", "Logit lens", "what the model would predict if it stopped after each layer"),
    ("pages/generation.py", "Generation", "greedy, sampling and beam search, one token at a time"),
    ("pages/gpt_vs_bert.py", "GPT vs BERT", "masked (causal) against bidirectional attention, and fill-in-the-blank"),
]
LEARNING = [
    ("pages/pretraining.py", "Pretraining, live", "train a GPT from nothing and watch gibberish turn into words"),
    ("pages/scaling_law.py", "The scaling law", "how the loss falls as the model grows, measured and fitted"),
    ("pages/fine_tuning.py", "Fine-tuning", "what pretraining buys when a new task has few examples"),
]


def page_cards(cards: list[tuple[str, str, str]]) -> None:
    for column, (page, title, question) in zip(st.columns(len(cards)), cards):
        with column.container(border=True):
            st.page_link(page, label=title, icon=":material/arrow_forward:")
            st.caption(question)


page_cards(DEEPER)
st.subheader("Watch a model learn")
page_cards(LEARNING)

model = active_model()
config = model.model.config
parameters = sum(p.numel() for p in model.model.parameters())
st.subheader("The model you are looking at")
left, middle, right, last = st.columns([2, 1, 1, 1])
left.metric("Model", model.spec.name)
middle.metric("Parameters", f"{parameters / 1e6:.1f} M")
right.metric("Context (tokens)", f"{model.context_length:,}")
last.metric("Vocabulary (tokens)", f"{len(model.tokenizer):,}")
st.caption(model.spec.description)
