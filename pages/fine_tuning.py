"""Fine-tuning: the pretrained Austen GPT learns sentiment from 160 sentences, beside the same model from scratch."""

import pandas as pd
import streamlit as st

from explainer import plots
from explainer.fine_tuning import LABELS, STARTS, FineTuningRun, class_probabilities, classifier, curve_table, load_sentiment
from explainer.i18n import N_, _, lazy
from pages.live_training import live_panel, my_job, train_button
from pages.pretraining_data import embedded_tokenizer
from pages.shared import chart, page_header

page_header(_("Fine-tuning"), _("Does pretraining help a model learn a new task from a few examples?"))


@st.cache_data
def sentiment_set():
    return load_sentiment()


@st.cache_resource(show_spinner=lazy(N_("Preparing the untrained classifiers…")))
def untrained_classifiers():
    """Both classifiers as they start (the same seed as the run, so the same weights)."""
    return {start: classifier(start, embedded_tokenizer(), FineTuningRun.seed).eval() for start in STARTS}


train_set, test_set = sentiment_set()
st.markdown(_(
    """
**The task:** is a sentence positive or negative? **The data:** {train} labelled sentences to learn from and
{test} others to test on, written for this project (see `data/sentiment/README.md`).
**The two students**, both the embedded GPT's shape (4 layers × 4 heads × 192 dims) with a new output layer that
turns the last token's final state into two scores:
- **fine-tuned** starts from the embedded model's weights, pretrained on Austen's novels to predict the next token;
- **from scratch** starts from random weights.

Both see the same sentences in the same order, with the same loop, seed and learning rate. Only pretraining differs.
"""
).format(train=len(train_set), test=len(test_set)))
with st.expander(_("Some of the training sentences")):
    st.dataframe(pd.DataFrame({"label": [_(LABELS[e.label]) for e in train_set[:12]], "text": [e.text for e in train_set[:12]]}),
                 hide_index=True, column_config={"label": _("label"), "text": _("sentence (English)")})


def make_run() -> FineTuningRun:
    return FineTuningRun(embedded_tokenizer(), train_set, test_set)


train_button(_("Fine-tune and train from scratch"), make_run, max_seconds=240)
sentence = st.text_input(_("Your sentence"),
                         "What a charming evening; everyone was so kind.", max_chars=300)


def predictions(models: dict, moment: str) -> list[dict]:
    rows = []
    for start, model in models.items():
        p_negative, p_positive = class_probabilities(model, embedded_tokenizer(), [sentence])[0]
        rows.append({"classifier": _(start), "when": _(moment), "verdict": _(LABELS[int(p_positive > p_negative)]),
                     "p(positive)": round(float(p_positive), 3), "p(negative)": round(float(p_negative), 3)})
    return rows


def draw(run: FineTuningRun) -> None:
    table = curve_table(run.curves)
    if len(table):
        finals = table.groupby("start", sort=False).last()
        metrics = st.columns(len(finals))
        for column, (start, row) in zip(metrics, finals.iterrows()):
            column.metric(_("{classifier}: test accuracy").format(classifier=_(start)), f"{row.test_accuracy:.0%}",
                          help=_("step {step}").format(step=int(row.step)))
    chart(plots.fine_tuning_curves(table), table, "fine_tuning")


job = my_job(FineTuningRun)
rows = predictions(untrained_classifiers(), N_("before training")) if sentence.strip() else []
if job is not None:
    live_panel(job, draw)
    if not job.running and len(job.run.models) == len(STARTS) and sentence.strip():
        rows += predictions(job.run.models, N_("after training"))
if rows:
    st.markdown(_("**Your sentence**, before and after"))
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        "classifier": _("classifier"), "when": _("when"), "verdict": _("verdict"),
        "p(positive)": _("p(positive)"), "p(negative)": _("p(negative)"),
    })
    st.caption(_("Before training, the new output layer is random in both classifiers, so their verdicts are guesses. "
                 "Accuracy and loss above are over all the test sentences."))
else:
    st.info(_("Type a sentence to see what the classifiers make of it."), icon=":material/edit:")
