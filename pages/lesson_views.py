"""The live views of the lessons' stops: for each ``Stop.view``, the answer computed from the model and the chart.

Each view is a pair of functions of a ``Context``: ``answer`` (an ``explainer.lessons.Answer``, cheap, used
before the reveal) and ``draw`` (the chart, shown with the answer). The charts are the other pages' own
figures (``explainer.plots``), computed for the lesson's text or the learner's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from explainer import attention, lessons, loss, plots, prediction
from explainer.analysis import Analysis, analyze
from explainer.attention_steps import AttentionSteps, key_table, query_and_keys, show_work, values_and_output
from explainer.embeddings import embed, vectors_table
from explainer.i18n import N_, _, lazy
from explainer.models import EMBEDDED_DIR
from explainer.token_html import token_chips
from explainer.training.fine_tuning import FineTuningRun, curve_table, default_sentiment_set, run_on
from explainer.training.pretraining import embedded_training_history, untrained_copy
from explainer.training.scaling import fitted_line, load_sweep, points_table
from pages.live_training import live_panel, my_job, train_button
from pages.shared import cached_analysis, cached_model, chart

STRIP_TOKENS = 12  # tokens shown in the embedding strips of a lesson
TEMPERATURE = 2.0  # the temperature stop's


@dataclass(frozen=True)
class Context:
    """What every view works from: the lesson's model and text, analysed, and a seed for the distractors."""

    model_name: str
    text: str
    analysis: Analysis
    seed: str  # lesson, stop and language: the same question every time

    @property
    def tokens(self) -> list[str]:
        return self.analysis.tokens.display

    @property
    def last_layer(self) -> int:
        return len(self.analysis.attentions) - 1

    @property
    def query(self) -> int:
        """The query token of the attention lesson: the middle of the text, so the mask hides something."""
        return (len(self.tokens) - 1) // 2


@dataclass(frozen=True)
class View:
    answer: Callable[[Context], lessons.Answer]
    draw: Callable[[Context], None]


def _distribution(context: Context, temperature: float = 1.0, rows: int = 10):
    settings = prediction.SamplingSettings(temperature=temperature)
    return prediction.distribution_table(context.analysis, cached_model(context.model_name).tokenizer, settings, rows)


@st.cache_data(max_entries=64, show_spinner=False)
def _steps(model_name: str, text: str, layer: int, head: int, query: int) -> AttentionSteps:
    return show_work(cached_model(model_name), cached_analysis(model_name, text), layer, head, query)


def _head_steps(context: Context) -> AttentionSteps:
    return _steps(context.model_name, context.text, context.last_layer, 0, context.query)


@st.cache_resource(max_entries=4, show_spinner=lazy(N_("Drawing untrained weights…")))
def _untrained(model_name: str):
    return untrained_copy(cached_model(model_name), seed=0)


@st.cache_data(max_entries=64, show_spinner=False)
def _untrained_analysis(model_name: str, text: str) -> Analysis:
    return analyze(_untrained(model_name), text)


# ------------------------------------------------------------------ lesson 1


def _draw_tokens(context: Context) -> None:
    st.html(token_chips(context.analysis.tokens))


def _draw_embeddings(context: Context) -> None:
    parts = embed(cached_model(context.model_name), context.analysis)
    shown = slice(0, STRIP_TOKENS)
    strips = {_("token embedding E[id]"): parts.token[shown]}
    if parts.position is not None:
        strips[_("position embedding P[t]")] = parts.position[shown]
    strips[_("input to block 0: {how}").format(how=_(parts.block_input_name))] = parts.block_input[shown]
    chart(plots.embedding_strips(strips, context.tokens[shown]), vectors_table(strips, context.tokens[shown]),
          "lesson_embeddings", _("Each token's vectors"))


def _attention_row(context: Context) -> np.ndarray:
    return attention.head_weights(context.analysis, context.last_layer, 0)[-1]  # (T,) the last token's row


def _draw_attention(context: Context) -> None:
    matrix = attention.head_weights(context.analysis, context.last_layer, 0)
    chart(plots.attention_heatmap(matrix, context.tokens, attention.is_causal(context.analysis),
                                  _("Layer {layer}, head {head}").format(layer=context.last_layer, head=0)),
          attention.weights_table(context.analysis, context.last_layer, 0), "lesson_attention")


def _draw_logits(context: Context) -> None:
    table = _distribution(context)
    chart(plots.logit_bars(table), table, "lesson_logits", _("The scores (logits) of the top 10 tokens"))


