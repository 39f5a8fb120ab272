"""Attention, step by step: one head and one query token, from q·k to the head's output and W_O."""

import streamlit as st

from explainer import attention_steps, plots
from explainer.i18n import N_, _, lazy
from pages.shared import (
    cached_analysis,
    cached_model,
    chart,
    csv_download,
    head_picker,
    layer_picker,
    literal,
    page_analysis,
    page_header,
)


@st.cache_data(max_entries=64, show_spinner=lazy(N_("Working it out…")))
def cached_steps(model_name: str, text: str, layer: int, head: int, query: int) -> attention_steps.AttentionSteps:
    return attention_steps.show_work(cached_model(model_name), cached_analysis(model_name, text), layer, head, query)


def step(number: int, title: str, formula: str, explanation: str):
    """A numbered step: its formula and explanation on the left; returns the right column for its chart."""
    st.subheader(f"{number} · {title}")
    left, right = st.columns([2, 5], vertical_alignment="center")
    with left:
        st.latex(formula)
        st.caption(explanation)
    return right


page_header(_("Attention, step by step"), _("How does one head turn one token's query into a mix of the other tokens?"))
analysis = page_analysis()
model = cached_model(analysis.model_name)
architecture = model.architecture
try:
    attention_steps.check_supported(model)
except ValueError as unsupported:
    st.info(str(unsupported), icon=":material/info:")
    st.stop()
tokens = analysis.tokens.display

controls = st.columns([1, 1, 2])
layer = layer_picker(analysis.layer_count, controls[0])
head = head_picker(analysis.head_count, controls[1])
query = controls[2].selectbox(_("Query token"), range(len(tokens)), index=len(tokens) // 2,
                              format_func=lambda t: f"{t} · {tokens[t]}", help=_("The token whose attention is worked out."))
steps = cached_steps(analysis.model_name, st.session_state.get("prompt", ""), layer, head, query)
table = attention_steps.key_table(steps, tokens)
d_k, heads, query_token = steps.d_k, steps.head_count, tokens[query]
if steps.causal:
    st.markdown(_("Layer {layer}, head {head}: the token **{query}** · {token} looks at tokens 0 to {query}. "
                  "Six steps take it from vectors to the head's output.").format(
        layer=layer, head=head, query=query, token=literal(query_token)))
else:
    st.markdown(_("Layer {layer}, head {head}: the token **{query}** · {token} looks at all {n} tokens "
                  "(BERT is bidirectional). Six steps take it from vectors to the head's output.").format(
        layer=layer, head=head, query=query, token=literal(query_token), n=len(tokens)))

with step(1, _("Query and keys"), r"\begin{aligned} q &= x_i W_Q \\ k_j &= x_j W_K \\ v_j &= x_j W_V \end{aligned}",
          _("Each token's vector x is multiplied by three learned matrices. Head {head} keeps its own slice: "
            "d_k = {d_k} numbers per vector. {what_x_is}").format(head=head, d_k=d_k, what_x_is=_(architecture.attention_input))):
    vectors = attention_steps.query_and_keys(steps, tokens)
    chart(plots.vector_strip(vectors, _("q (top row) and the {n} keys k_j").format(n=len(tokens)), 1), vectors,
          "steps_query_keys")

with step(2, _("Scores"), r"s_j = q \cdot k_j = \sum_{d=1}^{d_k} q_d\, k_{j,d}",
          _("One dot product per key: large when the query and the key point the same way. "
            "The dark bar is the query token's own key.")):
    chart(plots.key_bars(table, "score", "q · k", query, show_mask=False),
          table[["key_position", "key_token", "score"]], "steps_scores", _("Scores"))

scale_formula = rf"\tilde s_j = \frac{{s_j}}{{\sqrt{{d_k}}}} = \frac{{s_j}}{{\sqrt{{{d_k}}}}} = \frac{{s_j}}{{{d_k ** 0.5:.2f}}}"
with step(3, _("Scale"), scale_formula,
          _("Dividing by √d_k keeps the scores in a range where softmax is not too peaked, whatever the head size.")):
    chart(plots.key_bars(table, "scaled", "q · k / √d_k", query, show_mask=False),
          table[["key_position", "key_token", "scaled"]], "steps_scaled", _("Scale"))

