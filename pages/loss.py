"""Loss and perplexity: how surprised the model is by each token of your text."""

import streamlit as st

from explainer import loss, plots
from explainer.i18n import N_, _
from explainer.models import EMBEDDED_ZH
from explainer.numbers import grouped, latex_number
from explainer.token_html import legend, token_chips
from pages.shared import (
    cached_analysis,
    cached_model,
    chart,
    literal,
    page_analysis,
    page_header,
    reads_chinese_as_bytes,
)

FACTORS_SHOWN = 6
COMPARED = {  # the two texts compared at the bottom, by default: the course's "The cat is on the …"
    "en": ("The cat is on the roof", "The cat is on the democracy"),
    "zh": ("猫坐在屋顶上", "猫坐在民主上"),
}
BUCKETS = {"top 10": N_("top 10"), "top 100": N_("top 100"), "top 1000": N_("top 1000"), "beyond": N_("beyond 1000"),
           "": ""}  # the GLTR bucket of a rank (the CSV keeps the English)

page_header(_("4 · Loss and perplexity"), _("How surprised is the model by each token of your text?"))
analysis = page_analysis()
table = loss.token_table(analysis)
chain = loss.chain_rule(analysis)


def titles(table) -> list[str]:
    return [
        _("{token}: not scored").format(token=row.token) if row.bucket == "" else
        _("{token}: p = {p:.4f}, −log p = {loss:.2f}, rank {rank}").format(token=row.token, p=row.p, loss=row.neg_log_p,
                                                                        rank=row.rank)
        for row in table.itertuples()
    ]


st.html(token_chips(analysis.tokens, [loss.GLTR_COLOURS[b] for b in table["bucket"]], titles(table)))
st.html(legend({
    _("rank in top 10"): loss.GLTR_COLOURS["top 10"],
    _("rank in top 100"): loss.GLTR_COLOURS["top 100"],
    _("rank in top 1000"): loss.GLTR_COLOURS["top 1000"],
    _("rank beyond 1000"): loss.GLTR_COLOURS["beyond"],
    _("not scored"): loss.GLTR_COLOURS[""],
}))
st.caption(
    _("Colour = where the real token ranked among the model's guesses (as in GLTR). Hover for p, −log p and rank. "
      "The first token has no loss: nothing came before it.") if analysis.kind == "causal" else
    _("Colour = where the real token ranked among the model's guesses (as in GLTR). Hover for p, −log p and rank. "
      "Masked model: each token is hidden in turn and guessed from all the others (pseudo-likelihood).")
)

if chain.scored_tokens == 0:
    st.info(_("Add at least one more token: the loss of a token is measured from the tokens before it."))
    st.stop()

metrics = st.columns(4)
metrics[0].metric(_("Mean loss"), _("{loss:.3f} nats").format(loss=chain.mean_loss), help=_("−(1/N) Σ log p(token | before)"))
metrics[1].metric(_("Perplexity"), grouped(chain.perplexity), help=_("exp(mean loss)"))
metrics[2].metric(_("log p(text)"), _("{loss:.2f} nats").format(loss=chain.log_probability))
metrics[3].metric(_("p(text)"), chain.probability_text)
vocabulary = len(cached_model(analysis.model_name).tokenizer)
if chain.perplexity > vocabulary:
    why = _("Here they are the bytes of Chinese characters, which a model trained on English text almost never saw: "
            "choose {model} in the sidebar for a model that reads Chinese.").format(
        model=literal(EMBEDDED_ZH)) if reads_chinese_as_bytes(analysis) else ""
    st.warning(_("A perplexity of {perplexity} is worse than guessing evenly among all {vocab:,} tokens (perplexity "
                 "{vocab:,}). A model that knows nothing guesses evenly; this one has learned which tokens are rare and "
                 "bets against them, so text full of them costs it more than no knowledge at all. {why}").format(
        perplexity=grouped(chain.perplexity), vocab=vocabulary, why=why), icon=":material/help:")

st.subheader(_("The chain rule"))
st.latex(r"p(x_1,\dots,x_N)=\prod_{t} p(x_t \mid x_{<t}) \qquad "
         r"\mathcal{L}=-\frac{1}{N}\sum_t \log p(x_t\mid x_{<t}) \qquad \mathrm{PPL}=e^{\mathcal{L}}")
shown = " \\times ".join(latex_number(p) for __, p in chain.factors[:FACTORS_SHOWN])
more = r" \times \cdots" if len(chain.factors) > FACTORS_SHOWN else ""
st.latex(rf"p(\text{{text}}) = {shown}{more} = {chain.probability_latex}")
st.caption(_("{n} factors, one per scored token; multiplying many numbers below 1 makes a tiny "
             "probability, which is why models add logs instead.").format(n=chain.scored_tokens))

chart(plots.loss_bars(table), table, "token_losses", _("The loss of each token"))
unscored = (_("no prediction: nothing comes before it") if analysis.kind == "causal" else
            _("not scored: a special token"))
shown_table = table.assign(bucket=[_(BUCKETS[b]) if b else unscored for b in table["bucket"]])
st.dataframe(
    shown_table.style.format({"p": "{:.4f}", "neg_log_p": "{:.3f}", "rank": "{:,}"}, na_rep="—"),  # unscored: no p
    hide_index=True,
    column_config={
        "position": st.column_config.NumberColumn(_("position")),
        "token": _("token"),
        "id": st.column_config.NumberColumn(_("id")),
        "p": st.column_config.NumberColumn(_("p")),
        "neg_log_p": st.column_config.NumberColumn(_("−log p (nats)")),
        "rank": st.column_config.NumberColumn(_("rank")),
        "bucket": _("GLTR bucket"),
    },
)

st.subheader(_("Compare two texts"))
st.caption(_("The same model scores two texts; the less expected one has the higher loss."))
model_name = analysis.model_name
sides = st.columns(2)
defaults = COMPARED.get(st.session_state.get("lang"), COMPARED["en"])
for side, key, label, default in zip(sides, ("compare_a", "compare_b"), (_("Text A"), _("Text B")), defaults):
    with side:
        text = st.text_input(label, default, key=key)
        try:
            other = cached_analysis(model_name, text)
        except ValueError as hint:
            st.info(str(hint))
            continue
        other_table = loss.token_table(other)
        other_chain = loss.chain_rule(other)
        st.html(token_chips(other.tokens, [loss.GLTR_COLOURS[b] for b in other_table["bucket"]], titles(other_table)))
        first, second = st.columns(2)
        first.metric(_("Mean loss"), _("{loss:.3f} nats").format(loss=other_chain.mean_loss))
        second.metric(_("Perplexity"), grouped(other_chain.perplexity))
        chart(plots.loss_bars(other_table), other_table, key, _("The loss of each token"),
              source=plots.source_line(model_name, text))
