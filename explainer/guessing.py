"""A classroom game: guess the next word of a passage, against the model.

Each passage marks its answers in [brackets]. Round i shows the passage up to the i-th answer; the learner (or a
class, aloud) guesses it, and the game reveals the model's probability of the guess, its 10 most likely next
tokens and the real word. Every answer is exactly one token of the model that plays (a word after a space in
English; in Chinese, a token as the tokenizer cuts the passage, a word of one to three characters), so the
model's own guess, its most likely next token, is a word of the same kind as the learner's.

The score: in each round, a point to each player whose guess is the real word (both may score, or neither). Beside
the points, the model's surprisal in bits (−log₂ p): at the real words, and at the learner's guesses.

A guess may be several tokens: its probability is the chain rule, the product of each token's probability after
the context and the guess's tokens before it. Shapes: C = context tokens, G = guess tokens, V = vocabulary.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import torch

from explainer.i18n import N_, _
from explainer.models import EMBEDDED_GPT, EMBEDDED_ZH, LoadedModel
from explainer.tokenization import token_label, visible

ROUNDS = 10  # rounds of a game: every passage has exactly this many answers
MAX_GUESS_CHARACTERS = 40
GUESS_PUNCTUATION = set(" '’-.,!?;:，。！？、；：“”‘")  # allowed in a guess besides letters and digits
ANSWER = re.compile(r"\[([^\]]+)\]")


@dataclass(frozen=True)
class Round:
    """One position of a passage: the text before it, and the real next word."""

    number: int  # 1 … ROUNDS
    context: str  # the passage up to the answer, without the space before it
    separator: str  # what goes between the context and a word: " " in English, "" in Chinese
    answer: str  # the real next word, as the learner would type it

    def continuation(self, guess: str) -> str:
        """The text a guess adds to the context, e.g. " fine" (the tokenizer reads an English word with its space)."""
        return self.separator + guess.strip()


@dataclass(frozen=True)
class Passage:
    """A short text written for the game, its answers in [brackets], and the model that plays on it."""

    key: str
    language: str  # "en" or "zh": the page's language that offers it
    model: str  # the model that plays
    title: str  # marked with N_: show it with _()
    marked: str  # the text, each answer in [brackets]

    @cached_property
    def rounds(self) -> list[Round]:
        """The passage's rounds, in order (ROUNDS of them)."""
        rounds = []
        for number, match in enumerate(ANSWER.finditer(self.marked), start=1):
            before = ANSWER.sub(r"\1", self.marked[:match.start()])
            context = before.rstrip(" ")
            rounds.append(Round(number, context, before[len(context):], match.group(1)))
        return rounds

    def segments(self, upto: int) -> list[tuple[str, bool]]:
        """The text before round ``upto`` (1-based) as (piece, is_an_answer) pairs, so a page can show the words
        already guessed; the last piece is the round's context up to its answer (without the space before it)."""
        matches = list(ANSWER.finditer(self.marked))[:upto]
        pieces, start = [], 0
        for match in matches[:-1]:
            pieces += [(self.marked[start:match.start()], False), (match.group(1), True)]
            start = match.end()
        pieces.append((self.marked[start:matches[-1].start()].rstrip(" "), False))
        return [(text, answer) for text, answer in pieces if text]


# Written for the project (Austen's people and places, not her sentences); Chinese in the style of the news and hotel
# reviews tiny-gpt-zh learned from. Each answer is one token of the passage's model (tests/test_guessing.py checks).
PASSAGES = (
    Passage("en-visit", "en", EMBEDDED_GPT, N_("A visit to Mrs. Weston"),
            "It was a fine [morning] in October, and Emma had walked with Harriet as far as the [village]. Mrs. Weston "
            "was at [home], and the two friends were very glad to [sit] down by the [fire]. Nothing could be more "
            "[agreeable] than such a [visit], and Emma, who was never [tired] of talking, soon began to speak of "
            "Mr. [Knightley] and his [brother]."),
    Passage("en-letter", "en", EMBEDDED_GPT, N_("A letter for Elizabeth"),
            "When the [letter] came, Elizabeth read it twice before she could [speak]. Her sister [Jane] watched her "
            "with some [anxiety], for she had never seen her so [grave]. \"It is from my [aunt],\" said Elizabeth at "
            "last; \"she [says] that they are to come to [London] next [week], and that we must not [expect] them at "
            "Longbourn.\""),
    Passage("en-ball", "en", EMBEDDED_GPT, N_("The ball at Netherfield"),
            "The [ball] at Netherfield was the [subject] of every conversation for a [week]. Mrs. Bennet was [sure] "
            "that Mr. Bingley would [dance] with Jane twice, and Lydia declared that she would not [sit] down once all "
            "the [evening]. Mary alone said that she had no [wish] to go, and [nobody] believed her, not even her "
            "[father]."),
    Passage("zh-park", "zh", EMBEDDED_ZH, N_("A day in the park"),
            "今天[天气]很好，我们[一起]去[公园]散步。公园里有很多[孩子]在放风筝，老人们坐在[树]下[聊天]。中午我们在湖边"
            "吃了午饭，下午又去看了一场[电影]。电影很好看，大家都很[开心]，[晚上]才[回家]。"),
    Passage("zh-hotel", "zh", EMBEDDED_ZH, N_("A hotel review"),
            "这家酒店的位置很好，离[地铁站]只有五[分钟]。[房间][干净]，[服务员]的态度也很[热情]。早餐的[种类]不多，但是"
            "[味道]还不错。唯一的问题是[晚上]有点[吵]，隔音效果不太好。"),
    Passage("zh-exam", "zh", EMBEDDED_ZH, N_("News: the exams begin"),
            "记者从市教育局了解到，今年[全市]共有三万多名[学生]参加[考试]。考试将于下周一开始，持续[三天]。教育局[提醒]"
            "考生提前[到达]考点，并带好[身份证]和准考证。[如果]遇到[问题]，可以拨打热线电话[咨询]。"),
)
BY_KEY = {passage.key: passage for passage in PASSAGES}