if steps.causal:
    mask_formula = r"m_j = \begin{cases} \tilde s_j & j \le i \\ -\infty & j > i \end{cases}"
    mask_text = _("The causal mask: token {query} may not look at later tokens, so their scores become −∞ "
                  "(the grey band). In the full matrix this is the triangle above the diagonal.").format(query=query)
    if not steps.is_masked.any():
        mask_text = _("Token {query} is the last one: nothing comes after it to mask. "
                      "Pick an earlier query token to see the mask.").format(query=query)
else:
    mask_formula = r"m_j = \tilde s_j \quad \text{(no mask)}"
    mask_text = _("BERT has no causal mask: every key stays, including the tokens after the query.")
with step(4, _("Causal mask") if steps.causal else _("Causal mask (BERT has none)"), mask_formula, mask_text):
    chart(plots.key_bars(table, "masked_score", _("after the mask"), query, show_mask=True),
          table[["key_position", "key_token", "masked_score"]], "steps_masked", _("Causal mask"))

with step(5, _("Softmax"), r"a_j = \frac{e^{m_j}}{\sum_{j'} e^{m_{j'}}} \qquad e^{-\infty} = 0",
          _("The weights are ≥ 0 and add up to 1 ({total:.4f}). They are row {query} of the "
            "layer {layer}, head {head} heatmap on the Attention page.").format(
              total=steps.weights.sum(), query=query, layer=layer, head=head)):
    chart(plots.key_bars(table, "weight", _("attention weight a_j"), query, show_mask=True),
          table[["key_position", "key_token", "weight"]], "steps_weights", _("Softmax"))

st.markdown(_("**The numbers of steps 2 to 5**"))
st.dataframe(
    table,
    hide_index=True,
    column_order=["key_position", "key_token", "score", "scaled", "masked_shown", "weight"],
    column_config={
        "key_position": st.column_config.NumberColumn("j"),
        "key_token": _("key token"),
        "score": st.column_config.NumberColumn("q · k", format="%.4f"),
        "scaled": st.column_config.NumberColumn("÷ √d_k", format="%.4f"),
        "masked_shown": _("after the mask"),
        "weight": st.column_config.ProgressColumn(_("softmax a_j"), format="%.4f", min_value=0, max_value=1),
    },
)
csv_download(table, "steps_all_numbers")

with step(6, _("Weighted sum of the values"), r"o = \sum_j a_j\, v_j",
          _("The head's output is a mix of the value vectors, each weighted by its a_j: {d_k} numbers "
            "(the bottom row, below the line).").format(d_k=d_k)):
    values = attention_steps.values_and_output(steps, tokens)
    chart(plots.vector_strip(values, _("the {n} values v_j, then the output o").format(n=len(tokens)), len(tokens)),
          values, "steps_values")

st.subheader(_("All heads together"))
multi_head = attention_steps.multi_head_table(steps)
left, right = st.columns([3, 5], vertical_alignment="center")
with left:
    st.latex(r"\begin{aligned} y &= [\,o^{(0)};\,\dots;\,o^{(H-1)}\,]\, W_O + b_O \\"
             rf"(1 \times {heads * d_k}) &= (1 \times {heads}{{\cdot}}{d_k})\,"
             rf"({heads * d_k} \times {heads * d_k}) \end{{aligned}}")
    st.caption(
        _("y is the attention output for token {query}. Every head does steps 1–6 in parallel. Their {heads} "
          "outputs of {d_k} numbers are joined end to end (H × d_k = {heads} × {d_k} = {total} = D) and "
          "mixed by the output projection W_O (`{projection}`). The result is added to the residual stream.")
        .format(query=query, heads=heads, d_k=d_k, total=heads * d_k, projection=steps.projection) if steps.causal else
        _("y is the attention output for token {query}. Every head does steps 1–6 in parallel. Their {heads} "
          "outputs of {d_k} numbers are joined end to end (H × d_k = {heads} × {d_k} = {total} = D) and "
          "mixed by the output projection W_O (`{projection}`). The result is added to x and normalised "
          "(BERT's post-norm).")
        .format(query=query, heads=heads, d_k=d_k, total=heads * d_k, projection=steps.projection)
    )
with right:
    chart(plots.multi_head_strip(multi_head), multi_head, "steps_multi_head", _("Every head's output, joined and projected"))
