"""Loss and perplexity: how surprised the model is by each token of your text."""

import streamlit as st

from explainer import loss, plots
from explainer.token_html import legend, token_chips
from pages.shared import cached_analysis, chart, page_analysis, page_header

FACTORS_SHOWN = 6

page_header("4 · Loss and perplexity", "How surprised is the model by each token of your text?")
analysis = page_analysis()
table = loss.token_table(analysis)
chain = loss.chain_rule(analysis)


def titles(table) -> list[str]:
    return [
        f"{row.token}: not scored" if row.bucket == "" else f"{row.token}: p = {row.p:.4f}, −log p = {row.neg_log_p:.2f}, rank {row.rank}"
        for row in table.itertuples()
    ]


st.html(token_chips(analysis.tokens, [loss.GLTR_COLOURS[b] for b in table["bucket"]], titles(table)))
st.html(legend({f"rank in {label}": loss.GLTR_COLOURS[label] for label in ("top 10", "top 100", "top 1000")}
               | {"rank beyond 1000": loss.GLTR_COLOURS["beyond"], "not scored": loss.GLTR_COLOURS[""]}))
st.caption(
    "Colour = where the real token ranked among the model's guesses (as in GLTR). Hover for p, −log p and rank. "
    + ("The first token has no loss: nothing came before it." if analysis.kind == "causal"
       else "Masked model: each token is hidden in turn and guessed from all the others (pseudo-likelihood).")
)

if chain.scored_tokens == 0:
    st.info("Add at least one more token: the loss of a token is measured from the tokens before it.")
    st.stop()

metrics = st.columns(4)
metrics[0].metric("Mean loss", f"{chain.mean_loss:.3f} nats", help="−(1/N) Σ log p(token | before)")
metrics[1].metric("Perplexity", f"{chain.perplexity:.1f}", help="exp(mean loss)")
metrics[2].metric("log p(text)", f"{chain.log_probability:.2f} nats")
metrics[3].metric("p(text)", chain.probability_text)

st.subheader("The chain rule")
st.latex(r"p(x_1,\dots,x_N)=\prod_{t} p(x_t \mid x_{<t}) \qquad \mathcal{L}=-\frac{1}{N}\sum_t \log p(x_t\mid x_{<t}) \qquad \mathrm{PPL}=e^{\mathcal{L}}")
shown = " \\times ".join(f"{p:.3g}" for _, p in chain.factors[:FACTORS_SHOWN])
more = r" \times \cdots" if len(chain.factors) > FACTORS_SHOWN else ""
st.latex(rf"p(\text{{text}}) = {shown}{more} = {chain.probability_latex}")
st.caption(f"{chain.scored_tokens} factors, one per scored token; multiplying many numbers below 1 makes a tiny "
           "probability, which is why models add logs instead.")

chart(plots.loss_bars(table), table, "token_losses")
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "p": st.column_config.NumberColumn(format="%.4f"),
        "neg_log_p": st.column_config.NumberColumn("−log p (nats)", format="%.3f"),
    },
)

st.subheader("Compare two texts")
st.caption("The same model scores two texts; the less expected one has the higher loss.")
model_name = analysis.model_name
sides = st.columns(2)
for side, (key, default) in zip(sides, (("compare_a", "The cat is on the roof"), ("compare_b", "The cat is on the democracy"))):
    with side:
        text = st.text_input(f"Text {'A' if key.endswith('a') else 'B'}", default, key=key)
        try:
            other = cached_analysis(model_name, text)
        except ValueError as hint:
            st.info(str(hint))
            continue
        other_table = loss.token_table(other)
        other_chain = loss.chain_rule(other)
        st.html(token_chips(other.tokens, [loss.GLTR_COLOURS[b] for b in other_table["bucket"]], titles(other_table)))
        first, second = st.columns(2)
        first.metric("Mean loss", f"{other_chain.mean_loss:.3f} nats")
        second.metric("Perplexity", f"{other_chain.perplexity:.1f}")
        st.plotly_chart(plots.loss_bars(other_table), key=f"chart_{key}")
