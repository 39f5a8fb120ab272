"""Chain-of-thought prompting: ask an instruct model the same question three ways, and score each way.

The three prompt styles (``STYLES``):

- ``direct``: the question, then "Answer with the number only.": the model must answer at once;
- ``step_by_step``: the question, then "Let's think step by step." (让我们一步一步地思考。), the zero-shot
  chain-of-thought phrase of Kojima et al. 2022;
- ``one_example``: one worked example first (a question, and an answer that shows its steps and ends "The answer
  is 19."), then the question: a one-shot chain-of-thought prompt (Wei et al. 2022).

Each prompt is a chat (a list of ``{"role", "content"}`` messages) written out by the model's own chat template
with the assistant's turn opened (``add_generation_prompt=True``), exactly as the model was fine-tuned to read it.
The reply is greedy (the most likely token at every step: no sampling, so the same question always gets the same
reply), at most ``MAX_NEW_TOKENS`` tokens, until one of the model's stop tokens.

The answer read from a reply is its last number (``extract_answer``), and it is right when it equals the question's
answer. The bundled questions (``data/chain_of_thought/questions.json``) were written for this project, each in
English and Chinese, each with one whole-number answer.

Shapes: P = prompt tokens, N = new tokens (at most ``MAX_NEW_TOKENS``).
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from transformers import GenerationConfig

from explainer.i18n import N_, _
from explainer.models import LoadedModel

QUESTIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "chain_of_thought" / "questions.json"
INSTRUCT_MODELS = ("HuggingFaceTB/SmolLM2-360M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct")  # registry names
MAX_NEW_TOKENS = 256  # the longest reply: a few steps of arithmetic fit; a model that loops stops here
MAX_QUESTION_CHARACTERS = 300  # a question typed by a learner

STYLES = ("direct", "step_by_step", "one_example")
STYLE_NAMES = {"direct": N_("Direct"), "step_by_step": N_("“Let's think step by step”"),
               "one_example": N_("One worked example")}  # show with _()
# What each style adds after the question, in each language (the one-example style adds nothing: its example
# comes before).
DIRECT_PHRASE = {"en": "Answer with the number only.", "zh": "只回答一个数字。"}
STEP_PHRASE = {"en": "Let's think step by step.", "zh": "让我们一步一步地思考。"}


@dataclass(frozen=True)
class Question:
    """One bundled word problem, in both languages."""

    id: str  # e.g. "pencils"
    en: str
    zh: str
    answer: float  # the one right number (whole in every bundled question)

    def text(self, language: str) -> str:
        """The question in ``language`` ("en" or "zh"; anything else is English)."""
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True)
class WorkedExample:
    """The one-example prompt's example, in one language: a question and an answer that shows its steps."""

    question: str
    solution: str  # the steps, ending "The answer is 19." / "答案是19。"
    answer: float  # the number the solution ends with


@dataclass(frozen=True)
class QuestionSet:
    """The bundled questions and, per language, the worked example."""

    questions: tuple[Question, ...]
    examples: dict[str, WorkedExample]  # "en" and "zh"
    source: str  # where the questions come from, and their licence


