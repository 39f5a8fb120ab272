"""Break it and see: switch off attention heads or MLP neurons and watch what the model loses on your text."""

import pandas as pd
import streamlit as st

from explainer import ablation, plots
from explainer.i18n import N_, _, labelled, lazy
from pages.shared import cached_analysis, cached_model, chart, layer_picker, page_analysis, page_header, token_window

MLP_MAX_TOKENS = 48  # rows of the MLP heatmap at once
NEURON_BLOCK = 64  # the MLP neurons switch off in blocks of this many

page_header(_("Break it and see"), _("What happens when we switch off part of the model?"))
analysis = page_analysis()
name = analysis.model_name
loaded = cached_model(name)
model = loaded.model
layers, heads = analysis.layer_count, analysis.head_count
mlp_neurons = ablation.mlp_size(model)
causal = analysis.kind == "causal"
text = st.session_state.get("prompt", "")


def arguments(model_name: str, prompt: str) -> tuple:
    """(model, causal, ids, special, prediction position, [MASK] id) of the learner's text."""
    current, chosen = cached_analysis(model_name, prompt), cached_model(model_name)
    return (chosen.model, current.kind == "causal", current.tokens.ids, current.tokens.special,
            current.prediction_position, chosen.tokenizer.mask_token_id)


@st.cache_data(max_entries=32, show_spinner=lazy(N_("Switching off each head in turn…")))
def ranking(model_name: str, prompt: str) -> pd.DataFrame:
    return ablation.head_ranking(*arguments(model_name, prompt))


@st.cache_data(max_entries=64, show_spinner=False)
def effect_of(model_name: str, prompt: str, switched_off: ablation.Ablation) -> ablation.Effect:
    return ablation.effect(*arguments(model_name, prompt), switched_off)


@st.cache_data(max_entries=32, show_spinner=False)
def inside_of(model_name: str, prompt: str, switched_off: ablation.Ablation) -> ablation.Inside:
    return ablation.inside(cached_model(model_name).model, cached_analysis(model_name, prompt).tokens.ids, switched_off)


def head_name(pair: tuple[int, int]) -> str:
    return _("layer {layer}, head {head}").format(layer=pair[0], head=pair[1])


st.markdown(_(
    "A model's parts can be switched off one at a time, as in a lesion study: set the output of an attention head "
    "(or of a block of MLP neurons) to zero, run the same text again, and see what got worse. This is "
    "**ablation**. Everything below is measured on your text."
))
ranked = ranking(name, text)
all_heads = [(layer, head) for layer in range(layers) for head in range(heads)]
most_important = (int(ranked.iloc[0]["layer"]), int(ranked.iloc[0]["head"]))

st.subheader(_("Switch parts off"))
left, right = st.columns(2)
chosen_heads = left.multiselect(_("Attention heads to switch off"), all_heads, default=[most_important],
                                format_func=labelled(all_heads, head_name), key=f"ablation_heads_{name}",
                                help=_("Already chosen: the head whose removal hurts your text most."))
neuron_layers = [None, *range(layers)] if mlp_neurons else [None]
neuron_layer = right.selectbox(_("MLP neurons to switch off: layer"), neuron_layers, key=f"ablation_mlp_layer_{name}",
                               format_func=labelled(neuron_layers, lambda i: _("none") if i is None
                                                    else _("layer {i}").format(i=i)))
neurons: frozenset = frozenset()
if neuron_layer is not None:
    first, stop = right.slider(_("Neurons"), 0, mlp_neurons, (0, min(mlp_neurons, 4 * NEURON_BLOCK)), step=NEURON_BLOCK,
                               key=f"ablation_neurons_{name}",
                               help=_("The MLP of each layer has {n} neurons; the ones in this range are set to 0.").format(
                                   n=mlp_neurons))
    if stop > first:
        neurons = frozenset({(neuron_layer, first, stop)})
switched_off = ablation.Ablation(heads=frozenset(chosen_heads), neurons=neurons)

if switched_off.empty:
    st.info(_("Nothing is switched off: choose a head or a block of neurons above."), icon=":material/touch_app:")
