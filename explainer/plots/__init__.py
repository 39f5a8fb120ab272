"""Every Plotly figure of the app, built from explainer data, one module per stage, in one style.

- ``style``: the template, palette, margins, token labels and diverging colour range all figures share;
- ``tokenization``, ``attention``, ``attention_steps``, ``embeddings``, ``prediction`` (next token, generation,
  [MASK]), ``loss``, ``logit_lens`` and ``training`` (live training, the scaling law, fine-tuning): the figures.

Token strings reach Plotly only through ``style.escape``, which escapes the characters Plotly would read as its
own HTML-like markup. Titles, axes, legends and hover text are in the current language (``explainer.i18n``);
Plotly's own ``%{...}`` placeholders stay inside the translated templates. Pages use ``from explainer import
plots`` and ``plots.<name>``: everything public is re-exported here.
"""

from explainer.plots.attention import attention_heatmap, attention_rows, head_grid, narrow_attention_heatmap
from explainer.plots.attention_steps import key_bars, multi_head_strip, vector_strip
from explainer.plots.embeddings import embedding_strips, position_heatmaps, similarity_heatmap, token_map_scatter
from explainer.plots.logit_lens import LENS_CELL_CHARACTERS, logit_lens_heatmap
from explainer.plots.loss import loss_bars
from explainer.plots.prediction import (
    BAR_TOKEN_FONT,
    distribution_bars,
    fill_mask_bars,
    generated_probabilities,
    generation_step_bars,
    logit_bars,
)
from explainer.plots.style import (
    ATTENTION_SCALE,
    AXIS_TITLE_FONT,
    BLUE,
    DARK_BLUE,
    GREEN,
    GREY,
    HOVER_FONT,
    INK,
    MARGIN,
    MASKED_COLOUR,
    MAX_TICK_LABELS,
    PALE_BLUE,
    PAPER,
    PLOTLY_CONFIG,
    RED,
    SOFT_BLUE,
    TEMPLATE,
    TEXT_FONT,
    TICK_FONT,
    TITLE_FONT,
    TOKEN_FONT,
    VECTOR_SCALE,
    captioned,
    category_ticks,
    diverging,
    escape,
    label_pairs,
    position_label,
    position_labels,
    source_line,
    styled,
    symmetric_limit,
)
from explainer.plots.tokenization import SENTENCE_COLOURS, SENTENCE_NAMES, token_count_bars, tokens_per_character_bars
from explainer.plots.training import fine_tuning_curves, log_axis, loss_against_tokens, scaling_plot, training_curves

__all__ = [
    # figures, by stage
    "token_count_bars", "tokens_per_character_bars",
    "attention_heatmap", "narrow_attention_heatmap", "head_grid", "attention_rows",
    "vector_strip", "key_bars", "multi_head_strip",
    "embedding_strips", "token_map_scatter", "similarity_heatmap", "position_heatmaps",
    "distribution_bars", "logit_bars", "generation_step_bars", "generated_probabilities", "fill_mask_bars",
    "loss_bars",
    "logit_lens_heatmap",
    "training_curves", "scaling_plot", "loss_against_tokens", "fine_tuning_curves",
    # the shared style
    "PLOTLY_CONFIG", "TEMPLATE", "styled", "MARGIN", "captioned", "source_line",
    "TICK_FONT", "AXIS_TITLE_FONT", "TITLE_FONT", "TEXT_FONT", "HOVER_FONT", "TOKEN_FONT", "BAR_TOKEN_FONT",
    "PAPER", "INK", "BLUE", "SOFT_BLUE", "PALE_BLUE", "DARK_BLUE", "RED", "GREEN", "GREY", "MASKED_COLOUR",
    "ATTENTION_SCALE", "VECTOR_SCALE", "symmetric_limit", "diverging",
    "escape", "position_label", "position_labels", "label_pairs", "category_ticks", "MAX_TICK_LABELS",
    # stage constants and helpers
    "SENTENCE_COLOURS", "SENTENCE_NAMES", "LENS_CELL_CHARACTERS", "log_axis",
]

# Make it smaller, and break it and see (issue 16)
from explainer.plots.ablation import (  # noqa: E402
    head_ranking_heatmap,
    loss_change_bars,
    mean_activation_bars,
    mlp_heatmap,
    residual_norms,
)
from explainer.plots.compression import (  # noqa: E402
    PRECISION_COLOURS,
    distillation_curves,
    head_removal_curve,
    kv_cache_timing,
    precision_bars,
    prediction_pair,
    pruning_curve,
    weight_histograms,
)

__all__ += [
    "weight_histograms", "precision_bars", "prediction_pair", "pruning_curve", "head_removal_curve",
    "distillation_curves", "kv_cache_timing", "PRECISION_COLOURS",
    "loss_change_bars", "head_ranking_heatmap", "mlp_heatmap", "residual_norms", "mean_activation_bars",
]

# Guess the next token, a classroom game
from explainer.plots.guessing import GUESS_BAR_HEIGHT, guess_bars  # noqa: E402

__all__ += ["guess_bars", "GUESS_BAR_HEIGHT"]

# The class room: the class's guesses beside the model's
from explainer.plots.classroom import class_and_model_bars  # noqa: E402

__all__ += ["class_and_model_bars"]

# Chain-of-thought prompting of a hub instruct model
from explainer.plots.cot_prompting import STYLE_COLOURS, prompting_accuracy_bars  # noqa: E402

__all__ += ["prompting_accuracy_bars", "STYLE_COLOURS"]

# Translation with an encoder–decoder
from explainer.plots.translation import beam_probability_bars, cross_attention_heatmap  # noqa: E402

__all__ += ["cross_attention_heatmap", "beam_probability_bars"]

# Chain of thought, measured: two tiny models trained here
from explainer.plots.chain_of_thought import cot_accuracy_bars, cot_token_probabilities  # noqa: E402

__all__ += ["cot_accuracy_bars", "cot_token_probabilities"]