def load_questions(path: Path = QUESTIONS_FILE) -> QuestionSet:
    """Read the bundled question set (JSON: ``source``, ``worked_example`` per language, ``questions``)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    questions = tuple(Question(q["id"], q["en"], q["zh"], float(q["answer"])) for q in data["questions"])
    examples = {language: WorkedExample(example["question"], example["solution"], float(example["answer"]))
                for language, example in data["worked_example"].items()}
    return QuestionSet(questions, examples, data["source"])


# ----------------------------------------------------------------- prompts


def build_messages(question: str, style: str, language: str, example: WorkedExample) -> list[dict[str, str]]:
    """The chat that asks ``question`` in ``style``: one user message, or for ``one_example`` the example's
    question and worked answer first (a user turn and an assistant turn), then the question."""
    if style == "direct":
        return [{"role": "user", "content": f"{question}\n{DIRECT_PHRASE[language]}"}]
    if style == "step_by_step":
        return [{"role": "user", "content": f"{question}\n{STEP_PHRASE[language]}"}]
    if style == "one_example":
        return [{"role": "user", "content": example.question},
                {"role": "assistant", "content": example.solution},
                {"role": "user", "content": question}]
    raise ValueError(f"unknown prompt style {style!r}; expected one of {STYLES}")


def messages_text(messages: list[dict[str, str]]) -> str:
    """``messages`` as plain text, one turn after another ("user: …"), for a reader rather than a model."""
    return "\n\n".join(f"{message['role']}: {message['content']}" for message in messages)


def chat_prompt(tokenizer, messages: list[dict[str, str]]) -> str:
    """``messages`` written out by the model's own chat template, the assistant's turn opened for its reply."""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def check_question(text: str | None) -> str:
    """Return a learner's question stripped, or raise ``ValueError`` with a message for them: empty, longer than
    ``MAX_QUESTION_CHARACTERS``, or holding control characters (line breaks are allowed)."""
    question = (text or "").strip()
    if not question:
        raise ValueError(_("Type a question first: the box is empty."))
    if len(question) > MAX_QUESTION_CHARACTERS:
        raise ValueError(_("Your question is {n:,} characters long; keep it under {most} characters.").format(
            n=len(question), most=MAX_QUESTION_CHARACTERS))
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") and c not in "\n\t" for c in question):
        raise ValueError(_("Your question holds invisible control characters; type it again as plain text."))
    return question


# ---------------------------------------------------------------- answers

FULL_WIDTH = str.maketrans("０１２３４５６７８９－．", "0123456789-.")
# A number: an optional minus sign that follows no digit, letter or closing bracket (in "24-5" the minus is a
# subtraction, in "is -5" a sign); digits, with commas only as thousands separators (1,200); a decimal part.
NUMBER = re.compile(r"(?:(?<![0-9A-Za-z)\]])(?P<sign>[-−]))?(?<!\d)(?P<whole>\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
                    r"(?P<fraction>\.\d+)?", re.ASCII)


def extract_answer(reply: str) -> float | None:
    """The reply's answer: its last number, or None when it has none.

    The rule: full-width digits (１２) count as digits; a comma between digit groups of three is a thousands
    separator (1,200 is 1200; "3,4" is 3 then 4; the Chinese comma "，" never is); a minus sign directly before
    the digits and after no digit or letter makes the number negative (−5 and -5); a decimal point needs digits
    after it ("12." is 12). Numbers written as words ("twelve", "十二") are not read.
    """
    numbers = list(NUMBER.finditer(reply.translate(FULL_WIDTH)))
    if not numbers:
        return None
    last = numbers[-1]
    value = float(last["whole"].replace(",", "") + (last["fraction"] or ""))
    return -value if last["sign"] else value


def is_right(answer: float | None, expected: float | None) -> bool | None:
    """Whether ``answer`` equals ``expected`` (None when there is no expected answer: a learner's own question)."""
    if expected is None:
        return None
    return answer is not None and abs(answer - expected) < 1e-6


# ------------------------------------------------------------- generation


@dataclass(frozen=True)
class Reply:
    """One question asked one way, and what came back."""

    style: str  # one of STYLES
    language: str  # the language of the prompt's phrase and example
    question: str
    expected: float | None  # the right answer; None for a learner's own question
    prompt: str  # the whole text the model read: the chat template's rendering of the messages
    prompt_tokens: int  # P
    text: str  # the model's reply, special tokens dropped (untrusted: show it as text)
    answer: float | None  # ``extract_answer(text)``
    correct: bool | None  # ``is_right(answer, expected)``
    new_tokens: int  # N, the stop token included
    finished: bool  # ended with a stop token (False: cut at MAX_NEW_TOKENS)
    seconds: float  # wall time of the generation


def greedy_config(max_new_tokens: int, pad_token_id: int | None) -> GenerationConfig:
    """Plain greedy decoding: ``generate`` fills in the model's own stop tokens from its ``generation_config.json``,
    and the repetition penalty such a file may set is switched off, so each token is the argmax."""
    return GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens, repetition_penalty=1.0,
                            no_repeat_ngram_size=0, pad_token_id=pad_token_id)


def stop_tokens(loaded: LoadedModel) -> set[int]:
    """The ids that end a reply: the model's generation config's end-of-sequence ids, else the tokenizer's."""
    eos = loaded.model.generation_config.eos_token_id
    eos = loaded.tokenizer.eos_token_id if eos is None else eos
    return {eos} if isinstance(eos, int) else set(eos or ())


