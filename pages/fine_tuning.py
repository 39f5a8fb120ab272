"""Fine-tuning: a pretrained GPT learns sentiment from 160 sentences (English or Chinese), beside the same model from scratch."""

import pandas as pd
import streamlit as st

from explainer import plots
from explainer.i18n import N_, _, current_language, labelled, lazy
from explainer.training.fine_tuning import (
    LABELS,
    SENTIMENT_SETS,
    STARTS,
    FineTuningRun,
    class_probabilities,
    classifier,
    curve_table,
    default_sentiment_set,
    run_on,
)
from pages.live_training import live_panel, my_job, train_button
from pages.shared import cached_model, chart, page_header

page_header(_("Fine-tuning"), _("Does pretraining help a model learn a new task from a few examples?"))


@st.cache_data
def sentiment_set(language: str):
    return SENTIMENT_SETS[language].load()


@st.cache_resource(show_spinner=lazy(N_("Preparing the untrained classifiers…")))
def untrained_classifiers(base_model: str):
    """Both classifiers as they start (the same seed as the run, so the same weights)."""
    tokenizer = cached_model(base_model).tokenizer
    return {start: classifier(start, tokenizer, FineTuningRun.seed, base_model).eval() for start in STARTS}


languages = list(SENTIMENT_SETS)
chosen = SENTIMENT_SETS[st.radio(
    _("Sentences and pretrained model"), languages, horizontal=True,
    index=languages.index(default_sentiment_set(current_language()).language),
    format_func=labelled(languages, lambda language: _(SENTIMENT_SETS[language].name)),
    key=f"fine_tuning_set_{current_language()}",  # a new default when the interface changes language
)]
base = cached_model(chosen.base_model)
train_set, test_set = sentiment_set(chosen.language)
st.markdown(_(
    """
**The task:** is a sentence positive or negative? **The data:** {train} labelled sentences to learn from and
{test} others to test on, written for this project (see `{readme}`).
**The two students**, both the shape of the embedded model `{model}` ({layers} layers × {heads} heads × {dims} dims)
with a new output layer that turns the last token's final state into two scores:
- **fine-tuned** starts from that model's weights, pretrained on {corpus} to predict the next token;
- **from scratch** starts from random weights.

Both see the same sentences in the same order, with the same loop, seed and learning rate. Only pretraining differs.
"""
).format(train=len(train_set), test=len(test_set), readme=chosen.readme, model=chosen.base_model,
         layers=base.model.config.n_layer, heads=base.model.config.n_head, dims=base.model.config.n_embd,
         corpus=_(chosen.pretrained_on)))
with st.expander(_("Some of the training sentences")):
    st.dataframe(pd.DataFrame({"label": [_(LABELS[e.label]) for e in train_set[:12]], "text": [e.text for e in train_set[:12]]}),
                 hide_index=True, column_config={"label": _("label"), "text": _(chosen.text_header)})


def make_run() -> FineTuningRun:
    return run_on(chosen, base.tokenizer)


train_button(_("Fine-tune and train from scratch"), make_run, max_seconds=240)
sentence = st.text_input(_(chosen.sentence_label), chosen.example, max_chars=300,
                         key=f"fine_tuning_sentence_{chosen.language}")  # each set keeps its own sentence


def predictions(models: dict, tokenizer, moment: str) -> list[dict]:
    rows = []
    for start, model in models.items():
        p_negative, p_positive = class_probabilities(model, tokenizer, [sentence])[0]
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
    chart(plots.fine_tuning_curves(table), table, "fine_tuning", _("Fine-tuning: accuracy and loss while training"))
    for curve in list(run.curves.values()):
        overfitting = curve.overfitting()
        if overfitting:
            st.info(_(
                "**Overfitting.** The {classifier} classifier's test loss was lowest at step {best_step} ({best:.2f} "
                "nats) and has risen to {last:.2f}, while its training loss kept falling ({train_best:.2f} → "
                "{train_last:.2f}). It is learning the {n} training sentences by heart, quirks included, rather than "
                "what makes a sentence positive; its verdicts on new sentences grow more confident, and a confident "
                "mistake costs much more loss. Accuracy can hold while the loss climbs. The usual cures: stop at the "
                "lowest test loss (early stopping), or give it more and more varied sentences."
            ).format(classifier=_(curve.start), best_step=overfitting.best_step, best=overfitting.best_test_loss,
                     last=overfitting.last_test_loss, train_best=overfitting.best_train_loss,
                     train_last=overfitting.last_train_loss, n=len(run.train_set)), icon=":material/warning:")


job = my_job(FineTuningRun)
if job is not None and job.run.base_model != chosen.base_model:  # this session's run is on the other set
    other = next(s for s in SENTIMENT_SETS.values() if s.base_model == job.run.base_model)
    st.info(_("Your last run trained on “{name}”: choose it above to see its curves.").format(name=_(other.name)),
            icon=":material/swap_horiz:")
    job = None
rows = predictions(untrained_classifiers(chosen.base_model), base.tokenizer, N_("before training")) if sentence.strip() else []
if job is not None:
    live_panel(job, draw)
    if not job.running and len(job.run.models) == len(STARTS) and sentence.strip():
        rows += predictions(job.run.models, job.run.tokenizer, N_("after training"))
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
