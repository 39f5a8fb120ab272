"""Guided lessons: a path through the pipeline in stops, each with a predict-then-reveal question.

A lesson is a list of stops. A stop names the live view the page draws (``Stop.view``: the same charts as the
other pages, computed for the lesson's text or the learner's own), says what it shows, and asks a question
whose answer is computed from the model, here, for that text (``Answer``). The learner commits a guess before
the chart and the answer show.

The texts are marked with ``N_``: the page translates them. A question or reveal text has ``{placeholders}``
filled from ``Answer.facts``; string facts are untrusted (tokens of the learner's text) and numbers are numbers.
Distractors are drawn with a private ``random.Random`` seeded by the stop and the text, so a demo repeats exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from explainer.i18n import N_


@dataclass(frozen=True)
class Stop:
    """One stop of a lesson."""

    view: str  # which live chart the page draws (pages/lesson_views.py)
    title: str  # N_
    explanation: str  # N_, Markdown: what this stage does
    question: str  # N_: asked before the reveal; may use the answer's facts
    reveal: str  # N_: shown with the answer; may use the answer's facts


@dataclass(frozen=True)
class Lesson:
    """A path through the pages for one class hour."""

    key: str  # in the URL: ?lesson=<key>&step=<n>
    title: str  # N_
    summary: str  # N_
    prompts: dict[str, str]  # the lesson's text, by interface language
    stops: tuple[Stop, ...]


@dataclass(frozen=True)
class Option:
    """One choice of a question: a token or text of the learner's (shown literally), or a phrase to translate."""

    text: str
    untrusted: bool = False
    position: int | None = None  # for a token: where it stands in the text (tokens repeat)


@dataclass(frozen=True)
class Answer:
    """The computed answer to a stop's question."""

    options: tuple[Option, ...]
    correct: int | None  # index into ``options``; None while it cannot be known yet (a run not trained)
    facts: dict = field(default_factory=dict)  # fills the question's and the reveal's placeholders


def phrases(*texts: str) -> tuple[Option, ...]:
    """Options that are phrases of the interface (translated by the page)."""
    return tuple(Option(text) for text in texts)


def _rng(*seeds) -> random.Random:
    """A private generator for distractors: the same stop and text give the same choices, whatever else runs."""
    return random.Random("|".join(map(str, seeds)))


def _pick_with(correct: int, candidates: list[int], how_many: int, rng: random.Random) -> list[int]:
    """``correct`` and up to ``how_many`` − 1 others of ``candidates``, in ascending order."""
    others = [c for c in candidates if c != correct]
    return sorted([correct, *rng.sample(others, min(len(others), how_many - 1))])


def position_option(position: int, token: str) -> Option:
    return Option(token, untrusted=True, position=position)


# ------------------------------------------------------------------ lesson 1: from text to the next token


