"""Translation with an encoder–decoder: numbers in Arabic numerals ↔ Chinese numerals, and what the model looks at.

The task's pairs are made offline and checked by ``cn2an`` (30512 ↔ 三万零五百一十二). One small MarianMT model
does both directions: the source starts with a direction tag, ``<2zh>`` or ``<2ar>``. It reads characters.

- The **encoder** reads the whole source at once; its self-attention looks both ways.
- The **decoder** writes the output one token at a time; its self-attention looks only back (causal), and its
  **cross-attention** looks at the encoder's output: which source tokens each output token is read from.

Decoding is ``model.generate`` (greedy, or beam search with ``num_beams``); the attention views come from one
forward pass over the decoded output (teacher forcing), which the tests check against ``generate``'s own.
Held-out quality is sacrebleu's corpus BLEU (0–100, on characters) and exact match.

Shapes: S = source tokens, T = output tokens, L = layers, H = heads, V = vocabulary.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass

import cn2an
import sacrebleu
import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from explainer.i18n import N_, _

TO_CHINESE, TO_ARABIC = "<2zh>", "<2ar>"  # the direction tags the source starts with
DIRECTIONS = {TO_CHINESE: N_("Arabic numerals → Chinese numerals"), TO_ARABIC: N_("Chinese numerals → Arabic numerals")}
RESULT_KEYS = {TO_CHINESE: "to_chinese", TO_ARABIC: "to_arabic"}  # each direction's figures in the results JSON
DIGITS = "0123456789"
CHINESE_NUMERALS = "零一二三四五六七八九十百千万亿"
PAD, END, UNKNOWN = "<pad>", "</s>", "<unk>"
MAX_DIGITS = 12  # numbers up to 999,999,999,999: 九千九百九十九亿…
MAX_SOURCE_CHARACTERS = 30  # a source longer than this is refused before the model sees it
MAX_NEW_TOKENS = 32  # the longest output: 12 digits are at most 23 Chinese numerals
BLEU_TOKENIZATION = "char"  # sacrebleu's: every character is a word, for digits and Chinese numerals alike
BEAMS = 4


# ------------------------------------------------------------------ the task


def chinese_numeral(number: int) -> str:
    """``number`` in Chinese numerals, as cn2an writes it: 30512 -> 三万零五百一十二."""
    return cn2an.an2cn(number, "low")


def random_number(rng: random.Random) -> int:
    """A number whose count of digits (1 to ``MAX_DIGITS``) is drawn uniformly, then the number in that range."""
    digits = rng.randint(1, MAX_DIGITS)
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def split_numbers(seed: int, train: int, held_out: int) -> tuple[list[int], list[int]]:
    """``train`` and ``held_out`` distinct numbers drawn with a private ``random.Random(seed)``: no held-out number
    is ever trained on."""
    rng = random.Random(seed)
    chosen: dict[int, None] = {}  # insertion-ordered, so the split is the same for the same seed
    while len(chosen) < train + held_out:
        chosen.setdefault(random_number(rng))
    numbers = list(chosen)
    return numbers[held_out:], numbers[:held_out]


def pair(number: int, direction: str) -> tuple[str, str]:
    """(source, target) of ``number`` in ``direction``: ("<2zh>30512", "三万零五百一十二") or the reverse."""
    arabic, chinese = str(number), chinese_numeral(number)
    return (direction + arabic, chinese) if direction == TO_CHINESE else (direction + chinese, arabic)


def check_source(text: str | None, direction: str) -> str:
    """The learner's number, stripped, ready to translate; ``ValueError`` with a message for the user when it is not
    a number the model was taught (only digits, or only Chinese numerals; at most ``MAX_DIGITS`` digits)."""
    text = unicodedata.normalize("NFKC", text or "").strip()  # full-width digits become 0-9
    if not text:
        raise ValueError(_("Type a number to translate."))
    if len(text) > MAX_SOURCE_CHARACTERS:
        raise ValueError(_("That is {n} characters; the model translates numbers of up to {most} characters.").format(
            n=len(text), most=MAX_SOURCE_CHARACTERS))
    if direction == TO_CHINESE:
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError(_("Type a whole number in Arabic numerals (digits 0–9 only), e.g. 30512."))
        if len(text.lstrip("0") or "0") > MAX_DIGITS or (len(text) > 1 and text.startswith("0")):
            raise ValueError(_("Type a number without leading zeros and of at most {most} digits.").format(
                most=MAX_DIGITS))
        return text
    if not all(character in CHINESE_NUMERALS for character in text):
        raise ValueError(_("Type a number in Chinese numerals ({numerals}), e.g. 三万零五百一十二.").format(
            numerals=CHINESE_NUMERALS))
    return text


def reference(source: str, direction: str) -> str | None:
    """The right translation of a checked ``source`` (without its tag), by cn2an; None when cn2an finds the Chinese
    malformed (the model still answers something, but there is no right answer to compare with)."""
    if direction == TO_CHINESE:
        return chinese_numeral(int(source))
    try:
        number = cn2an.cn2an(source, "strict")
    except (ValueError, KeyError, IndexError):
        return None
    return str(int(number)) if number == int(number) and chinese_numeral(int(number)) == source else None


# ------------------------------------------------------------------ the tokenizer


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A character tokenizer: one id per digit and per Chinese numeral, the two direction tags, and
    ``<pad>`` (0, also the decoder's start), ``</s>`` (1, appended to every source) and ``<unk>`` (2)."""
    vocabulary = {token: i for i, token in enumerate([PAD, END, UNKNOWN, TO_CHINESE, TO_ARABIC,
                                                      *DIGITS, *CHINESE_NUMERALS])}
    core = Tokenizer(models.WordLevel(vocabulary, unk_token=UNKNOWN))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # every character alone
    core.post_processor = processors.TemplateProcessing(single=f"$A {END}", special_tokens=[(END, 1)])
    core.decoder = decoders.Fuse()  # characters join without spaces
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=END, unk_token=UNKNOWN,
                                   additional_special_tokens=[TO_CHINESE, TO_ARABIC], model_max_length=64)