else:
    result = effect_of(name, text, switched_off)
    metrics = st.columns(4)
    metrics[0].metric(_("Mean loss, whole model"), _("{loss:.3f} nats").format(loss=result.before.mean_loss))
    metrics[1].metric(_("Mean loss, switched off"), _("{loss:.3f} nats").format(loss=result.after.mean_loss),
                      delta=f"{result.after.mean_loss - result.before.mean_loss:+.3f}", delta_color="inverse")
    metrics[2].metric(_("KL divergence"), _("{kl:.4f} nats").format(kl=result.kl),
                      help=_("KL(p_whole ‖ p_switched_off) of the next-token distribution: 0 when nothing changed."))
    metrics[3].metric(_("Same top-1 next token"), _("yes") if result.same_top else _("no"))
    predictions = ablation.prediction_table(loaded.tokenizer, result.before.prediction_logits,
                                            result.after.prediction_logits, 8)
    chart(plots.prediction_pair(predictions, _("the whole model"), _("with your switches off")), predictions,
          "ablated_prediction",
          _("The next token: the whole model against your switched-off model"))
    losses = pd.DataFrame({"position": range(len(analysis.tokens)), "token": analysis.tokens.display,
                           "loss_before": result.before.token_losses, "loss_after": result.after.token_losses,
                           "change": result.loss_change})
    st.markdown(_("**Each token's loss**: how much more (red) or less (blue) surprised the model is by each token."))
    chart(plots.loss_change_bars(analysis.tokens.display, result.before.token_losses, result.after.token_losses),
          losses, "ablated_token_losses", _("Each token's loss, before and after switching off"))
    if not causal:
        st.caption(_("Masked model: the tokens are hidden one group in {groups} at a time (about 14%, as in "
                     "training), and each is scored where it was hidden.").format(groups=ablation.MASK_GROUPS))

st.subheader(_("Which heads matter for your text?"))
st.markdown(_("Each head switched off alone: how much the mean loss on your text rises (red) or falls (blue)."))
chart(plots.head_ranking_heatmap(ranked), ranked, "head_ranking", _("How much the loss rises with each head switched off"))
top = ranked.iloc[0]
st.caption(_("The most important head here is layer {layer}, head {head}: without it the mean loss rises by {rise:+.3f} "
             "nats. A head whose removal lowers the loss was, on this text, doing more harm than good.").format(
    layer=int(top["layer"]), head=int(top["head"]), rise=top["loss_increase"]))

st.subheader(_("Inside: the MLP neurons and the residual stream"))
seen = inside_of(name, text, switched_off)
whole = seen if switched_off.empty else inside_of(name, text, ablation.NOTHING)
norms = pd.DataFrame(whole.residual_norms.T, columns=["input"] + [f"after_block_{i}" for i in range(layers)])
chart(plots.residual_norms(whole.residual_norms, None if switched_off.empty else seen.residual_norms), norms,
      "residual_norms", _("The size of the residual stream after each block"))
st.caption(_("The residual stream is the running sum every block adds to: its size ‖h‖ grows layer by layer. The "
             "last point is the stream before the final norm."))
if mlp_neurons:
    busy = pd.DataFrame({"layer": range(layers), "mean_abs_activation": [abs(a).mean() for a in seen.mlp_activations]})
    st.markdown(_("**How busy each MLP is** on your text: the mean size of its neurons' activations."))
    chart(plots.mean_activation_bars(seen.mlp_activations), busy, "mlp_activity", _("How busy each MLP is"))
    controls = st.columns([1, 2])
    layer = layer_picker(layers, controls[0], key="ablation_mlp_view_layer")
    begin, end = token_window(len(analysis.tokens), MLP_MAX_TOKENS, place=controls[1])
    activations = seen.mlp_activations[layer][begin:end]  # (T', D_ff)
    chart(plots.mlp_heatmap(activations, analysis.tokens.display[begin:end]),
          pd.DataFrame(activations, index=analysis.tokens.display[begin:end]).reset_index(names="token"),
          "mlp_activations", _("MLP neuron activations in layer {layer}").format(layer=layer))
    st.caption(_("Each row is a token of your text, each column one neuron of layer {layer}'s MLP, after its "
                 "nonlinearity (GELU): most neurons are near 0 for most tokens, a few fire strongly. Neurons you "
                 "switched off show as 0.").format(layer=layer))
