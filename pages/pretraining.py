"""Pretraining, live: train a fresh GPT on a corpus and watch the loss fall and the samples turn into words."""

import html

import streamlit as st

from explainer import plots
from explainer.models import keep_trained_model, trained_model
from explainer.pretraining import MODEL_SIZES, PretrainingRun, split_token_ids
from explainer.training import evaluation_table
from pages.live_training import MAX_TRAINING_SECONDS, live_panel, my_job, train_button
from pages.pretraining_data import austen_ids, embedded_tokenizer
from pages.shared import chart, page_header, use_model

AUSTEN = "Jane Austen's six novels (built in, 930k tokens)"
OWN_TEXT = "Your own text (paste or upload)"

page_header("Pretraining, live", "How does a language model learn? Train one from nothing and watch.")


settings, loop = st.columns([3, 2], gap="large")
with settings:
    corpus = st.radio("Corpus", [AUSTEN, OWN_TEXT], horizontal=True)
    if corpus == OWN_TEXT:
        upload = st.file_uploader("Upload a .txt file", type=["txt"])
        pasted = st.text_area("…or paste text (at least a page; a few thousand words learn best)", height=120)
        own_text = upload.getvalue().decode("utf-8", errors="replace") if upload else pasted
    size = st.radio("Model size", MODEL_SIZES, format_func=lambda s: s.name, index=1, horizontal=True)
    st.caption(f"**{size.name}**: {size.describe(4096)}, reading {size.context} tokens at a time. "
               f"Peak learning rate {size.learning_rate:g}.")
    seconds = st.slider("Training time (seconds)", 20, int(MAX_TRAINING_SECONDS), min(120, int(MAX_TRAINING_SECONDS)), 10)
    prompt = st.text_input("Sample prompt", "It is a truth", max_chars=80,
                           help="Every 100 steps the model continues this prompt, so you can read its progress.")


def make_run() -> PretrainingRun:
    tokenizer = embedded_tokenizer()
    if corpus == AUSTEN:
        train_ids, val_ids, name = *austen_ids(), "Austen"
    else:
        train_ids, val_ids = split_token_ids(tokenizer, own_text)
        name = "your text"
    return PretrainingRun(size, name, train_ids, val_ids, tokenizer, prompt=prompt.strip() or "The")


with settings:
    train_button("Train", make_run, seconds)

with loop:
    st.markdown("**The training loop** (one step)")
    st.code(
        "batch = random windows of the corpus    # (16, 64) token ids\n"
        "logits = model(batch)                    # forward: (16, 64, 4096)\n"
        "loss = cross_entropy(logits, next_ids)   # how surprised it was\n"
        "loss.backward()                          # backpropagation: gradients\n"
        "optimizer.step()                         # AdamW nudges every weight",
        language="python",
    )
    st.latex(r"\mathcal{L} = -\frac{1}{N}\sum_{t} \log p_\theta(x_t \mid x_{<t})")
    st.caption("The loss is the average surprise, in nats, at each real next token. A model that knows nothing "
               "spreads its bet over all 4,096 tokens: loss ln 4096 ≈ 8.3, perplexity 4,096. Validation loss is "
               "measured on text the model never trains on, so it shows learning, not memorising.")


def samples_html(run: PretrainingRun) -> str:
    """The samples, newest first, each with its step; all text escaped."""
    rows = []
    for sample in reversed(run.samples):
        rows.append(
            f"<div style='margin:0 0 .4rem 0'><span style='color:#888;font-size:.85em'>step {sample.step:,} · "
            f"{sample.tokens_seen:,} tokens · {sample.seconds:.0f} s</span><br>"
            f"<b>{html.escape(run.prompt)}</b>{html.escape(sample.text)}</div>"
        )
    return "<div style='font-family:Georgia,serif;max-height:420px;overflow-y:auto'>" + "".join(rows) + "</div>"


def draw(run: PretrainingRun) -> None:
    table = evaluation_table(list(run.evaluations))
    if len(table):
        last = table.iloc[-1]
        metrics = st.columns(4)
        metrics[0].metric("Validation loss", f"{last.val_loss:.3f} nats")
        metrics[1].metric("Perplexity", f"{last.val_perplexity:,.1f}")
        metrics[2].metric("Tokens seen", f"{int(last.tokens_seen):,}")
        metrics[3].metric("Speed", f"{run.tokens_per_second:,.0f} tokens/s")
    curve, samples = st.columns([3, 2], gap="large")
    with curve:
        st.markdown("**Loss while training**")
        chart(plots.training_curves(table), table, "pretraining_loss")
    with samples:
        st.markdown(f"**Samples** from “{run.prompt}”, newest first")
        st.html(samples_html(run))


job = my_job(PretrainingRun)
if job is None:
    st.info("Pick a corpus and a size, then press **Train**. The Small model writes words within about a minute.",
            icon=":material/school:")
    st.stop()

live_panel(job, draw)
run = job.run
if not job.running and run.model is not None and run.evaluations:
    if not run.kept_as or trained_model(run.kept_as) is None:
        run.kept_as = keep_trained_model(f"{run.title}, {job.step:,} steps", run.tokenizer, run.model).spec.name
    st.button(f"Explore **{run.kept_as}** on the other pages", icon=":material/open_in_new:",
              on_click=use_model, args=(run.kept_as,))
    st.caption("It is now in the sidebar's Model list for everyone on this server (the last 8 trained models are kept).")