@torch.no_grad()
def ask(loaded: LoadedModel, question: str, style: str, language: str, example: WorkedExample,
        expected: float | None = None, max_new_tokens: int | None = None) -> Reply:
    """Ask ``question`` in ``style`` and return the greedy reply (at most ``max_new_tokens``, by default
    ``MAX_NEW_TOKENS``), its answer and whether it is right (``expected`` None: not checked)."""
    tokenizer, model = loaded.tokenizer, loaded.model
    prompt = chat_prompt(tokenizer, build_messages(question, style, language, example))
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)  # (1, P)
    config = greedy_config(max_new_tokens or MAX_NEW_TOKENS, tokenizer.pad_token_id)
    started = time.perf_counter()
    output = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=config)  # (1, P + N)
    seconds = time.perf_counter() - started
    new = output[0, ids.shape[1]:].tolist()  # (N,)
    text = tokenizer.decode(new, skip_special_tokens=True).strip()
    answer = extract_answer(text)
    return Reply(style, language, question, expected, prompt, ids.shape[1], text, answer, is_right(answer, expected),
                 len(new), bool(new) and new[-1] in stop_tokens(loaded), seconds)


# ------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class StyleScore:
    """How one prompt style did on a set of questions."""

    style: str
    questions: int  # how many were asked
    correct: int  # how many replies ended with the right number
    accuracy: float  # correct / questions
    mean_new_tokens: float  # the replies' mean length in tokens: the price of thinking aloud
    cut: int  # replies cut at MAX_NEW_TOKENS
    seconds: float  # total generation time


def score(replies: Sequence[Reply]) -> list[StyleScore]:
    """Each style's score over ``replies`` (questions with an expected answer), in ``STYLES`` order."""
    scores = []
    for style in STYLES:
        mine = [reply for reply in replies if reply.style == style and reply.expected is not None]
        if mine:
            correct = sum(bool(reply.correct) for reply in mine)
            scores.append(StyleScore(style, len(mine), correct, correct / len(mine),
                                     sum(r.new_tokens for r in mine) / len(mine), sum(not r.finished for r in mine),
                                     sum(r.seconds for r in mine)))
    return scores


def evaluate(loaded: LoadedModel, questions: QuestionSet, language: str, count: int | None = None,
             on_reply: Callable[[int, int, Reply], None] | None = None) -> tuple[list[Reply], list[StyleScore]]:
    """Ask the first ``count`` questions (all by default) in ``language``, each in every style, one at a time
    exactly as ``ask`` does; return the replies (question by question, styles in order) and ``score(replies)``.

    ``on_reply(done, total, reply)`` is called after each reply (a page's progress bar).
    """
    chosen = questions.questions[:count]
    total, replies = len(chosen) * len(STYLES), []
    for question in chosen:
        for style in STYLES:
            replies.append(ask(loaded, question.text(language), style, language, questions.examples[language],
                               question.answer))
            if on_reply:
                on_reply(len(replies), total, replies[-1])
    return replies, score(replies)


def replies_table(replies: Sequence[Reply]) -> pd.DataFrame:
    """One row per reply: style, question, expected, answer, correct, new_tokens, finished, seconds, reply."""
    return pd.DataFrame({
        "style": [r.style for r in replies], "question": [r.question for r in replies],
        "expected": [r.expected for r in replies], "answer": [r.answer for r in replies],
        "correct": [r.correct for r in replies], "new_tokens": [r.new_tokens for r in replies],
        "finished": [r.finished for r in replies], "seconds": [round(r.seconds, 2) for r in replies],
        "reply": [r.text for r in replies],
    })


def scores_table(scores: Sequence[StyleScore]) -> pd.DataFrame:
    """One row per style: style, questions, correct, accuracy, mean_new_tokens, cut, seconds."""
    return pd.DataFrame([{"style": s.style, "questions": s.questions, "correct": s.correct, "accuracy": s.accuracy,
                          "mean_new_tokens": s.mean_new_tokens, "cut": s.cut, "seconds": round(s.seconds, 1)}
                         for s in scores])


def tokens_per_second(replies: Sequence[Reply]) -> float | None:
    """This server's generation speed over ``replies`` (new tokens / seconds), or None before any reply."""
    seconds = sum(r.seconds for r in replies)
    return sum(r.new_tokens for r in replies) / seconds if seconds > 0 else None
