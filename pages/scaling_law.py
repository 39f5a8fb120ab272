"""The scaling law: measured loss against model size, with a fitted power law, and a mini sweep to run live."""

import pandas as pd
import streamlit as st

from explainer import plots
from explainer.i18n import N_, _, labelled
from explainer.numbers import latex_number, plain_number
from explainer.training.scaling import (
    MINI_SWEEP_SIZES,
    PowerLaw,
    ScalingSweepRun,
    curves_table,
    fit_power_law,
    fitted_line,
    load_sweep,
    points_table,
)
from pages.live_training import live_panel, my_job, train_button
from pages.pretraining_data import austen_ids, embedded_tokenizer
from pages.shared import chart, page_header

MINI_SWEEP_TOKENS = 400_000  # 60,000 left every size on the same plateau (loss 6.5): no law to fit
KAPLAN_ALPHA = 0.076  # α_N of Kaplan et al. 2020
PARAMETER_AXES = {  # shown with _()
    "non_embedding_parameters": N_("non-embedding parameters N (as Kaplan et al.)"),
    "parameters": N_("all parameters (with the 4,096 × d token embedding)"),
}

page_header(_("The scaling law"), _("Why do bigger models reach a lower loss, and by how much?"))


@st.cache_data
def committed_sweep():
    return load_sweep()


def law_view(points: pd.DataFrame, x_column: str, name: str) -> PowerLaw | None:
    """The log-log plot of final loss against size, the fitted law and its constants; return the law."""
    if len(points) < 3:
        st.caption(_("The fit appears once three sizes have finished."))
        return None
    try:
        law = fit_power_law(points[x_column], points["final_loss"])
    except ValueError as problem:
        st.warning(str(problem))
        return None
    st.latex(rf"L(N) = \left({latex_number(law.x_c)} \,/\, N\right)^{{{law.alpha:.3f}}} + {law.l_inf:.3f}")
    constants = st.columns(3)
    constants[0].metric(_("α (how fast loss falls)"), f"{law.alpha:.3f}")
    constants[1].metric("N_c", plain_number(law.x_c), help=_(
        "The size at which the power-law term alone would reach 1 nat. With a small α it lands far outside the sizes "
        "measured: it is a constant of the fit, not the size of any real model."))
    constants[2].metric(_("L∞ (floor, nats)"), f"{law.l_inf:.3f}")
    line = fitted_line(law, points[x_column].min() / 2, points[x_column].max() * 2)
    chart(plots.scaling_plot(points, x_column, _(PARAMETER_AXES[x_column]), line), points, name,
          _("Final loss against model size"))
    if law.l_inf == 0:
        st.caption(_("L∞ came out at 0, the lowest value the fit allows: over these sizes the loss has not begun to "
                     "level off, so these points cannot show a floor. The fit is then a pure power law, Kaplan's form."))
    return law


record, points, committed_law = committed_sweep()  # its fit: on non-embedding N
table = points_table(points)
st.markdown(_(
    "**The measurement.** {n} GPTs, from {smallest:,} to {largest:,} non-embedding parameters, each trained on the "
    "same {budget:,} tokens of Austen (context {context}, batch {batch}, seed {seed}) and scored on the whole "
    "held-out text. Run by `{command}` in {minutes} minutes on `{machine}`."
).format(n=len(points), smallest=table.non_embedding_parameters.min(), largest=table.non_embedding_parameters.max(),
         budget=record["token_budget"], context=record["context"], batch=record["batch_size"], seed=record["seed"],
         command=record["command"], minutes=record["minutes"], machine=record["machine"]))
x_column = st.radio(_("Count as the size"), list(PARAMETER_AXES),
                    format_func=labelled(PARAMETER_AXES, lambda c: _(PARAMETER_AXES[c])), horizontal=True)
law = law_view(table, x_column, "scaling_law")

st.subheader(_("Loss against training tokens"))
st.caption(_("The same runs while they trained: every size falls along its own curve, and bigger models sit lower "
             "for the same tokens. The wiggles they share come from the data: every size sees the same windows in "
             "the same order."))
curves = curves_table(points)
chart(plots.loss_against_tokens(curves), curves, "loss_against_tokens", _("Loss against training tokens"))

