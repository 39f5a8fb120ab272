"""Make it smaller: quantization, pruning and distillation of the active model, and the KV cache, on real numbers."""

import math

import pandas as pd
import streamlit as st

from explainer import ablation, compression, kv_cache, plots
from explainer.corpus import shipped_prose
from explainer.i18n import N_, _, labelled, lazy
from explainer.models import EMBEDDED_GPT
from explainer.training import distillation
from pages.live_training import live_panel, my_job, train_button
from pages.shared import cached_analysis, cached_model, chart, page_analysis, page_header
from pages.untrusted import literal

SECTIONS = {  # the page's sections: only the chosen one runs
    "quantization": N_("Quantization"),
    "pruning": N_("Pruning"),
    "distillation": N_("Distillation"),
    "kv_cache": N_("The KV cache"),
}
COMPARED = {"int8": N_("int8, weights only"), "int4": N_("int4, weights only"),
            "dynamic int8": N_("PyTorch dynamic int8")}  # the quantized versions the text is compared under
PREDICTION_ROWS = 10

page_header(_("Make it smaller"), _("How much of a model can we throw away, and what does it cost?"))
analysis = page_analysis()
loaded = cached_model(analysis.model_name)
name = analysis.model_name
held_out_source = _("{model} · held-out Austen").format(model=plots.escape(name))  # the charts not of your text


# ---------------------------------------------------------------- caches


@st.cache_data(show_spinner=False)
def austen_prose() -> tuple[list[str], list[str]]:
    return shipped_prose()


@st.cache_resource(max_entries=4, show_spinner=False)
def heldout(model_name: str) -> compression.HeldOut:
    return compression.held_out(cached_model(model_name), austen_prose()[1])


@st.cache_resource(max_entries=2, show_spinner=lazy(N_("Quantizing the model…")))
def quantized_models(model_name: str) -> dict:
    """The quantized copies of the model: int8 and int4 (weights only), and PyTorch's dynamic int8 (read-only)."""
    model = cached_model(model_name).model
    return {"int8": compression.quantized_copy(model, 8), "int4": compression.quantized_copy(model, 4),
            "dynamic int8": compression.dynamic_int8(model)}


@st.cache_data(max_entries=4, show_spinner=lazy(N_("Measuring each version on held-out text…")))
def precision_table(model_name: str) -> pd.DataFrame:
    """One row per version: precision, bits, megabytes, loss, perplexity, forward_ms (one pass over 128 tokens)."""
    model = cached_model(model_name).model
    data = heldout(model_name)
    sample = data.ids[:128][None]  # (1, 128)
    versions = {"fp32": model, **quantized_models(model_name)}
    rows = []
    for precision, version in versions.items():
        bits = compression.PRECISIONS.get(precision, 8)
        size = (compression.saved_bytes(version) if precision == "dynamic int8"
                else compression.quantized_bytes(model, bits))
        loss = data.loss(version)
        rows.append({"precision": precision, "bits": bits, "megabytes": size / 2**20, "loss": loss,
                     "perplexity": math.exp(loss), "forward_ms": compression.forward_milliseconds(version, sample)})
    return pd.DataFrame(rows)


@st.cache_data(max_entries=16, show_spinner=False)
def histogram_table(model_name: str, matrix: str) -> pd.DataFrame:
    return compression.weight_histograms(cached_model(model_name).model, matrix)


@st.cache_data(max_entries=64, show_spinner=False)
def text_comparison(model_name: str, text: str, precision: str) -> tuple[pd.DataFrame, float, bool, float]:
    """On the learner's text: (the top next tokens before and after, KL, same top-1, share of positions whose
    top-1 guess is unchanged)."""
    current, model = cached_analysis(model_name, text), cached_model(model_name)
    tokens, mask_id, causal = current.tokens, model.tokenizer.mask_token_id, current.kind == "causal"
    before = ablation.scores(model.model, causal, tokens.ids, tokens.special, current.prediction_position, mask_id)
    after = ablation.scores(quantized_models(model_name)[precision], causal, tokens.ids, tokens.special,
                            current.prediction_position, mask_id)
    table = ablation.prediction_table(model.tokenizer, before.prediction_logits, after.prediction_logits, PREDICTION_ROWS)
    return (table, ablation.kl_divergence(before.prediction_logits, after.prediction_logits),
            bool(before.prediction_logits.argmax() == after.prediction_logits.argmax()),
            ablation.top1_agreement(before.logits, after.logits))


@st.cache_data(max_entries=4, show_spinner=lazy(N_("Pruning the model at ten sparsities…")))
def pruning_table(model_name: str) -> pd.DataFrame:
    return compression.pruning_curve(cached_model(model_name).model, heldout(model_name))