def token_names(tokenizer, ids) -> list[str]:
    """The tokens of ``ids`` as text, e.g. ['<2zh>', '3', '0', '</s>']."""
    return tokenizer.convert_ids_to_tokens([int(i) for i in ids])


# ------------------------------------------------------------------ decoding


@dataclass
class Beam:
    """One finished hypothesis of beam search."""

    text: str  # the output without special tokens
    tokens: list[str]  # the output tokens, </s> included
    log_probability: float  # Σ log p of its tokens, as beam search saw them (a </s> forced at the length limit: p = 1)
    score: float  # what beam search ranks by: log_probability / length ** length_penalty

    @property
    def probability(self) -> float:
        return math.exp(self.log_probability)


@dataclass
class Translation:
    """A source, its decoded output and the three kinds of attention that made it (all of layer l, head h)."""

    source_tokens: list[str]  # (S,) the tag, the characters, </s>
    output_tokens: list[str]  # (T,) what the decoder wrote, </s> included
    text: str  # the output without special tokens
    token_probabilities: torch.Tensor  # (T,) p of each output token given the source and the tokens before it
    encoder_attention: torch.Tensor  # (L, H, S, S) bidirectional: every source token reads every other
    decoder_attention: torch.Tensor  # (L, H, T, T) causal: row t reads the decoder inputs 0..t
    cross_attention: torch.Tensor  # (L, H, T, S): row t is the query that produces output token t
    decoder_inputs: list[str]  # (T,) what the decoder reads: the start token, then the output shifted by one


def encode(tokenizer, sources: list[str], device) -> dict:
    """The sources as a padded batch: input_ids and attention_mask (B, S)."""
    return tokenizer(sources, return_tensors="pt", padding=True).to(device)


@torch.no_grad()
def decode(model, tokenizer, sources: list[str], num_beams: int = 1, max_new_tokens: int = MAX_NEW_TOKENS) -> list[str]:
    """Translate ``sources`` in one batch: greedy (``num_beams`` 1) or beam search; the outputs as text."""
    batch = encode(tokenizer, sources, model.device)
    output = model.generate(**batch, num_beams=num_beams, do_sample=False, max_new_tokens=max_new_tokens)  # (B, T+1)
    return tokenizer.batch_decode(output, skip_special_tokens=True)