def token_count_answer(tokens: list[str], text: str) -> Answer:
    """How many tokens? The count, beside the number of words and of characters (and one more), in order."""
    count, words, characters = len(tokens), len(text.split()), len(text)
    candidates = sorted({count, words, characters, count + max(2, count // 2)})
    return Answer(tuple(Option(f"{n:,}") for n in candidates), candidates.index(count),
                  {"count": count, "words": words, "characters": characters})


def vector_size_answer(width: int, vocabulary: int, tokens: int) -> Answer:
    """How many numbers in each token's vector? D, beside the vocabulary size, the text's length and 4·D."""
    candidates = sorted({width, vocabulary, tokens, 4 * width})
    return Answer(tuple(Option(f"{n:,}") for n in candidates), candidates.index(width),
                  {"width": width, "vocabulary": vocabulary})


def most_attended_answer(weights: np.ndarray, tokens: list[str], query: int, seed: str) -> Answer:
    """Which token does ``query`` look at most? ``weights`` (T,) is its row of the heatmap (0 after it)."""
    visible = list(range(query + 1))
    best = int(np.argmax(weights[: query + 1]))
    chosen = _pick_with(best, visible, 4, _rng(seed, "attended", *tokens))
    return Answer(tuple(position_option(p, tokens[p]) for p in chosen), chosen.index(best),
                  {"query": tokens[query], "token": tokens[best], "weight": float(weights[best])})


def top_token_answer(labels: list[str], scores: np.ndarray, seed: str) -> Answer:
    """Which token scores highest? The top four of ``scores`` (one per label), shuffled with a private seed."""
    order = [int(i) for i in np.argsort(-scores)[:4]]
    shown = order[:]
    _rng(seed, "top", *labels[:8]).shuffle(shown)
    return Answer(tuple(Option(labels[i], untrusted=True) for i in shown), shown.index(order[0]),
                  {"token": labels[order[0]], "score": float(scores[order[0]])})


CONFIDENCE = (N_("under 10%"), N_("between 10% and 50%"), N_("over 50%"))


def confidence_answer(top_token: str, probability: float) -> Answer:
    """How sure is the model of its top guess? Which third of the scale its probability falls in."""
    band = 0 if probability < 0.1 else 1 if probability <= 0.5 else 2
    return Answer(phrases(*CONFIDENCE), band, {"token": top_token, "probability": probability})


CHANGES = (N_("higher"), N_("lower"), N_("the same"))


def temperature_answer(logits: np.ndarray, temperature: float = 2.0) -> Answer:
    """Does the top token's probability rise or fall when the logits (V,) are divided by ``temperature``?"""
    def top_probability(t: float) -> float:
        scaled = logits.astype(np.float64) / t
        scaled -= scaled.max()
        return float(np.exp(scaled).max() / np.exp(scaled).sum())

    before, after = top_probability(1.0), top_probability(temperature)
    change = 2 if math.isclose(before, after, rel_tol=1e-9) else 0 if after > before else 1
    return Answer(phrases(*CHANGES), change, {"before": before, "after": after, "temperature": temperature})


def most_surprising_answer(losses: np.ndarray, tokens: list[str], seed: str) -> Answer:
    """Which token has the highest loss (−log p)? ``losses`` (T,) is NaN where a token is not scored."""
    scored = [int(t) for t in np.flatnonzero(~np.isnan(losses))]
    best = max(scored, key=lambda t: losses[t])
    chosen = _pick_with(best, scored, 4, _rng(seed, "surprising", *tokens))
    return Answer(tuple(position_option(p, tokens[p]) for p in chosen), chosen.index(best),
                  {"token": tokens[best], "loss": float(losses[best]), "probability": math.exp(-losses[best])})


# ------------------------------------------------------------------ lesson 2: how attention works


def head_size_answer(d_k: int, width: int, heads: int) -> Answer:
    """How many numbers in one head's query? d_k = D / H, beside D, H and 2·d_k."""
    candidates = sorted({d_k, width, heads, 2 * d_k})
    return Answer(tuple(Option(f"{n:,}") for n in candidates), candidates.index(d_k),
                  {"d_k": d_k, "width": width, "heads": heads})


def highest_score_answer(scores: np.ndarray, tokens: list[str], query: int, seed: str) -> Answer:
    """Which visible key has the highest score q·k? ``scores`` (T,)."""
    visible = list(range(query + 1))
    best = max(visible, key=lambda j: scores[j])
    chosen = _pick_with(best, visible, 4, _rng(seed, "score", *tokens))
    return Answer(tuple(position_option(p, tokens[p]) for p in chosen), chosen.index(best),
                  {"token": tokens[best], "score": float(scores[best])})


YES_NO = (N_("yes"), N_("no"))


def scaling_keeps_order_answer(scores: np.ndarray, scaled: np.ndarray) -> Answer:
    """Does dividing by √d_k change which key ranks where? (It cannot: a positive factor keeps the order.)"""
    same = bool((np.argsort(-scores, kind="stable") == np.argsort(-scaled, kind="stable")).all())
    return Answer(phrases(*YES_NO), 1 if same else 0, {"factor": float(scores[0] / scaled[0]) if scaled[0] else 0.0})


def visible_keys_answer(is_masked: np.ndarray, query: int, token: str) -> Answer:
    """How many keys may the query see after the mask? ``is_masked`` (T,) bool."""
    visible, total = int((~is_masked).sum()), len(is_masked)
    candidates = sorted({visible, total, 1, max(1, visible - 1)} | ({visible + 1} if visible < total else set()))
    return Answer(tuple(Option(f"{n:,}") for n in candidates), candidates.index(visible),
                  {"query": token, "position": query, "visible": visible, "total": total})


def largest_weight_answer(weights: np.ndarray, tokens: list[str]) -> Answer:
    """Is the largest attention weight above one half? ``weights`` (T,) sum to 1."""
    best = int(np.argmax(weights))
    return Answer(phrases(*YES_NO), 0 if weights[best] > 0.5 else 1, {"token": tokens[best], "weight": float(weights[best])})


def closest_value_answer(output: np.ndarray, values: np.ndarray, weights: np.ndarray, tokens: list[str],
                         seed: str) -> Answer:
    """Which token's value vector is the output (d_k,) closest to (cosine)? ``values`` (T, d_k)."""
    visible = [int(j) for j in np.flatnonzero(weights > 0)]
    norms = np.linalg.norm(values, axis=1) * (np.linalg.norm(output) or 1.0)
    cosine = values @ output / np.where(norms == 0, 1.0, norms)  # (T,)
    best = max(visible, key=lambda j: cosine[j])
    chosen = _pick_with(best, visible, 4, _rng(seed, "closest", *tokens))
    return Answer(tuple(position_option(p, tokens[p]) for p in chosen), chosen.index(best),
                  {"token": tokens[best], "cosine": float(cosine[best]), "weight": float(weights[best])})


def heads_agree_answer(rows: np.ndarray) -> Answer:
    """Do all heads of a layer look at the same token most? ``rows`` (H, T): each head's row for the query."""
    favourites = {int(np.argmax(row)) for row in rows}
    return Answer(phrases(*YES_NO), 0 if len(favourites) == 1 else 1, {"distinct": len(favourites), "heads": len(rows)})


# ------------------------------------------------------------------ lesson 3: how a model learns


def scrambled(text: str, seed: int = 0) -> str:
    """``text`` with its words (or, without spaces, its characters) in a shuffled order: the same for a seed."""
    pieces = text.split() if " " in text.strip() else list(text.strip())
    order = pieces[:]
    random.Random(seed).shuffle(order)
    if order == pieces and len(set(pieces)) > 1:
        order = pieces[1:] + pieces[:1]
    return (" " if " " in text.strip() else "").join(order)


UP_DOWN = (N_("it goes up"), N_("it goes down"), N_("it stays the same"))


def scrambled_loss_answer(loss: float, scrambled_loss: float) -> Answer:
    """Does the mean loss rise when the words are shuffled?"""
    change = 2 if math.isclose(loss, scrambled_loss, abs_tol=1e-6) else 0 if scrambled_loss > loss else 1
    return Answer(phrases(*UP_DOWN), change, {"loss": loss, "scrambled_loss": scrambled_loss})


def untrained_loss_answer(untrained_loss: float, vocabulary: int) -> Answer:
    """What loss does a model give before any training? Near ln V: every token about equally likely."""
    uniform = math.log(vocabulary)
    candidates = [0.0, 2.0, uniform, 20.0]
    nearest = min(range(len(candidates)), key=lambda i: abs(candidates[i] - untrained_loss))
    options = (Option(N_("about 0 nats")), Option(N_("about 2 nats")),
               Option(N_("about ln {vocabulary:,} ≈ {uniform:.1f} nats")), Option(N_("about 20 nats")))
    return Answer(options, nearest, {"untrained_loss": untrained_loss, "vocabulary": vocabulary, "uniform": uniform})


TRAIN_OR_VALIDATION = (N_("the training loss"), N_("the validation loss"))


def train_or_validation_answer(train_loss: float, validation_loss: float) -> Answer:
    """Which is lower at the end of pretraining: the loss on the training text or on held-out text?"""
    return Answer(phrases(*TRAIN_OR_VALIDATION), 0 if train_loss < validation_loss else 1,
                  {"train_loss": train_loss, "validation_loss": validation_loss})


HALF = (N_("by more than half"), N_("by less than half"))


def scaling_answer(smallest: tuple[int, float], largest: tuple[int, float]) -> Answer:
    """From the smallest to the largest model of the sweep, (parameters, loss) each: does the loss halve?"""
    (small_n, small_loss), (large_n, large_loss) = smallest, largest
    return Answer(phrases(*HALF), 0 if large_loss < small_loss / 2 else 1,
                  {"growth": large_n / small_n, "small_loss": small_loss, "large_loss": large_loss})


WHICH_CLASSIFIER = (N_("the fine-tuned one"), N_("the one trained from scratch"), N_("both the same"))


def fine_tuning_answer(accuracy: dict[str, float] | None) -> Answer:
    """Which classifier is more accurate on the test sentences? ``accuracy`` by start, None before the run."""
    if accuracy is None:
        return Answer(phrases(*WHICH_CLASSIFIER), None)
    tuned, scratch = accuracy["fine-tuned"], accuracy["from scratch"]
    correct = 2 if math.isclose(tuned, scratch) else 0 if tuned > scratch else 1
    return Answer(phrases(*WHICH_CLASSIFIER), correct, {"tuned": tuned, "scratch": scratch})


# ------------------------------------------------------------------ the curriculum

LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson(
        "next-token", N_("From text to the next token"),
        N_("Follow one sentence through the model: tokens, vectors, attention, scores, probabilities, loss."),
        {"en": "The cat sat on the mat because the cat was tired", "zh": "小猫坐在垫子上，因为小猫累了"},
        (
            Stop("tokens", N_("Text becomes tokens"),
                 N_("A model never sees letters. A **tokenizer** cuts the text into pieces from a fixed vocabulary, "
                    "and each piece becomes a number, its id. Common words are one token; rare words split."),
                 N_("How many tokens will the model read for this text?"),
                 N_("**{count} tokens**, for {words} words and {characters} characters.")),
            Stop("embeddings", N_("Each token becomes a vector"),
                 N_("The model looks up each token id in a table and gets a list of numbers, its **embedding**. "
                    "A second table adds where the token stands. These vectors are what the model computes with."),
                 N_("How many numbers are in each token's vector?"),
                 N_("**{width}** numbers: the model's width D. The vocabulary ({vocabulary:,} tokens) is the number of "
                    "rows of the table, not the length of a row.")),
            Stop("attention", N_("Tokens look at each other"),
                 N_("In **self-attention** each token takes in information from the tokens before it. Each row of the "
                    "heatmap is one token; its weights over the earlier tokens add up to 1."),
                 N_("In the last layer's first head, which token does the last token, {query}, look at most?"),
                 N_("{token}, with weight {weight:.2f}. Many heads look mostly at the first token when nothing else "
                    "is useful: a place to put attention that changes nothing.")),
            Stop("logits", N_("A score for every token of the vocabulary"),
                 N_("After the last block, the model turns the last token's vector into one score per vocabulary "
                    "entry: the **logits**. The highest score is the model's favourite next token."),
                 N_("Which of these tokens gets the highest score?"),
                 N_("{token}, with a logit of {score:.2f}.")),
            Stop("softmax", N_("Scores become probabilities"),
                 N_("**Softmax** turns the scores into a **probability distribution**: e^score, divided by the sum "
                    "over the whole vocabulary. Every token gets a share; the shares add up to 1."),
                 N_("How likely is the model's favourite, {token}?"),
                 N_("{token} gets **{probability:.1%}**. The rest is spread over thousands of other tokens.")),
            Stop("temperature", N_("Temperature reshapes the distribution"),
                 N_("Before the softmax, the scores can be divided by a **temperature** T. Below 1 sharpens the "
                    "distribution, above 1 flattens it. Sampling then draws from the reshaped distribution."),
                 N_("At temperature {temperature:g}, will the favourite's probability be higher or lower?"),
                 N_("From {before:.1%} at T = 1 to **{after:.1%}** at T = {temperature:g}: flatter, so sampling "
                    "picks other tokens more often.")),
            Stop("loss", N_("How surprised was the model?"),
                 N_("Reading the text, the model predicted each token from the ones before. The **loss** of a token "
                    "is −log p of the token that really came: 0 when the model was sure and right, large when it "
                    "was surprised. Training lowers its mean."),
                 N_("Which token of the text surprised the model most?"),
                 N_("{token}: the model gave it p = {probability:.2%}, a loss of **{loss:.2f} nats**.")),
        ),
    ),
    Lesson(
        "attention", N_("How attention works"),
        N_("One head, one token, step by step: queries, keys, scores, the mask, softmax and the weighted sum."),
        {"en": "The cat sat on the mat because it was tired", "zh": "小猫坐在垫子上，因为它累了"},
        (
            Stop("queries", N_("Queries and keys"),
                 N_("Each head multiplies every token's vector by three learned matrices: a **query** (what this "
                    "token looks for), a **key** (what it offers) and a **value** (what it passes on)."),
                 N_("How many numbers are in one head's query vector?"),
                 N_("**{d_k}**: the width D = {width} split over {heads} heads. Each head works in its own small space.")),
            Stop("scores", N_("Scores: query times key"),
                 N_("The query of one token is compared with every key by a dot product. A large score means the "
                    "two vectors point the same way."),
                 N_("Which key gets the highest score?"),
                 N_("{token}, with q · k = {score:.2f}.")),
            Stop("scale", N_("Scaling by √d_k"),
                 N_("The scores are divided by √d_k, so that softmax is not too peaked, whatever the head size."),
                 N_("Does dividing by √d_k change which key ranks first?"),
                 N_("No: every score is divided by the same positive number, so the order stays. Only the gaps shrink.")),
            Stop("mask", N_("The causal mask"),
                 N_("A GPT may not look ahead: the keys of later tokens get −∞ before softmax, so their weight is 0."),
                 N_("How many keys can token {position}, {query}, see?"),
                 N_("**{visible}** of {total}: itself and the tokens before it.")),
            Stop("weights", N_("Softmax: the attention weights"),
                 N_("Softmax turns the masked scores into weights ≥ 0 that add up to 1."),
                 N_("Does one key get more than half of the attention?"),
                 N_("The largest weight goes to {token}: **{weight:.2f}**.")),
            Stop("values", N_("The weighted sum of the values"),
                 N_("The head's output is the mix of the value vectors, each weighted by its attention weight."),
                 N_("Which token's value vector is the output most like?"),
                 N_("{token} (cosine {cosine:.2f}; its weight is {weight:.2f}).")),
            Stop("heads", N_("Many heads at once"),
                 N_("A layer runs several heads side by side, each with its own matrices; their outputs are joined "
                    "and mixed by W_O. Heads learn to look for different things."),
                 N_("Do all the heads of this layer look at the same token most?"),
                 N_("{distinct} different favourite tokens among {heads} heads.")),
        ),
    ),
    Lesson(
        "learning", N_("How a model learns"),
        N_("Loss measures surprise; pretraining lowers it; bigger models lower it further; fine-tuning reuses it."),
        {"en": "It is a truth universally acknowledged that a single man must be in want of a wife",
         "zh": "大语言模型是通过预测下一个词元来学习的"},
        (
            Stop("loss", N_("Loss: the model's surprise"),
                 N_("The loss of a token is −log p of the token that came. Training changes the weights so that "
                    "the mean loss over a huge text goes down."),
                 N_("Which token of the text surprised the model most?"),
                 N_("{token}: p = {probability:.2%}, a loss of **{loss:.2f} nats**.")),
            Stop("scrambled", N_("Order matters"),
                 N_("The model learned which words follow which. Shuffle the same words and see what happens."),
                 N_("If the words are shuffled, does the mean loss go up or down?"),
                 N_("From **{loss:.2f}** to **{scrambled_loss:.2f}** nats per token.")),
            Stop("untrained", N_("Before any training"),
                 N_("A model with random weights has learned nothing: its guesses are close to uniform over the "
                    "vocabulary."),
                 N_("What mean loss does the same model give this text before training?"),
                 N_("**{untrained_loss:.2f} nats**, close to ln {vocabulary:,} = {uniform:.2f}: every token about "
                    "equally likely.")),
            Stop("pretraining", N_("Pretraining"),
                 N_("The embedded model was trained here, predicting every next token of its training text. The "
                    "curve is its loss on that text and on held-out text it never trained on (validation)."),
                 N_("At the end of training, which loss is lower?"),
                 N_("Training loss {train_loss:.2f}, validation loss {validation_loss:.2f}. Far better on its "
                    "training text than on new text would mean it learned that text by heart (overfitting).")),
            Stop("scaling", N_("The scaling law"),
                 N_("Six models of growing size, trained on the same tokens: bigger models reach a lower loss, "
                    "along a power law."),
                 N_("From the smallest model to the largest, does the loss fall by more than half?"),
                 N_("A {growth:,.0f}-fold bigger model lowered the loss from {small_loss:.2f} to {large_loss:.2f}: "
                    "each doubling buys a little.")),
            Stop("fine_tuning", N_("Fine-tuning"),
                 N_("A pretrained model learns a new task (is a sentence positive or negative?) from 160 examples, "
                    "beside the same model trained from scratch. Press the button to train both live."),
                 N_("After training, which classifier is more accurate on new sentences?"),
                 N_("Fine-tuned {tuned:.0%}, from scratch {scratch:.0%}. The fine-tuned model starts from all that "
                    "pretraining learned about words; the other must learn them from 160 sentences.")),
        ),
    ),
)}


def stop_at(lesson: Lesson, step: int) -> tuple[int, Stop]:
    """The stop at ``step`` (1-based, as in the URL), clamped into the lesson: (step, stop)."""
    step = min(max(1, step), len(lesson.stops))
    return step, lesson.stops[step - 1]