def _draw_softmax(context: Context) -> None:
    table = _distribution(context)
    chart(plots.distribution_bars(table, reshaped=False), table, "lesson_softmax",
          _("The next token: the model's probabilities"))


def _draw_temperature(context: Context) -> None:
    table = _distribution(context, TEMPERATURE)
    chart(plots.distribution_bars(table, reshaped=True), table, "lesson_temperature",
          _("The next token at temperature {t:g}").format(t=TEMPERATURE))


def _draw_loss(context: Context) -> None:
    table = loss.token_table(context.analysis)
    chart(plots.loss_bars(table), table, "lesson_loss", _("The loss of each token"))


def _top_answer(context: Context) -> lessons.Answer:
    table = _distribution(context)
    return lessons.top_token_answer(list(table["token"]), table["logit"].to_numpy(), context.seed)


def _confidence(context: Context) -> lessons.Answer:
    table = _distribution(context, rows=1)
    return lessons.confidence_answer(table["token"].iloc[0], float(table["probability"].iloc[0]))


# ------------------------------------------------------------------ lesson 2


def _draw_queries(context: Context) -> None:
    steps = _head_steps(context)
    vectors = query_and_keys(steps, context.tokens)
    chart(plots.vector_strip(vectors, _("q (top row) and the {n} keys k_j").format(n=len(context.tokens)), 1),
          vectors, "lesson_queries")


def _key_chart(column: str, axis: str, show_mask: bool, title: str) -> Callable[[Context], None]:
    """The bars of one column of ``key_table`` (``axis`` and ``title`` marked with ``N_``)."""
    def draw(context: Context) -> None:
        steps = _head_steps(context)
        table = key_table(steps, context.tokens)
        chart(plots.key_bars(table, column, _(axis), steps.query, show_mask=show_mask),
              table[["key_position", "key_token", column]], f"lesson_{column}", _(title))

    return draw


def _draw_values(context: Context) -> None:
    steps = _head_steps(context)
    values = values_and_output(steps, context.tokens)
    chart(plots.vector_strip(values, _("the {n} values v_j, then the output o").format(n=len(context.tokens)),
                             len(context.tokens)), values, "lesson_values")


def _order_kept(context: Context) -> lessons.Answer:
    steps = _head_steps(context)  # one copy out of the cache for both arrays
    return lessons.scaling_keeps_order_answer(steps.scores, steps.scaled)


def _closest_value(context: Context) -> lessons.Answer:
    steps = _head_steps(context)
    return lessons.closest_value_answer(steps.output, steps.values, steps.weights, context.tokens, context.seed)


def _draw_heads(context: Context) -> None:
    layer = context.last_layer
    chart(plots.head_grid(context.analysis.attentions[layer], context.tokens, attention.is_causal(context.analysis)),
          attention.weights_table(context.analysis, layer, None), "lesson_heads",
          _("Layer {layer}: every head and their mean").format(layer=layer))


# ------------------------------------------------------------------ lesson 3


def _draw_scrambled(context: Context) -> None:
    left, right = st.columns(2)
    for column, text, name in ((left, context.text, "lesson_loss_text"),
                               (right, lessons.scrambled(context.text), "lesson_loss_scrambled")):
        with column:
            table = loss.token_table(cached_analysis(context.model_name, text))
            chart(plots.loss_bars(table), table, name, _("The loss of each token"),
                  source=plots.source_line(context.model_name, text))


def _scrambled_answer(context: Context) -> lessons.Answer:
    shuffled = cached_analysis(context.model_name, lessons.scrambled(context.text))
    return lessons.scrambled_loss_answer(context.analysis.mean_loss, shuffled.mean_loss)


def _draw_untrained(context: Context) -> None:
    table = loss.token_table(_untrained_analysis(context.model_name, context.text))
    chart(plots.loss_bars(table), table, "lesson_untrained", _("The loss of each token, before any training"))


def _history(context: Context):
    return embedded_training_history(EMBEDDED_DIR / context.model_name)


def _draw_pretraining(context: Context) -> None:
    table = _history(context)
    chart(plots.training_curves(table), table, "lesson_pretraining", _("Loss while training"),
          source=plots.source_line(context.model_name))


def _pretraining_answer(context: Context) -> lessons.Answer:
    last = _history(context).iloc[-1]
    return lessons.train_or_validation_answer(float(last.train_loss), float(last.val_loss))


def _sweep():
    """The committed scaling sweep: its points (a table) and the law fitted to them."""
    __, points, law = load_sweep()
    return points_table(points), law


