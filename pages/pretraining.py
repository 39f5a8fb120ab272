"""Pretraining, live: train a fresh GPT on a corpus and watch the loss fall and the samples turn into words."""

import html
import math

import streamlit as st

from explainer import plots
from explainer.i18n import N_, _, labelled
from explainer.models import EMBEDDED_ZH
from explainer.training.kept_models import MAX_KEPT, MAX_KEPT_PER_OWNER
from explainer.training.loop import evaluation_table
from explainer.training.pretraining import (
    AUSTEN_CORPUS,
    CHINESE_CORPUS,
    MAX_CORPUS_BYTES,
    MAX_CORPUS_CHARACTERS,
    MODEL_SIZES,
    OWN_CORPUS,
    SAMPLE_PROMPTS,
    PretrainingRun,
    sample_prompt_for,
    split_token_ids,
    tokenizer_for,
)
from pages.live_training import MAX_TRAINING_SECONDS, live_panel, my_job, session_owner, train_button
from pages.pretraining_data import austen_ids, chinese_ids, tokenizer_of
from pages.shared import chart, kept_models, literal, page_header, use_model

AUSTEN = N_("Jane Austen's six novels (built in, 930k tokens)")  # the corpus radio's values, shown with _()
CHINESE = N_("Chinese news and reviews (built in)")
OWN_TEXT = N_("Your own text (paste or upload)")
CORPORA = {AUSTEN: AUSTEN_CORPUS, CHINESE: CHINESE_CORPUS, OWN_TEXT: OWN_CORPUS}
# The sample prompt follows the corpus's language, not the page's: "It is a truth" for English, "从前" for Chinese.
MAX_UPLOAD_MB = math.ceil(MAX_CORPUS_BYTES / 2**20)  # 15: Streamlit refuses larger files before they reach the server

def uploaded_text(upload) -> str:
    """The uploaded file as text, decoded once per file rather than on every rerun.

    A file above the corpus limit is turned away before it is decoded (the text box then stays the corpus).
    """
    if upload.size > MAX_CORPUS_BYTES:
        st.warning(_("That file is {size:.1f} MB; a corpus may be at most {characters:,} characters ({limit:.0f} MB).")
                   .format(size=upload.size / 2**20, characters=MAX_CORPUS_CHARACTERS, limit=MAX_CORPUS_BYTES / 2**20),
                   icon=":material/block:")
        return ""
    decoded = st.session_state.get("uploaded_text")
    if decoded is None or decoded[0] != upload.file_id:
        decoded = (upload.file_id, upload.getvalue().decode("utf-8", errors="replace"))
        st.session_state["uploaded_text"] = decoded
    return decoded[1]


page_header(_("Pretraining, live"), _("How does a language model learn? Train one from nothing and watch."))


settings, loop = st.columns([3, 2], gap="large")
with settings:
    corpus = st.radio(_("Corpus"), list(CORPORA), format_func=labelled(list(CORPORA), _), horizontal=True)
    own_text = ""
    if corpus == OWN_TEXT:
        upload = st.file_uploader(_("Upload a .txt file"), type=["txt"], max_upload_size=MAX_UPLOAD_MB)
        pasted = st.text_area(_("…or paste text (at least a page; a few thousand words learn best)"), height=120)
        own_text = uploaded_text(upload) if upload else pasted
    reader = tokenizer_for(CORPORA[corpus], own_text)  # the embedded model whose tokenizer this run reads with
    vocab = len(tokenizer_of(reader))
    size = st.radio(_("Model size"), MODEL_SIZES, format_func=labelled(MODEL_SIZES, lambda s: _(s.name)), index=1,
                    horizontal=True)
    st.caption(_("**{size}**: {description}, reading {context} tokens at a time from a vocabulary of {vocab:,} tokens "
                 "(the tokenizer of {tokenizer}). Peak learning rate {rate:g}.").format(
        size=_(size.name), description=size.describe(vocab), context=size.context, vocab=vocab,
        tokenizer=literal(reader), rate=size.learning_rate))
    if reader == EMBEDDED_ZH:
        st.caption(_("Chinese text is read with the tokenizer of {model}, where a common Chinese character or word "
                     "is one token.").format(model=literal(EMBEDDED_ZH)))
    seconds = st.slider(_("Training time (seconds)"), 20, int(MAX_TRAINING_SECONDS), min(120, int(MAX_TRAINING_SECONDS)), 10)
    default_prompt = sample_prompt_for(CORPORA[corpus], own_text)
    prompt = st.text_input(_("Sample prompt"), default_prompt, max_chars=80,
                           help=_("Every 100 steps the model continues this prompt, so you can read its progress."))
built_in_tokens = {AUSTEN: austen_ids, CHINESE: chinese_ids}.get(corpus)
if built_in_tokens:
    built_in_tokens()  # read into tokens now (once per server), not when Train is pressed