def passages_in(language: str) -> list[Passage]:
    """The passages of ``language`` ("en" or "zh"; any other code gets the English ones)."""
    return [p for p in PASSAGES if p.language == language] or [p for p in PASSAGES if p.language == "en"]


# ------------------------------------------------------------------ guesses


def check_guess(text: str | None, quote: Callable[[str], str] = str) -> str:
    """Return ``text`` stripped, when it is a guess the game can score: a word or a few, of letters, digits (and
    ``GUESS_PUNCTUATION``), at most ``MAX_GUESS_CHARACTERS``. Raises ``ValueError`` with a message for the learner
    otherwise; the characters it refuses are made visible and written in with ``quote`` (a page passes ``literal``,
    so that they show as text in Markdown)."""
    guess = (text or "").strip()
    if not guess:
        raise ValueError(_("Type a word first: your guess is empty."))
    if len(guess) > MAX_GUESS_CHARACTERS:
        raise ValueError(_("Your guess is {n:,} characters long. Guess one word (at most {most} characters).").format(
            n=len(guess), most=MAX_GUESS_CHARACTERS))
    refused = sorted({c for c in guess if c not in GUESS_PUNCTUATION and unicodedata.category(c)[0] not in "LMN"})
    if refused:
        raise ValueError(_("A guess is a word: letters or Chinese characters, without {characters}.").format(
            characters=quote(" ".join(visible(c) for c in refused))))
    return guess


def same_word(guess: str, answer: str) -> bool:
    """Whether a guess is the answer: equal once spaces around it are dropped, ignoring capitals."""
    return guess.strip().casefold() == answer.strip().casefold()


@dataclass(frozen=True)
class GuessScore:
    """How likely the model finds one continuation of a context, token by token (G tokens)."""

    text: str  # the continuation scored, e.g. " fine"
    token_ids: list[int]  # (G,)
    tokens: list[str]  # (G,) readable, e.g. "␣fine"
    token_probabilities: list[float]  # (G,) p(token g | context, tokens before g)
    probability: float  # their product: p(continuation | context), the chain rule
    surprisal: float  # −log₂ probability, in bits


def _next_token_logits(loaded: LoadedModel, ids: list[int]) -> torch.Tensor:
    """Return (len(ids), V) float32 logits on the CPU: row t predicts the token after ids[t]."""
    with torch.no_grad():
        return loaded.model(input_ids=torch.tensor([ids]).to(loaded.model.device)).logits[0].float().cpu()


def _context_ids(loaded: LoadedModel, context: str, room: int) -> list[int]:
    """The context's token ids (C,), its last ones only when it leaves fewer than ``room`` places in the model's
    context window."""
    ids = loaded.tokenizer(context)["input_ids"]
    return ids[-(loaded.context_length - room):]


def guess_probability(loaded: LoadedModel, context: str, continuation: str) -> GuessScore:
    """Return the model's probability of ``continuation`` (tokenized on its own, e.g. " fine") right after
    ``context``: the product over its G tokens of p(token | context and the tokens before it), from one forward
    pass. Raises ``ValueError`` for a continuation that makes no tokens."""
    tokenizer = loaded.tokenizer
    guess_ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]  # (G,)
    if not guess_ids:
        raise ValueError(_("Type a word first: your guess is empty."))
    context_ids = _context_ids(loaded, context, room=len(guess_ids))  # (C,)
    logits = _next_token_logits(loaded, context_ids + guess_ids[:-1])  # (C + G − 1, V)
    rows = logits[len(context_ids) - 1:]  # (G, V): row g predicts guess token g
    log_probabilities = torch.log_softmax(rows.double(), dim=-1)[torch.arange(len(guess_ids)), guess_ids]  # (G,)
    total = float(log_probabilities.sum())
    return GuessScore(
        text=continuation,
        token_ids=list(guess_ids),
        tokens=[token_label(tokenizer, i) for i in guess_ids],
        token_probabilities=log_probabilities.exp().tolist(),
        probability=math.exp(total),
        surprisal=-total / math.log(2),
    )


