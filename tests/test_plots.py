"""The figures: every builder draws small data in the shared style, diverging colours follow the one policy, and
token strings reach Plotly escaped."""

import base64
import inspect

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from explainer import plots
from explainer.plots import style

TOKENS = ["<b>x</b>", " the", "<script>", " the"]  # untrusted, and a repeated token
T = len(TOKENS)
RNG = np.random.default_rng(0)


def attention_matrix(size: int) -> np.ndarray:
    """(size, size) rows that sum to 1 over the keys up to the query."""
    weights = np.tril(RNG.random((size, size)) + 0.1)
    return weights / weights.sum(axis=1, keepdims=True)


def with_outlier(shape: tuple[int, ...]) -> np.ndarray:
    """±0.5 everywhere but one 50: the 99th percentile of |values| is 0.5 once there are 101 values or more."""
    matrix = np.where(np.arange(np.prod(shape)) % 2 == 0, 0.5, -0.5).reshape(shape)
    matrix.flat[0] = 50.0
    return matrix


def vectors(matrix: np.ndarray, names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(matrix, columns=[f"d{d}" for d in range(matrix.shape[1])])
    frame.insert(0, "vector", names)
    return frame


FIGURES = {  # every public figure builder, called with small data
    "weight_histograms": lambda: plots.weight_histograms(pd.DataFrame(
        [{"scope": scope, "precision": precision, "left": left, "right": left + 0.1, "count": count}
         for scope in ("matrix", "channel 0") for precision in ("fp32", "int8", "int4")
         for left, count in ((-0.1, 3), (0.0, 5))]), "<b>h.0</b>"),
    "precision_bars": lambda: plots.precision_bars(pd.DataFrame(
        {"precision": ["fp32", "int8", "int4"], "perplexity": [73.4, 73.4, 77.2], "megabytes": [10.0, 2.6, 1.3]})),
    "prediction_pair": lambda: plots.prediction_pair(
        pd.DataFrame({"token": TOKENS, "p_before": [0.4, 0.3, 0.2, 0.1], "p_after": [0.3, 0.3, 0.3, 0.1]}), "fp32", "int8"),
    "pruning_curve": lambda: plots.pruning_curve(pd.DataFrame(
        {"sparsity": [0.0, 0.5, 0.9], "perplexity": [73.4, 83.4, 6013.3], "zeroed_weights": [0, 50, 90]})),
    "head_removal_curve": lambda: plots.head_removal_curve(pd.DataFrame(
        {"heads_removed": [0, 1, 2], "perplexity": [73.4, 74.0, 80.0], "removed": ["", "layer 0, head 1", "layer 2, head 0"]})),
    "distillation_curves": lambda: plots.distillation_curves(pd.DataFrame(
        {"target": ["soft targets"] * 2 + ["hard labels"] * 2, "step": [0, 10] * 2, "val_loss": [8.3, 6.9, 8.3, 6.8],
         "train_loss": [8.3, 6.7, 8.3, 6.6]}), teacher_loss=4.3),
    "kv_cache_timing": lambda: plots.kv_cache_timing(pd.DataFrame(
        {"length": [8, 9, 10, 11], "with_cache_ms": [3.4, 3.3, 3.5, 3.3], "without_cache_ms": [5.6, np.nan, 6.0, np.nan]})),
    "loss_change_bars": lambda: plots.loss_change_bars(TOKENS, np.array([np.nan, 2.0, 3.0, 1.0]),
                                                       np.array([np.nan, 2.5, 2.0, 1.2])),
    "head_ranking_heatmap": lambda: plots.head_ranking_heatmap(pd.DataFrame(
        {"layer": [0, 0, 1, 1], "head": [0, 1, 0, 1], "loss_increase": [0.1, -0.05, 0.2, 0.0]})),
    "mlp_heatmap": lambda: plots.mlp_heatmap(with_outlier((T, 101)), TOKENS),
    "residual_norms": lambda: plots.residual_norms(RNG.random((3, T)) * 50, RNG.random((3, T)) * 50),  # (L+1, T)
    "mean_activation_bars": lambda: plots.mean_activation_bars([np.abs(with_outlier((T, 8))), np.ones((T, 8))]),
    "attention_heatmap": lambda: plots.attention_heatmap(attention_matrix(T), TOKENS, True, "layer 0, head 0", offset=3),
    "narrow_attention_heatmap": lambda: plots.narrow_attention_heatmap(attention_matrix(T), TOKENS, False, "BERT"),
    "head_grid": lambda: plots.head_grid(np.stack([attention_matrix(T) for _ in range(4)]), TOKENS, True),
    "attention_rows": lambda: plots.attention_rows(attention_matrix(T)[2:], TOKENS[2:], TOKENS, "generated"),
    "vector_strip": lambda: plots.vector_strip(vectors(with_outlier((T + 1, 40)), ["q  (0: <b>x</b>)"] + TOKENS),
                                               "q and k", 1),
    "key_bars": lambda: plots.key_bars(
        pd.DataFrame({"key_position": range(T), "key_token": TOKENS, "weight": [0.5, 0.5, 0.0, 0.0],
                      "is_masked": [False, False, True, True]}), "weight", "a", 1, show_mask=True),
    "multi_head_strip": lambda: plots.multi_head_strip(
        pd.DataFrame({"dimension": range(100), "head": np.arange(100) // 25, "concatenated": with_outlier((100,)),
                      "projected": np.where(np.arange(100) % 2 == 0, -0.5, 0.5)})),
    "embedding_strips": lambda: plots.embedding_strips({"token": with_outlier((T, 30)), "<i>position</i>":
                                                        with_outlier((T, 30)) / 2}, TOKENS, offset=2),
    "token_map_scatter": lambda: plots.token_map_scatter(
        pd.DataFrame({"token": TOKENS, "id": range(T), "group": ["your text"] * 3 + ["your words"],
                      "x": RNG.random(T), "y": RNG.random(T)}), np.array([0.4, 0.2])),
    "similarity_heatmap": lambda: plots.similarity_heatmap(with_outlier((15, 15)), TOKENS * 3 + TOKENS[:3]),
    "position_heatmaps": lambda: plots.position_heatmaps(with_outlier((20, 16)), with_outlier((20, 16)) * 3),
    "distribution_bars": lambda: plots.distribution_bars(
        pd.DataFrame({"token": TOKENS, "probability": [0.4, 0.3, 0.2, 0.1],
                      "sampling_probability": [0.5, 0.3, 0.2, 0.0]}), reshaped=True),
    "guess_bars": lambda: plots.guess_bars(pd.DataFrame({"rank": range(1, 5), "id": range(4), "token": TOKENS,
                                                        "probability": [0.4, 0.3, 0.2, 0.1]}), answer_id=1, guess_id=2),
    "class_and_model_bars": lambda: plots.class_and_model_bars(
        pd.DataFrame({"guess": ["<b>king</b>", "queen"], "students": [2, 1], "share": [2 / 3, 1 / 3]}),
        pd.DataFrame({"token": TOKENS, "probability": [0.4, 0.3, 0.2, 0.1]})),
    "logit_bars": lambda: plots.logit_bars(pd.DataFrame({"token": TOKENS, "logit": [4.0, 3.5, -1.0, 0.5]})),
    "generation_step_bars": lambda: plots.generation_step_bars(TOKENS, [0.4, 0.3, 0.2, 0.1], chosen=2),
    "generated_probabilities": lambda: plots.generated_probabilities(TOKENS, [0.4, 0.3, 0.2, 0.1], [0.3, 0.3, 0.1, 0.1]),
    "fill_mask_bars": lambda: plots.fill_mask_bars(
        pd.DataFrame({"mask_index": [0, 0, 1, 1], "position": [2, 2, 5, 5], "rank": [1, 2, 1, 2], "id": range(4),
                      "token": TOKENS, "probability": [0.6, 0.4, 0.7, 0.3]})),
    "loss_bars": lambda: plots.loss_bars(
        pd.DataFrame({"position": range(T), "token": TOKENS, "neg_log_p": [np.nan, 1.0, 2.0, 3.0],
                      "p": [np.nan, 0.37, 0.14, 0.05], "rank": [0, 3, 40, 900],
                      "bucket": ["", "top 10", "top 100", "top 1000"]})),
    "logit_lens_heatmap": lambda: plots.logit_lens_heatmap(
        RNG.random((3, T)), [TOKENS, TOKENS[::-1], ["a very long token indeed"] * T], RNG.random((3, T)), TOKENS,
        TOKENS, ["embeddings", "layer 1", "output"], offset=1),
    "token_count_bars": lambda: plots.token_count_bars({"GPT-2": 12, "<b>BPE</b>": 9}, 40),
    "tokens_per_character_bars": lambda: plots.tokens_per_character_bars(
        pd.DataFrame({"name": ["<b>BPE</b>", "<b>BPE</b>", "chars", "chars"], "language": ["zh", "en", "zh", "en"],
                      "characters": [10, 30, 10, 30], "tokens": [12, 8, 10, 30],
                      "tokens_per_character": [1.2, 8 / 30, 1.0, 1.0]})),
    "training_curves": lambda: plots.training_curves(
        pd.DataFrame({"tokens_seen": [0, 1000, 2000], "train_loss": [8.0, 6.0, 5.0], "val_loss": [8.1, 6.2, 5.4]})),
    "scaling_plot": lambda: plots.scaling_plot(
        pd.DataFrame({"parameters": [1e4, 1e5, 1e6], "final_loss": [6.0, 5.0, 4.5], "name": ["1×1×8", "2×2×32", "4×4×128"]}),
        "parameters", "parameters", pd.DataFrame({"x": [5e3, 1e5, 2e6], "loss": [6.4, 5.0, 4.4]})),
    "loss_against_tokens": lambda: plots.loss_against_tokens(
        pd.DataFrame({"name": ["small"] * 2 + ["large"] * 2, "tokens_seen": [1e3, 1e4] * 2, "val_loss": [7, 6, 6.5, 5]})),
    "prompting_accuracy_bars": lambda: plots.prompting_accuracy_bars(
        pd.DataFrame({"style": ["direct", "step_by_step", "one_example"], "questions": [20] * 3, "correct": [4, 11, 9],
                      "accuracy": [0.2, 0.55, 0.45], "mean_new_tokens": [3.0, 140.5, 60.2]}),
        {"direct": "Direct", "step_by_step": "<b>step</b> by step", "one_example": "One example"}),
    "fine_tuning_curves": lambda: plots.fine_tuning_curves(
        pd.DataFrame({"start": ["fine-tuned"] * 2 + ["from scratch"] * 2, "step": [0, 10] * 2,
                      "test_accuracy": [0.5, 0.9, 0.5, 0.6], "test_loss": [0.7, 0.3, 0.7, 0.6]})),
    "cross_attention_heatmap": lambda: plots.cross_attention_heatmap(
        RNG.dirichlet(np.ones(T), size=3), TOKENS[:3], TOKENS, "<b>Cross-attention</b>"),
    "beam_probability_bars": lambda: plots.beam_probability_bars(TOKENS[:3] + [""], [0.6, 0.2, 0.1, 0.01]),
    "cot_accuracy_bars": lambda: plots.cot_accuracy_bars(
        pd.DataFrame({"model": ["<b>direct</b>", "steps"], "accuracy": [0.2, 0.9], "problems": [1000, 1000]})),
    "cot_token_probabilities": lambda: plots.cot_token_probabilities(TOKENS, [0.9, 0.5, 0.99, 0.7], 2),
}
# the builders given token strings (or names) with markup
ESCAPED = {"attention_heatmap", "narrow_attention_heatmap", "head_grid", "attention_rows", "vector_strip", "key_bars",
           "embedding_strips", "token_map_scatter", "similarity_heatmap", "distribution_bars", "logit_bars",
           "guess_bars", "class_and_model_bars", "generation_step_bars", "generated_probabilities", "fill_mask_bars",
           "loss_bars", "logit_lens_heatmap", "token_count_bars", "tokens_per_character_bars", "prompting_accuracy_bars",
           "cross_attention_heatmap", "beam_probability_bars", "cot_accuracy_bars", "cot_token_probabilities"}
DIVERGING = go.Heatmap(colorscale=style.VECTOR_SCALE).colorscale


def figure_builders() -> set[str]:
    functions = [getattr(plots, name) for name in plots.__all__ if inspect.isfunction(getattr(plots, name))]
    return {function.__name__ for function in functions if function.__module__ != style.__name__
            and inspect.signature(function).return_annotation in (go.Figure, "go.Figure")}


def test_every_public_figure_builder_is_called_here():
    assert figure_builders() == set(FIGURES)
    assert ESCAPED <= set(FIGURES)


def test_the_pages_imports_still_work():
    from explainer.plots import PLOTLY_CONFIG

    assert PLOTLY_CONFIG["toImageButtonOptions"]["format"] == "png"
    assert plots.attention_heatmap.__module__ == "explainer.plots.attention"


def test_the_template_is_registered_on_plotly_white_with_projector_sizes():
    template = pio.templates[style.TEMPLATE]
    assert style.TEMPLATE == "explainer"
    assert template.layout.plot_bgcolor == pio.templates["plotly_white"].layout.plot_bgcolor == "white"
    assert template.layout.xaxis.tickfont.size >= 13 and template.layout.xaxis.tickfont.color == "#333333"
    assert template.layout.yaxis.title.font.size >= 13 and template.layout.title.font.size >= 16


@pytest.mark.parametrize("name", FIGURES)
def test_a_figure_uses_the_template_and_its_font_sizes_on_its_own_layout(name):
    figure = FIGURES[name]()
    assert isinstance(figure, go.Figure) and figure.data
    assert figure.layout.template == pio.templates["explainer"]
    # Streamlit's chart theme rewrites the template's fonts, so the sizes must be on the figure itself too.
    assert figure.layout.font.size >= 13 and figure.layout.font.color == style.INK
    assert figure.layout.paper_bgcolor == "white" and figure.layout.plot_bgcolor in ("white", style.MASKED_COLOUR)
    axes = [*figure.select_xaxes(), *figure.select_yaxes()]
    for axis in axes:
        assert axis.tickfont.size >= 13 and axis.tickfont.color == style.INK, (axis.plotly_name, axis.tickfont)
        assert axis.title.font.size >= 13 and axis.title.font.color == style.INK, axis.plotly_name
    if figure.layout.title.text:
        assert figure.layout.title.font.size >= 16
    for annotation in figure.layout.annotations:  # subplot titles, reference-line labels
        assert (annotation.font.size or figure.layout.font.size) >= 13
    assert figure.layout.margin.l is not None and figure.layout.margin.b is not None  # the default margins, or its own


def test_the_symmetric_limit_is_the_99th_percentile_of_absolute_values():
    assert style.symmetric_limit(with_outlier((10, 20))) == 0.5  # one outlier (50) doesn't wash out the rest
    assert style.symmetric_limit(np.zeros((3, 3))) == 1.0
    values = RNG.normal(size=(7, 50))
    assert style.symmetric_limit(values) == pytest.approx(np.percentile(np.abs(values), 99))
    assert style.diverging(with_outlier((10, 20))) == {"colorscale": style.VECTOR_SCALE, "zmin": -0.5, "zmax": 0.5}
    assert "99th percentile" in style.symmetric_limit.__doc__


def values(array) -> np.ndarray:
    """A trace's array as numbers: styled figures hold Plotly's JSON form, a typed-array spec (base64 bytes)."""
    if isinstance(array, dict):
        shape = [int(n) for n in str(array.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).reshape(shape)
    return np.asarray(array, dtype=float)


@pytest.mark.parametrize("name", ["vector_strip", "multi_head_strip", "embedding_strips", "similarity_heatmap",
                                  "position_heatmaps"])
def test_every_diverging_figure_uses_the_symmetric_limit(name):
    heatmaps = [trace for trace in FIGURES[name]().data if trace.type == "heatmap"]
    assert heatmaps and all(trace.colorscale == DIVERGING for trace in heatmaps)
    for trace in heatmaps:
        z = values(trace.z)
        assert -trace.zmin == trace.zmax == style.symmetric_limit(z)
        if name != "position_heatmaps":
            assert trace.zmax == 0.5 * (np.abs(z).max() / 50)  # built by with_outlier: 0.5, or 0.25 for a half
    if name == "position_heatmaps":
        assert [trace.zmax for trace in heatmaps] == [0.5, 1.5]


@pytest.mark.parametrize("name", FIGURES)
def test_no_other_figure_draws_a_diverging_scale(name):
    for trace in FIGURES[name]().data:
        if getattr(trace, "colorscale", None) == DIVERGING:
            assert -trace.zmin == trace.zmax == style.symmetric_limit(values(trace.z))


@pytest.mark.parametrize("name", sorted(ESCAPED))
def test_token_strings_reach_the_figure_escaped(name):
    shown = str(FIGURES[name]().to_plotly_json())
    assert "<b>" not in shown and "<script" not in shown and "<i>" not in shown
    assert "&lt;b&gt;" in shown


def test_ticks_and_hover_name_positions_the_same_way():
    names = ["3: &lt;b&gt;x&lt;/b&gt;", "4:  the", "5: &lt;script&gt;", "6:  the"]
    assert plots.position_labels(TOKENS, 3) == names
    figure = FIGURES["attention_heatmap"]()  # offset 3
    assert list(figure.layout.xaxis.ticktext) == list(figure.layout.yaxis.ticktext) == names
    assert figure.data[0].customdata[2][0].tolist() == [names[2], names[0]]  # query 5 attending to key 3
    similarity = plots.similarity_heatmap(np.eye(T), TOKENS, offset=3)
    assert list(similarity.layout.yaxis.ticktext) == names and similarity.data[0].customdata[1][3].tolist() == names[1::2]
    assert list(FIGURES["logit_lens_heatmap"]().data[0].y) == plots.position_labels(TOKENS, 1)
    assert list(FIGURES["embedding_strips"]().data[0].y) == plots.position_labels(TOKENS, 2)
    rows = FIGURES["attention_rows"]()  # the last two tokens over all four
    assert list(rows.layout.yaxis.ticktext) == plots.position_labels(TOKENS[2:], 2)
    assert rows.data[0].customdata[0][1].tolist() == ["2: &lt;script&gt;", "1:  the"]
    key_bars = FIGURES["key_bars"]()
    assert list(key_bars.data[0].customdata) == list(key_bars.layout.xaxis.ticktext) == plots.position_labels(TOKENS)


def test_long_texts_get_every_nth_tick():
    labels = [f"t{i}" for i in range(100)]
    figure = plots.attention_heatmap(attention_matrix(100), labels, True, "long")
    assert list(figure.layout.xaxis.tickvals) == list(range(0, 100, 3))
    assert figure.layout.xaxis.ticktext[1] == "3: t3"


def test_the_source_line_is_the_text_on_one_line_cut_and_escaped_then_the_model():
    long_text = "<b>bold</b>\nand " + "x" * 100
    line = plots.source_line("tiny-gpt-austen", long_text)
    quoted = line[1:line.index("”")]
    assert "<b>" not in line and quoted.startswith("&lt;b&gt;bold&lt;/b&gt; and xx")
    assert quoted.endswith("…") and len(plots.style.html.unescape(quoted)) == style.SOURCE_CHARACTERS
    assert line.endswith("” · tiny-gpt-austen")
    assert plots.source_line("tiny-gpt-austen", "Short.") == "“Short.” · tiny-gpt-austen"
    assert plots.source_line("model <x>") == "model &lt;x&gt;"


def test_a_captioned_figure_carries_its_title_and_source_in_its_own_layout():
    untitled = plots.captioned(go.Figure(go.Bar(x=[1], y=[2]), layout={"height": 300}), "The loss of each token",
                               "“The cat” · tiny-gpt-austen")
    assert untitled.layout.title.text == "The loss of each token"
    assert untitled.layout.title.subtitle.text == "“The cat” · tiny-gpt-austen"
    assert untitled.layout.height == 300 + style.CAPTION_HEIGHT
    titled = plots.captioned(go.Figure(layout={"title": "Layer 0, head 1"}), "ignored", "source")
    assert titled.layout.title.text == "Layer 0, head 1" and titled.layout.title.subtitle.text == "source"
    with pytest.raises(ValueError, match="needs a title"):
        plots.captioned(go.Figure(), "", "source")
