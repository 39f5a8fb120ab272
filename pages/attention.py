"""Attention: which earlier tokens each token looks at, in every layer and head."""

import streamlit as st

from explainer import attention, plots
from explainer.i18n import _
from pages.shared import chart, head_picker, layer_picker, page_analysis, page_header, token_window

HEATMAP_MAX_TOKENS = 128  # beyond this a heatmap cell is smaller than a pixel on a projector

page_header(_("2 · Attention"), _("When the model reads a token, which other tokens does it look at?"))
analysis = page_analysis()
causal = attention.is_causal(analysis)

formula, explanation = st.columns([2, 3])
with formula:
    st.latex(r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\!\left(\frac{QK^{\top}}{\sqrt{d_k}}\right)V")
with explanation:
    st.markdown(_(
        "Each **row** of a heatmap is one token (the *query*) and shows how it shares out its attention over "
        "the tokens (the *keys*): the row's weights are ≥ 0 and add up to 1, and the head's output for that "
        "token is the weighted mix of the keys' value vectors."
    ))
    if causal:
        st.caption(_("Grey cells are masked: a GPT model may not look at tokens that come later, so their weight is exactly 0."))
    else:
        st.caption(_("This is a masked (BERT-style) model: attention is bidirectional, every token sees every other."))

controls = st.columns([1, 1, 2])
layer = layer_picker(analysis.layer_count, controls[0])
head = head_picker(analysis.head_count, controls[1])
begin, end = token_window(len(analysis.tokens), HEATMAP_MAX_TOKENS, place=controls[2])
labels = analysis.tokens.display[begin:end]

bertviz_note = _(
    "BertViz shows at most {n} tokens; here tokens {first}–{last}. Hover a token to see where it looks; "
    "click a colour to hide or show a head."
).format(n=attention.BERTVIZ_MAX_TOKENS, first=begin, last=min(end, begin + attention.BERTVIZ_MAX_TOKENS) - 1)
# Only the open tab runs: each BertViz view is ~440 kB of HTML that a prompt change need not resend.
one_head, all_heads, head_view, model_view = st.tabs(
    [_("One head"), _("All heads of the layer"), _("BertViz: head view"), _("BertViz: model view")],
    on_change="rerun", key="attention_view",
)
with one_head:
    if one_head.open:
        matrix = attention.head_weights(analysis, layer, head)[begin:end, begin:end]
        chart(
            plots.attention_heatmap(matrix, labels, causal, _("Layer {layer}, head {head}").format(layer=layer, head=head),
                                    offset=begin),
            attention.weights_table(analysis, layer, head),
            f"attention_layer{layer}_head{head}",
        )
with all_heads:
    if all_heads.open:
        chart(
            plots.head_grid(analysis.attentions[layer][:, begin:end, begin:end], labels, causal, offset=begin),
            attention.weights_table(analysis, layer, None),
            f"attention_layer{layer}_mean",
            _("Layer {layer}: every head and their mean").format(layer=layer),
        )
        st.caption(_("Heads of the same layer learn different patterns: some look at the previous token, "
                     "some at the first, some spread out."))
with head_view:
    if head_view.open:
        st.caption(_("{note} It shows layer {layer}, chosen above.").format(note=bertviz_note, layer=layer))
        shown_tokens = min(end - begin, attention.BERTVIZ_MAX_TOKENS)
        st.iframe(attention.bertviz_html(analysis, "head", begin, layer=layer), height=min(1200, 90 + 22 * shown_tokens))
with model_view:
    if model_view.open:
        st.caption(_("{note} Each small panel is one head (rows: layers, columns: heads); click one to enlarge it.").format(
            note=bertviz_note))
        st.iframe(attention.bertviz_html(analysis, "model", begin), height=180 * analysis.layer_count + 120)