def top_next(loaded: LoadedModel, context: str, k: int = 10) -> pd.DataFrame:
    """Return the model's ``k`` most likely next tokens after ``context``, best first.

    Columns: rank (1 = the model's guess), id, token (readable, e.g. "␣fine"), word (the text it adds, without the
    space before it; "" for a piece of a character), probability, surprisal (bits).
    """
    tokenizer = loaded.tokenizer
    probabilities = torch.softmax(_next_token_logits(loaded, _context_ids(loaded, context, room=1))[-1].double(), -1)
    top = torch.topk(probabilities, k)  # values (k,), indices (k,)
    ids = top.indices.tolist()
    words = [tokenizer.decode([i], clean_up_tokenization_spaces=False) for i in ids]
    return pd.DataFrame({
        "rank": np.arange(1, k + 1),
        "id": ids,
        "token": [token_label(tokenizer, i) for i in ids],
        "word": ["" if "\ufffd" in word else word.strip() for word in words],
        "probability": top.values.numpy(),
        "surprisal": -np.log2(top.values.numpy()),
    })


# ------------------------------------------------------------------ rounds and score


@dataclass(frozen=True)
class RoundResult:
    """One round played: the learner's guess and the model's, each scored against the real word."""

    round: Round
    guess: str  # as the learner typed it (checked)
    yours: GuessScore  # the model's probability of the learner's guess
    answer: GuessScore  # … of the real word
    top: pd.DataFrame  # top_next at this round (10 rows)

    @property
    def model_guess(self) -> str:
        """The model's guess: its most likely next token, as a word."""
        return str(self.top["word"].iloc[0])

    @property
    def your_point(self) -> bool:
        """Whether the learner's guess is the real word (ignoring capitals)."""
        return same_word(self.guess, self.round.answer)

    @property
    def model_point(self) -> bool:
        """Whether the model's most likely next token is the real word (every answer is one token)."""
        return self.answer.token_ids == [int(self.top["id"].iloc[0])]


def play(loaded: LoadedModel, round_: Round, guess: str) -> RoundResult:
    """Score ``guess`` (checked with ``check_guess``, which raises ``ValueError``) in ``round_``; return the round."""
    guess = check_guess(guess)
    return RoundResult(
        round=round_,
        guess=guess,
        yours=guess_probability(loaded, round_.context, round_.continuation(guess)),
        answer=guess_probability(loaded, round_.context, round_.continuation(round_.answer)),
        top=top_next(loaded, round_.context),
    )


@dataclass(frozen=True)
class Score:
    """A game's score after some rounds: points, and the model's mean surprisal in bits."""

    rounds: int
    your_points: int  # rounds where the learner's guess was the real word
    model_points: int  # rounds where the model's most likely token was the real word
    answer_bits: float  # mean −log₂ p(real word): how surprised the model was by the passage (NaN before round 1)
    guess_bits: float  # mean −log₂ p(your guess): how surprised it was by the learner's guesses (NaN before round 1)


def score(results: list[RoundResult]) -> Score:
    """Return the score of the rounds played so far."""
    return Score(
        rounds=len(results),
        your_points=sum(r.your_point for r in results),
        model_points=sum(r.model_point for r in results),
        answer_bits=float(np.mean([r.answer.surprisal for r in results])) if results else float("nan"),
        guess_bits=float(np.mean([r.yours.surprisal for r in results])) if results else float("nan"),
    )


def rounds_table(results: list[RoundResult]) -> pd.DataFrame:
    """One row per round played. Columns: round, answer, your_guess, your_point, your_guess_probability,
    your_guess_bits, model_guess, model_point, answer_probability, answer_bits."""
    return pd.DataFrame({
        "round": [r.round.number for r in results],
        "answer": [r.round.answer for r in results],
        "your_guess": [r.guess for r in results],
        "your_point": [r.your_point for r in results],
        "your_guess_probability": [r.yours.probability for r in results],
        "your_guess_bits": [r.yours.surprisal for r in results],
        "model_guess": [r.model_guess for r in results],
        "model_point": [r.model_point for r in results],
        "answer_probability": [r.answer.probability for r in results],
        "answer_bits": [r.answer.surprisal for r in results],
    })
