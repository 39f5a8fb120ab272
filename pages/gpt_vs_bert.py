"""GPT vs BERT: the same text through a causal and a masked model, and BERT filling in blanks."""

import streamlit as st

from explainer import attention, causal_vs_masked, plots
from explainer.i18n import N_, _, lazy
from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT
from pages.shared import cached_analysis, cached_model, chart, head_picker, layer_picker, page_header

HEATMAP_MAX_TOKENS = 64  # half a screen wide: beyond this the cells are too small to read


@st.cache_data(max_entries=64, show_spinner=lazy(N_("Filling in the blanks…")))
def cached_fill_mask(model_name: str, text: str, k: int):
    return causal_vs_masked.fill_mask(cached_model(model_name), text, k)


page_header(_("GPT vs BERT"), _("Two ways to train a language model: guess the next token, or fill in a hidden one."))
st.caption(_("This page always compares the two embedded models, {gpt} and {bert}, "
             "whatever model the sidebar has chosen.").format(gpt=EMBEDDED_GPT, bert=EMBEDDED_BERT))

gpt_side, bert_side = st.columns(2)
with gpt_side:
    st.markdown(_("**GPT: a causal language model.** It is trained to predict every token from the tokens before it:"))
    st.latex(r"\mathcal{L}_{\text{causal}} = -\sum_{t=1}^{T} \log p(x_t \mid x_{<t})")
with bert_side:
    st.markdown(_("**BERT: a masked language model.** About {share} of the tokens are hidden and predicted from both sides:")
                .format(share="15%"))
    st.latex(r"\mathcal{L}_{\text{MLM}} = -\sum_{t \in M} \log p(x_t \mid x_{\setminus M})")
st.markdown(_(
    "The objective shapes the model. To learn from every position at once without cheating, GPT must never see "
    "the token it predicts, so each token attends only to earlier ones: that is what lets it write text, one token "
    "after another. BERT predicts hidden tokens (M is the set of hidden positions, about {share} of them), so it may "
    "read the whole text in both directions: it cannot write left to right, but it understands each word from its "
    "full context and fills in blanks."
).format(share="15%"))

st.subheader(_("The same text, two attention patterns"))
prompt = st.session_state.get("prompt", "")
try:
    analyses = [cached_analysis(EMBEDDED_GPT, prompt), cached_analysis(EMBEDDED_BERT, prompt)]
except ValueError as hint:
    st.info(str(hint), icon=":material/edit:")
    analyses = []
for column, analysis in zip(st.columns(2), analyses):
    with column:
        st.markdown((_("**{model}** (causal)") if attention.is_causal(analysis) else _("**{model}** (masked)")).format(
            model=analysis.model_name))
        pick_layer, pick_head = st.columns(2)
        layer = layer_picker(analysis.layer_count, pick_layer, key=f"layer_{analysis.model_name}")
        head = head_picker(analysis.head_count, pick_head, key=f"head_{analysis.model_name}", with_mean=True)
        if analysis.truncated:
            st.warning(_("{model} reads at most {context} tokens: only the first {shown} of {n} are used.").format(
                model=analysis.model_name, context=analysis.context_length, shown=len(analysis.tokens),
                n=analysis.original_token_count), icon=":material/content_cut:")
        shown = min(len(analysis.tokens), HEATMAP_MAX_TOKENS)
        matrix = causal_vs_masked.attention_map(analysis, layer, head)  # (T, T)
        title = (_("layer {layer}, mean of the heads").format(layer=layer) if head is None
                 else _("layer {layer}, head {head}").format(layer=layer, head=head))
        chart(plots.narrow_attention_heatmap(matrix[:shown, :shown], analysis.tokens.display[:shown],
                                             attention.is_causal(analysis), title),
              attention.weights_table(analysis, layer, head), f"attention_{analysis.model_name}")
        if shown < len(analysis.tokens):
            st.caption(_("The first {shown} of {n} tokens are drawn; the CSV has them all.").format(
                shown=shown, n=len(analysis.tokens)))
        st.metric(_("Attention to later tokens"), f"{causal_vs_masked.future_share(matrix):.1%}",
                  help=_("The share of each token's attention that goes to tokens after it, averaged over the tokens."))
if analyses:
    st.caption(_(
        "Rows are the tokens reading, columns the tokens read. On the left, the grey triangle above the diagonal is "
        "the causal mask: token i may look only at tokens 0 to i, so the weights there are exactly 0. On the right, "
        "BERT has no triangle: every token looks at the whole text, left and right. The two models also cut the text "
        "differently: BERT's tokenizer lowercases and adds [CLS] at the start and [SEP] at the end."
    ))

st.subheader(_("Fill in the blank with BERT"))
sentence = st.text_input(_("A sentence with [MASK] where a word is missing"),
                         prompt if causal_vs_masked.MASK in prompt else causal_vs_masked.DEFAULT_BLANK)
top_k = st.slider(_("Guesses shown for each [MASK]"), 3, 20, 8)
try:
    guesses = cached_fill_mask(EMBEDDED_BERT, sentence, top_k)
except ValueError as hint:
    st.info(str(hint), icon=":material/edit:")
    st.stop()
st.markdown(_("**{model}'s best guess** (the most probable token at each [MASK]):").format(model=EMBEDDED_BERT))
st.code(causal_vs_masked.filled_in(sentence, guesses), language=None, wrap_lines=True)
chart_column, table_column = st.columns(2)
with chart_column:
    chart(plots.fill_mask_bars(guesses), guesses, "fill_mask", _("BERT's guesses for each blank"))
with table_column:
    st.dataframe(
        guesses,
        hide_index=True,
        column_order=["mask_index", "position", "rank", "token", "probability", "id"],
        column_config={
            "mask_index": st.column_config.NumberColumn(_("mask"), help=_("0 = the first [MASK] of the sentence")),
            "position": st.column_config.NumberColumn(_("position")),
            "rank": st.column_config.NumberColumn(_("rank")),
            "token": _("token"),
            "probability": st.column_config.ProgressColumn(_("p (softmax)"), format="%.4f", min_value=0, max_value=1),
            "id": st.column_config.NumberColumn(_("id")),
        },
    )
st.caption(_("The probabilities are the softmax of BERT's logits at the [MASK] position, using the words on both sides. "
             "A GPT model could only use the words before the blank."))