@torch.no_grad()
def beams(model, tokenizer, source: str, num_beams: int = BEAMS, max_new_tokens: int = MAX_NEW_TOKENS) -> list[Beam]:
    """The ``num_beams`` finished hypotheses of beam search, best first, with their scores and probabilities."""
    batch = encode(tokenizer, [source], model.device)
    output = model.generate(**batch, num_beams=num_beams, num_return_sequences=num_beams, do_sample=False,
                            max_new_tokens=max_new_tokens, output_scores=True, return_dict_in_generate=True)
    steps = model.compute_transition_scores(output.sequences, output.scores, output.beam_indices,
                                            normalize_logits=False)  # (num_beams, T): log p of each token
    found = []
    for sequence, token_log_ps, score in zip(output.sequences, steps, output.sequences_scores):
        ids = sequence[1:]  # (T,) without the start token
        ids = ids[ids != tokenizer.pad_token_id]  # a beam that ended early is padded
        found.append(Beam(tokenizer.decode(ids, skip_special_tokens=True), token_names(tokenizer, ids),
                          float(token_log_ps.sum()), float(score)))  # the padded steps' log p are 0
    return found


@torch.no_grad()
def attention_of(model, tokenizer, source: str, output_ids: torch.Tensor) -> Translation:
    """The attentions and token probabilities of ``output_ids`` (T,) (ending in </s>) as the translation of
    ``source``: one forward pass, the decoder reading the start token and the output shifted right."""
    batch = encode(tokenizer, [source], model.device)
    start = torch.tensor([model.config.decoder_start_token_id], device=model.device)
    decoder_input_ids = torch.cat([start, output_ids[:-1]])[None]  # (1, T)
    out = model(**batch, decoder_input_ids=decoder_input_ids, output_attentions=True)
    probabilities = out.logits[0].softmax(-1)  # (T, V)
    return Translation(
        source_tokens=token_names(tokenizer, batch["input_ids"][0]),
        output_tokens=token_names(tokenizer, output_ids),
        text=tokenizer.decode(output_ids, skip_special_tokens=True),
        token_probabilities=probabilities[torch.arange(len(output_ids)), output_ids].cpu(),  # (T,)
        encoder_attention=torch.stack([a[0] for a in out.encoder_attentions]).cpu(),  # (L, H, S, S)
        decoder_attention=torch.stack([a[0] for a in out.decoder_attentions]).cpu(),  # (L, H, T, T)
        cross_attention=torch.stack([a[0] for a in out.cross_attentions]).cpu(),  # (L, H, T, S)
        decoder_inputs=token_names(tokenizer, decoder_input_ids[0]),
    )


@torch.no_grad()
def translate(model, tokenizer, source: str, num_beams: int = 1, max_new_tokens: int = MAX_NEW_TOKENS) -> Translation:
    """Translate ``source`` (tag included, for the numbers model) with ``generate``; the output with its attentions."""
    batch = encode(tokenizer, [source], model.device)
    output = model.generate(**batch, num_beams=num_beams, do_sample=False, max_new_tokens=max_new_tokens)  # (1, T+1)
    ids = output[0, 1:]  # (T,) without the start token
    return attention_of(model, tokenizer, source, ids[ids != tokenizer.pad_token_id])


# ------------------------------------------------------------------ held-out quality


@dataclass
class Score:
    """How well a decoding translates a held-out set."""

    bleu: float  # sacrebleu corpus BLEU, 0–100, tokenize=BLEU_TOKENIZATION
    exact_match: float  # the share of outputs equal to the reference, 0–1
    size: int
    outputs: list[str]


def score(outputs: list[str], references: list[str]) -> Score:
    """Corpus BLEU (sacrebleu, on characters) and exact match of ``outputs`` against ``references``."""
    bleu = sacrebleu.corpus_bleu(outputs, [references], tokenize=BLEU_TOKENIZATION).score
    exact = sum(o == r for o, r in zip(outputs, references, strict=True)) / len(references)
    return Score(bleu, exact, len(references), outputs)


def held_out_score(model, tokenizer, pairs: list[tuple[str, str]], num_beams: int = 1, batch_size: int = 64,
                   max_new_tokens: int = MAX_NEW_TOKENS) -> Score:
    """Decode the sources of ``pairs`` in batches of ``batch_size`` and score them against their targets."""
    sources = [source for source, _target in pairs]
    outputs = [text for first in range(0, len(sources), batch_size)
               for text in decode(model, tokenizer, sources[first:first + batch_size], num_beams, max_new_tokens)]
    return score(outputs, [target for _source, target in pairs])