def make_run() -> PretrainingRun:
    tokenizer = tokenizer_of(reader)
    if corpus == AUSTEN:
        train_ids, val_ids, name = *austen_ids(), N_("Austen")
    elif corpus == CHINESE:
        train_ids, val_ids, name = *chinese_ids(), N_("Chinese news and reviews")
    else:
        train_ids, val_ids = split_token_ids(tokenizer, own_text)
        name = N_("your text")
    chosen = prompt.strip()
    if not chosen or chosen in SAMPLE_PROMPTS.values():  # a default prompt follows the corpus's language
        chosen = default_prompt
    return PretrainingRun(size, name, train_ids, val_ids, tokenizer, prompt=chosen)


with settings:
    train_button(_("Train"), make_run, seconds)

with loop:
    st.markdown(_("**The training loop** (one step)"))
    st.code(_(
        "batch = random windows of the corpus    # (16, 64) token ids\n"
        "logits = model(batch)                    # forward: (16, 64, {vocab})\n"
        "loss = cross_entropy(logits, next_ids)   # how surprised it was\n"
        "loss.backward()                          # backpropagation: gradients\n"
        "optimizer.step()                         # AdamW nudges every weight"
    ).format(vocab=vocab), language="python", wrap_lines=True)
    st.latex(r"\mathcal{L} = -\frac{1}{N}\sum_{t} \log p_\theta(x_t \mid x_{<t})")
    st.caption(_("The loss is the average surprise, in nats, at each real next token. A model that knows nothing "
                 "spreads its bet over all {vocab:,} tokens of its vocabulary: loss ln {vocab} ≈ {loss:.1f}, "
                 "perplexity {vocab:,}. Validation loss is measured on text the model never trains on, so it shows "
                 "learning, not memorising.").format(vocab=vocab, loss=math.log(vocab)))


def samples_html(run: PretrainingRun) -> str:
    """The samples, newest first, each with its step; all text escaped."""
    rows = []
    for sample in reversed(run.samples):
        rows.append(
            "<div style='margin:0 0 .4rem 0'><span style='color:#888;font-size:.85em'>"
            + html.escape(_("step {step:,} · {tokens:,} tokens · {seconds:.0f} s").format(
                step=sample.step, tokens=sample.tokens_seen, seconds=sample.seconds))
            + "</span><br>"
            f"<b>{html.escape(run.prompt)}</b>{html.escape(sample.text)}</div>"
        )
    return "<div style='font-family:Georgia,serif;max-height:420px;overflow-y:auto'>" + "".join(rows) + "</div>"


def draw(run: PretrainingRun) -> None:
    table = evaluation_table(list(run.evaluations))
    if len(table):
        last = table.iloc[-1]
        metrics = st.columns(4)
        metrics[0].metric(_("Validation loss"), _("{loss:.3f} nats").format(loss=last.val_loss))
        metrics[1].metric(_("Perplexity"), f"{last.val_perplexity:,.1f}")
        metrics[2].metric(_("Tokens seen"), f"{int(last.tokens_seen):,}")
        metrics[3].metric(_("Speed"), _("{n:,.0f} tokens/s").format(n=run.tokens_per_second))
    curve, samples = st.columns([3, 2], gap="large")
    with curve:
        st.markdown(_("**Loss while training**"))
        chart(plots.training_curves(table), table, "pretraining_loss", _("Loss while training"))
    with samples:
        st.markdown(_("**Samples** from {prompt}, newest first").format(prompt=literal(run.prompt)))
        st.html(samples_html(run))


job = my_job(PretrainingRun)
if job is None:
    st.info(_("Pick a corpus and a size, then press **Train**. The Small model writes words within about a minute."),
            icon=":material/school:")
    st.stop()

live_panel(job, draw)
run = job.run
if not job.running and run.model is not None and run.evaluations:
    if not run.kept_as or kept_models().record(run.kept_as) is None:
        last = run.evaluations[-1]
        record = {"corpus": run.corpus_name, "size": run.size.name, "steps": job.step,
                  "tokens_seen": last.tokens_seen, "validation_loss": round(last.val_loss, 4),
                  "curve": [[e.step, e.tokens_seen, round(e.train_loss, 4), round(e.val_loss, 4)] for e in run.evaluations],
                  "samples": [[sample.step, sample.text] for sample in run.samples]}  # the whole run, kept with the model
        title = f"{run.size.name} model on {run.corpus_name}, {job.step:,} steps"  # a model's name: English, like the others
        run.kept_as = kept_models().keep(session_owner(), title, run.tokenizer, run.model, record).spec.name
    st.button(_("Explore it on the other pages"), icon=":material/open_in_new:", on_click=use_model, args=(run.kept_as,))
    st.caption(_("It is now in your sidebar's Model list, as {model}. Only you see it there; to share it, send the "
                 "page's link while it is chosen. The server keeps the last {total} trained models ({per_learner} per "
                 "learner), also after a restart.").format(model=literal(run.kept_as), total=MAX_KEPT,
                                                            per_learner=MAX_KEPT_PER_OWNER))