def _draw_scaling(context: Context) -> None:
    table, law = _sweep()
    sizes = table["non_embedding_parameters"]
    chart(plots.scaling_plot(table, "non_embedding_parameters", _("non-embedding parameters N (as Kaplan et al.)"),
                             fitted_line(law, sizes.min() / 2, sizes.max() * 2)),
          table, "lesson_scaling", _("Final loss against model size"), source="")


def _scaling_answer(context: Context) -> lessons.Answer:
    table = _sweep()[0].sort_values("non_embedding_parameters")
    first, last = table.iloc[0], table.iloc[-1]
    return lessons.scaling_answer((int(first.non_embedding_parameters), float(first.final_loss)),
                                  (int(last.non_embedding_parameters), float(last.final_loss)))


def _finished_run() -> FineTuningRun | None:
    job = my_job(FineTuningRun)
    return job.run if job is not None and job.state == "finished" else None


def _fine_tuning_answer(context: Context) -> lessons.Answer:
    run = _finished_run()
    if run is None:
        return lessons.fine_tuning_answer(None)
    finals = curve_table(run.curves).groupby("start", sort=False).last()
    return lessons.fine_tuning_answer({start: float(row.test_accuracy) for start, row in finals.iterrows()})


def _draw_fine_tuning(context: Context) -> None:
    sentiment_set = default_sentiment_set(st.session_state.get("lang", "en"))
    tokenizer = cached_model(sentiment_set.base_model).tokenizer
    train_button(_("Fine-tune and train from scratch"), lambda: run_on(sentiment_set, tokenizer), max_seconds=240)
    job = my_job(FineTuningRun)
    if job is not None:
        live_panel(job, lambda run: chart(plots.fine_tuning_curves(curve_table(run.curves)), curve_table(run.curves),
                                          "lesson_fine_tuning", _("Fine-tuning: accuracy and loss while training")))


VIEWS: dict[str, View] = {
    "tokens": View(lambda c: lessons.token_count_answer(c.tokens, c.text), _draw_tokens),
    "embeddings": View(lambda c: lessons.vector_size_answer(c.analysis.hidden_states.shape[-1],
                                                            len(cached_model(c.model_name).tokenizer), len(c.tokens)),
                       _draw_embeddings),
    "attention": View(lambda c: lessons.most_attended_answer(_attention_row(c), c.tokens, len(c.tokens) - 1, c.seed),
                      _draw_attention),
    "logits": View(_top_answer, _draw_logits),
    "softmax": View(_confidence, _draw_softmax),
    "temperature": View(lambda c: lessons.temperature_answer(c.analysis.next_token_logits, TEMPERATURE), _draw_temperature),
    "loss": View(lambda c: lessons.most_surprising_answer(c.analysis.token_losses, c.tokens, c.seed), _draw_loss),
    "queries": View(lambda c: lessons.head_size_answer(_head_steps(c).d_k, c.analysis.hidden_states.shape[-1],
                                                       c.analysis.attentions[0].shape[0]), _draw_queries),
    "scores": View(lambda c: lessons.highest_score_answer(_head_steps(c).scores, c.tokens, c.query, c.seed),
                   _key_chart("score", "q · k", False, N_("Scores"))),
    "scale": View(_order_kept,
                  _key_chart("scaled", "q · k / √d_k", False, N_("Scale"))),
    "mask": View(lambda c: lessons.visible_keys_answer(_head_steps(c).is_masked, c.query, c.tokens[c.query]),
                 _key_chart("masked_score", N_("after the mask"), True, N_("Causal mask"))),
    "weights": View(lambda c: lessons.largest_weight_answer(_head_steps(c).weights, c.tokens),
                    _key_chart("weight", N_("attention weight a_j"), True, N_("Softmax"))),
    "values": View(_closest_value, _draw_values),
    "heads": View(lambda c: lessons.heads_agree_answer(c.analysis.attentions[c.last_layer][:, c.query]), _draw_heads),
    "scrambled": View(_scrambled_answer, _draw_scrambled),
    "untrained": View(lambda c: lessons.untrained_loss_answer(
        _untrained_analysis(c.model_name, c.text).mean_loss, len(cached_model(c.model_name).tokenizer)), _draw_untrained),
    "pretraining": View(_pretraining_answer, _draw_pretraining),
    "scaling": View(_scaling_answer, _draw_scaling),
    "fine_tuning": View(_fine_tuning_answer, _draw_fine_tuning),
}