@st.cache_data(max_entries=4, show_spinner=lazy(N_("Switching the heads off one by one…")))
def head_removal_tables(model_name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    return compression.head_removal(cached_model(model_name).model, heldout(model_name).first(compression.HEAD_EVAL_TOKENS))


@st.cache_data(max_entries=16, show_spinner=lazy(N_("Generating token by token, with and without the cache…")))
def kv_timing(model_name: str, prompt: tuple[int, ...]) -> kv_cache.Timing:
    current = cached_model(model_name)
    return kv_cache.timing(current.model, list(prompt), current.context_length)


# ---------------------------------------------------------------- the page

st.markdown(_(
    "A trained model is a big table of numbers. Three ways to make it cheaper, each measured here on "
    "**{model}** itself: store each number with fewer bits (**quantization**), set the least useful numbers "
    "to zero (**pruning**), or train a much smaller model to imitate it (**distillation**). A fourth trick changes "
    "nothing in the model and still makes generation faster: the **KV cache**."
).format(model=literal(name)))
section = st.segmented_control(_("Section"), list(SECTIONS), key="compression_section", required=True,
                               default="quantization", format_func=labelled(list(SECTIONS), lambda s: _(SECTIONS[s])))


def quantization_section() -> None:
    st.subheader(_("Quantization: fewer bits per weight"))
    st.markdown(_(
        "Each weight is a 32-bit float (fp32). **Weight-only quantization** keeps, for each output channel (a row of "
        "a weight matrix), one scale s = max|w| / q_max and stores every weight as the whole number "
        "q = round(w / s) between −q_max and q_max: 127 for **int8** (8 bits), 7 for **int4** (4 bits). The model "
        "then computes with q × s, never more than s / 2 away from the original weight. **PyTorch's dynamic int8** "
        "goes further: the linear layers also round their inputs to 8 bits on the fly and multiply in integers."
    ))
    table = precision_table(name)
    metrics = st.columns(len(table))
    base = table.iloc[0]
    for column, row in zip(metrics, table.itertuples()):
        column.metric(
            _("{precision}: perplexity").format(precision=row.precision), f"{row.perplexity:.2f}",
            delta=None if row.precision == "fp32" else f"{row.perplexity - base.perplexity:+.2f}", delta_color="inverse",
            help=_("{size:.2f} MB; one forward pass over 128 tokens: {ms:.1f} ms").format(size=row.megabytes,
                                                                                           ms=row.forward_ms))
    chart(plots.precision_bars(table), table, "quantization", _("Perplexity and size at each precision"), held_out_source)
    st.caption(_(
        "Perplexity on the first {tokens:,} tokens of held-out Austen (text the model never trained on). Size: "
        "the weight matrices at 8 or 4 bits plus one fp32 scale per output channel; biases and norms stay fp32. "
        "The dynamic int8 size is of its saved file, where the embedding table stays fp32. Time of one forward "
        "pass over 128 tokens on this server: fp32 {fp32:.1f} ms, int8 {int8:.1f} ms, int4 {int4:.1f} ms, dynamic "
        "int8 {dynamic:.1f} ms. Weight-only int8 and int4 are simulated (the weights are stored back as floats), so "
        "they save memory, not time; only dynamic int8 computes in integers."
    ).format(tokens=len(heldout(name).ids), **dict(zip(["fp32", "int8", "int4", "dynamic"], table["forward_ms"]))))

    st.markdown(_("**The weights before and after.** Choose a weight matrix:"))
    matrices = [m.name for m in compression.weight_matrices(loaded.model)]
    default = next((i for i, m in enumerate(matrices) if "mlp" in m or "intermediate" in m), 0)
    matrix = st.selectbox(_("Weight matrix"), matrices, index=default, key="compression_matrix")
    histograms = histogram_table(name, matrix)
    chart(plots.weight_histograms(histograms, matrix), histograms, "weight_histograms",
          _("The weights of one matrix at each precision"), plots.source_line(name))
    st.caption(_("Left: the whole matrix. Right: one output channel, where the rounding is visible: int4 leaves "
                 "only 15 possible values (−7 … 7 times the channel's scale), int8 255."))

    st.markdown(_("**On your text.** The next-token distribution of the full model and of a quantized one:"))
    chosen = st.radio(_("Quantized version"), list(COMPARED), horizontal=True, key="compression_compared",
                      format_func=labelled(list(COMPARED), lambda p: _(COMPARED[p])))
    predictions, kl, same_top, agreement = text_comparison(name, st.session_state.get("prompt", ""), chosen)
    first, second, third = st.columns(3)
    first.metric(_("KL divergence"), _("{kl:.5f} nats").format(kl=kl),
                 help=_("KL(p_fp32 ‖ p_quantized) of the next-token distribution: 0 when they are identical."))
    second.metric(_("Same top-1 next token"), _("yes") if same_top else _("no"))
    third.metric(_("Top-1 agreement over the text"), f"{agreement:.0%}",
                 help=_("The share of the positions of your text where both models' most likely token is the same."))
    chart(plots.prediction_pair(predictions, "fp32", _(COMPARED[chosen])), predictions, "quantized_prediction",
          _("The next token: fp32 against {precision}").format(precision=_(COMPARED[chosen])))


def pruning_section() -> None:
    st.subheader(_("Pruning: set the smallest weights to zero"))
    st.markdown(_(
        "**Magnitude pruning** sets the given share of every weight matrix of the blocks (attention and MLP) to "
        "0, the weights with the smallest |w| first. The embedding table and the output layer are kept. A zero "
        "costs nothing to multiply, and a sparse matrix can be stored in less space."
    ))
    table = pruning_table(name)
    at = table.set_index("sparsity")["perplexity"]
    metrics = st.columns(3)
    metrics[0].metric(_("Perplexity, whole model"), f"{at[0.0]:.1f}")
    metrics[1].metric(_("50% of the weights at 0"), f"{at[0.5]:.1f}", delta=f"{at[0.5] - at[0.0]:+.1f}",
                      delta_color="inverse")
    metrics[2].metric(_("90% of the weights at 0"), f"{at[0.9]:.1f}", delta=f"{at[0.9] - at[0.0]:+.1f}",
                      delta_color="inverse")
    chart(plots.pruning_curve(table), table, "pruning", _("Perplexity as more weights are set to 0"), held_out_source)
    st.caption(_("Held-out perplexity on the first {tokens:,} tokens of held-out Austen, on a log scale: the "
                 "small weights barely matter, until too many are gone.").format(tokens=len(heldout(name).ids)))

    st.markdown(_(
        "**Removing whole heads.** Each head is switched off alone (its output set to 0) and ranked by how much the "
        "held-out loss rises; then the heads are removed one after another, least important first. Whole heads "
        "are what a real speed-up removes: a smaller matrix, not scattered zeros."
    ))
    if st.button(_("Rank the heads and remove them"), key="remove_heads", icon=":material/content_cut:") \
            or st.session_state.get("heads_removed_for") == name:
        st.session_state["heads_removed_for"] = name
        importance, curve = head_removal_tables(name)
        chart(plots.head_removal_curve(curve), curve, "head_removal",
              _("Perplexity as heads are removed, least important first"), held_out_source)
        least = importance.iloc[0]
        most = importance.iloc[-1]
        st.caption(_("On the first {tokens:,} held-out tokens. Least important: layer {l1}, head {h1} "
                     "(loss {d1:+.4f} nats when it alone is off); most important: layer {l2}, head {h2} ({d2:+.4f})."
                     ).format(tokens=compression.HEAD_EVAL_TOKENS, l1=int(least["layer"]), h1=int(least["head"]),
                              d1=least["loss_increase"], l2=int(most["layer"]), h2=int(most["head"]),
                              d2=most["loss_increase"]))


def distillation_section() -> None:
    st.subheader(_("Distillation: a small student imitates the model"))
    teacher_name = name if analysis.kind == "causal" else EMBEDDED_GPT
    teacher = cached_model(teacher_name)
    if teacher_name != name:
        st.info(_("Distillation here teaches a small GPT to predict the next token, so its teacher must be a "
                  "causal model: {teacher} teaches instead of {model}.").format(
                      teacher=literal(teacher_name), model=literal(name)), icon=":material/swap_horiz:")
    student_parameters = distillation.STUDENT.parameter_counts(teacher.model.get_output_embeddings().weight.shape[0])[0]
    st.markdown(_(
        "Two **students** of the same small shape ({layers} layers × {heads} heads × {dims} dims, {millions:.2f}M "
        "parameters; the teacher {teacher} has {teacher_millions:.2f}M) start from the same random weights and "
        "read the same Austen in the same order, for the same number of steps:\n"
        "- one learns from **soft targets**: the teacher's whole next-token distribution, softened by a temperature "
        "T, with the loss T² · KL(teacher ‖ student);\n"
        "- the other from **hard labels**: only the token that really came next (cross-entropy).\n\n"
        "The teacher's distribution says more than the right answer: which other words were nearly as good."
    ).format(layers=distillation.STUDENT.layers, heads=distillation.STUDENT.heads, dims=distillation.STUDENT.dims,
             millions=student_parameters / 1e6, teacher=literal(teacher_name),
             teacher_millions=sum(p.numel() for p in teacher.model.parameters()) / 1e6))
    left, right = st.columns(2)
    temperature = left.select_slider(_("Temperature T"), [1.0, 2.0, 4.0], value=2.0, key="distillation_temperature")
    steps = right.select_slider(_("Steps per student"), [60, 120, 240], value=120, key="distillation_steps")

    def make_run() -> distillation.DistillationRun:
        train_texts, val_texts = austen_prose()
        return distillation.DistillationRun(
            teacher.model, distillation.training_ids(teacher.tokenizer, train_texts),
            compression.heldout_ids(teacher.tokenizer, val_texts), teacher.tokenizer.eos_token_id or 0,
            steps=steps, temperature=temperature, teacher_name=teacher_name, eval_every=max(5, steps // 12))

    train_button(_("Train both students"), make_run, max_seconds=300)

    def draw(run: distillation.DistillationRun) -> None:
        table = distillation.curve_table(run.curves)
        if run.perplexities:
            columns = st.columns(len(run.perplexities) + 1)
            if run.teacher_perplexity:
                columns[0].metric(_("Teacher: perplexity"), f"{run.teacher_perplexity:.1f}")
            for column, (target, value) in zip(columns[1:], run.perplexities.items()):
                column.metric(_("{student}: perplexity").format(student=_(target)), f"{value:.1f}")
        if len(table):
            teacher_loss = math.log(run.teacher_perplexity) if run.teacher_perplexity else None
            chart(plots.distillation_curves(table, teacher_loss), table, "distillation",
                  _("Distillation: the students' loss while they train"), held_out_source)
            st.caption(_("Both curves are the cross-entropy on the real next tokens (the soft-target student never "
                         "trained on it directly). Final perplexities on the first {tokens:,} tokens of held-out "
                         "Austen, in windows of {context} tokens; T = {temperature:g}.").format(
                tokens=len(run.val_ids), context=distillation.STUDENT.context, temperature=run.temperature))

    job = my_job(distillation.DistillationRun)
    if job is not None:
        live_panel(job, draw)


def kv_cache_section() -> None:
    st.subheader(_("The KV cache: the same tokens, faster"))
    if analysis.kind != "causal":
        st.info(_("{model} reads the whole text at once and does not generate token by token, so it has no KV "
                  "cache. Choose a GPT model in the sidebar.").format(model=literal(name)), icon=":material/info:")
        return
    st.markdown(_(
        "A GPT writes one token at a time. To choose the next one, the new token's query is compared with the "
        "**keys** of every token before it and mixes their **values**, in every layer and head. Those keys and "
        "values never change, since a token only looks back.\n"
        "- **Without a cache**, every step runs the whole text so far through the model again: at n tokens it "
        "recomputes n tokens' keys and values, so each new token costs O(n) and the text gets slower as it grows.\n"
        "- **With the KV cache**, each step runs only the new token: it computes that one token's key and value "
        "(O(1) new work), appends them to the cache, and attends over the cached ones.\n\n"
        "Both give exactly the same tokens. Press the button to generate from the start of your text to "
        "{length} tokens both ways and time every step on this server."
    ).format(length=min(loaded.context_length, kv_cache.MAX_LENGTH)))
    prompt = tuple(analysis.tokens.ids)
    if st.button(_("Measure, with and without the cache"), key="measure_kv_cache", icon=":material/timer:") \
            or st.session_state.get("kv_measured_for") == (name, prompt):
        st.session_state["kv_measured_for"] = (name, prompt)
        timing = kv_timing(name, prompt)
        st.dataframe(timing.summary, hide_index=True, column_config={
            "length": st.column_config.NumberColumn(_("tokens in the text")),
            "with_cache_ms": st.column_config.NumberColumn(_("with the KV cache (ms per token)"), format="%.1f"),
            "without_cache_ms": st.column_config.NumberColumn(_("without it (ms per token)"), format="%.1f"),
            "speedup": st.column_config.NumberColumn(_("the cache is faster by"), format="%.1f×"),
        })
        chart(plots.kv_cache_timing(timing.steps), timing.steps, "kv_cache",
              _("Time per new token, with and without the KV cache"))
        st.caption(_("Each dot is one step, the line their running median (this server's CPU is shared, so single "
                     "steps jump; the table gives the median of the 8 steps up to each length). Both ways generated "
                     "the same {n} tokens: {same}.").format(
            n=len(timing.generated), same=_("yes") if timing.same_tokens else _("no")))


{"quantization": quantization_section, "pruning": pruning_section, "distillation": distillation_section,
 "kv_cache": kv_cache_section}[section]()