st.subheader(_("How this mirrors the published scaling laws, and how it differs"))
st.markdown(_(
    """
- **Kaplan et al. 2020** (*Scaling Laws for Neural Language Models*) trained models from 768 to 1.5 billion
  non-embedding parameters and found the loss falls as a power law in N, L(N) = (N_c/N)^α_N, with α_N ≈ 0.076,
  over seven orders of magnitude, when data is not the bottleneck. This page fits the same form, plus a floor
  L∞, and also counts non-embedding parameters, which is what makes tiny and large models line up.
- **Chinchilla 2022** (Hoffmann et al., *Training Compute-Optimal Large Language Models*) fitted
  L(N, D) = E + A/N^α + B/D^β and showed parameters N and tokens D should grow together, about 20 tokens per
  parameter. Here every model sees the same fixed token budget, so by that rule the largest ones are
  *under-trained* and the smallest see more tokens than they can use.
- **Differences to keep in mind:** a few thousand to two million parameters instead of millions to billions,
  one small corpus (Austen, under a million tokens), one seed per size, minutes on a CPU.
  The exponent measured here describes this tiny regime; it is not a prediction about GPT-sized models.
"""
))
if law is not None:
    st.markdown(_(
        "**What this sweep found.** α = {alpha:.3f}, about {share:.0%} of Kaplan's {kaplan}: growing N "
        "{growth:,.0f}-fold lowered the loss only from {highest:.2f} to {lowest:.2f} nats. A likely reason is that "
        "even the smallest models learn much of what these tokens teach (which words are common, which follow which) "
        "in their token embeddings, which N does not count. The points also bend *down* at the large end rather "
        "than flattening, so the floor L∞ stays out of reach here."
    ).format(alpha=law.alpha, share=law.alpha / KAPLAN_ALPHA, kaplan=KAPLAN_ALPHA,
             growth=table[x_column].max() / table[x_column].min(), highest=table.final_loss.max(),
             lowest=table.final_loss.min()))

st.subheader(_("Run a mini sweep now"))
st.caption(_("{n} tiny models ({names}), {tokens:,} tokens each: about a minute and a half when nothing else trains on "
             "this server (90 s measured on 2 CPU cores), longer while others train (the progress bar's estimate follows "
             "the real pace, and the larger sizes come last). "
             "A short sweep is noisy: one size may land out of line, which is why the committed sweep above uses 2M "
             "tokens.").format(
    n=len(MINI_SWEEP_SIZES), names=", ".join(s.name for s in MINI_SWEEP_SIZES), tokens=MINI_SWEEP_TOKENS))


def make_sweep() -> ScalingSweepRun:
    return ScalingSweepRun(MINI_SWEEP_SIZES, MINI_SWEEP_TOKENS, *austen_ids(), embedded_tokenizer(),
                           title=N_("a mini scaling sweep"))


train_button(_("Run the mini sweep"), make_sweep, max_seconds=240)


def draw(run: ScalingSweepRun) -> None:
    finished = points_table(list(run.points))
    st.caption(_("{done} of {n} sizes finished.").format(done=len(finished), n=len(run.sizes)))
    if len(finished):
        shown = finished[["name", "non_embedding_parameters", "tokens", "final_loss", "seconds"]]
        st.dataframe(shown.round({"final_loss": 3, "seconds": 1}), hide_index=True, column_config={
            "name": _("model (layers×heads×dims)"),
            "non_embedding_parameters": st.column_config.NumberColumn(_("non-embedding parameters")),
            "tokens": st.column_config.NumberColumn(_("training tokens")),
            "final_loss": st.column_config.NumberColumn(_("final loss (nats)")),
            "seconds": st.column_config.NumberColumn(_("seconds")),
        })
    mini = law_view(finished, "non_embedding_parameters", "mini_sweep")
    if mini is not None and len(finished) == len(run.sizes):
        st.markdown(_(
            "**Why the two fits differ.** The mini sweep finds α = {mini_alpha:.3f} and a floor L∞ = {mini_floor:.2f}; "
            "the committed sweep finds α = {alpha:.3f} and L∞ = {floor:.2f}. Both are right about what they measured. "
            "The mini models are far smaller ({mini_low:,} to {mini_high:,} non-embedding parameters, against "
            "{low:,} to {high:,}) and see {mini_tokens:,} tokens instead of {tokens:,}: at that size every doubling "
            "still buys a lot, and the loss bends towards the level that {mini_tokens:,} tokens allow. The committed "
            "models are past that bend, where the same budget buys little. A power law fitted to a narrow range "
            "describes that range only: its constants depend on the sizes and the tokens, which is exactly why "
            "Kaplan's and Chinchilla's fits span many orders of magnitude."
        ).format(mini_alpha=mini.alpha, mini_floor=mini.l_inf, alpha=committed_law.alpha, floor=committed_law.l_inf,
                 mini_low=int(finished.non_embedding_parameters.min()), mini_high=int(finished.non_embedding_parameters.max()),
                 low=int(table.non_embedding_parameters.min()), high=int(table.non_embedding_parameters.max()),
                 mini_tokens=run.token_budget, tokens=record["token_budget"]))


job = my_job(ScalingSweepRun)
if job is not None:
    live_panel(job, draw)
