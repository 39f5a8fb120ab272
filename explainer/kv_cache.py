"""The KV cache: why generating a token gets slower as the text grows, unless the model keeps its keys and values.

A causal model generates one token per step. To attend, the new token's query needs the keys and values of every
token before it, in every layer and head. Those never change (a token attends only backwards), so

- **without a cache**, each step runs the whole prefix through the model again: at length n it recomputes n
  tokens' keys and values (and everything else), O(n) work per generated token;
- **with the cache**, each step runs only the one new token: it computes that token's own k and v (O(1) new
  work), appends them to the cache, and attends over the n cached ones.

Both give exactly the same tokens (``greedy``); only the time differs. ``timing`` measures it live on this
machine: greedy generation from a short prompt up to the model's context (at most ``MAX_LENGTH`` tokens), both
ways in lockstep, timing every step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd
import torch

MAX_LENGTH = 256
REPORTED_LENGTHS = (32, 64, 128, 256)
WINDOW = 8  # a reported length's time is the median of the steps at the 8 lengths up to it
SPARSE_EVERY = 4  # elsewhere, the uncached step is run and timed at every 4th length


@dataclass
class Generation:
    """Greedy generation, one step per new token."""

    ids: list[int]  # the prompt, then the generated tokens
    lengths: list[int]  # (S,) tokens the model read at each step: the prefix plus the new token's place
    seconds: list[float]  # (S,) wall-clock time of each step's forward pass


@torch.no_grad()
def greedy(model: torch.nn.Module, prompt: list[int], length: int, use_cache: bool) -> Generation:
    """Greedy generation from ``prompt`` until the text has ``length`` tokens, with or without the KV cache.

    With the cache, step 1 reads the prompt (the prefill) and every later step feeds only the newest token and the
    cache (``past_key_values``); without it, every step feeds the whole text so far.
    """
    ids = list(prompt)
    device = model.device
    lengths: list[int] = []
    seconds: list[float] = []
    past = None
    while len(ids) < length:
        started = time.perf_counter()
        if not use_cache:
            output = model(input_ids=torch.tensor([ids], device=device), use_cache=False)  # (1, n, V): recomputes all n tokens
        elif past is None:
            output = model(input_ids=torch.tensor([ids], device=device), use_cache=True)  # the prefill
        else:
            output = model(input_ids=torch.tensor([ids[-1:]], device=device), past_key_values=past, use_cache=True)  # (1, 1, V)
        next_id = int(output.logits[0, -1].argmax())  # int() waits for a GPU to finish
        seconds.append(time.perf_counter() - started)
        lengths.append(len(ids))
        past = output.past_key_values if use_cache else None
        ids.append(next_id)
    return Generation(ids, lengths, seconds)


@dataclass
class Timing:
    """Time per generated token, with and without the cache, as the text grows."""

    steps: pd.DataFrame  # one row per step: length (tokens read), with_cache_ms, without_cache_ms
    summary: pd.DataFrame  # one row per reported length: length, with_cache_ms, without_cache_ms, speedup
    same_tokens: bool  # both ways generated the same text
    generated: list[int]  # the text generated (the prompt, then the new tokens)


def _timed_without_cache(length: int) -> bool:
    """Whether the uncached step at ``length`` is run and timed: every ``SPARSE_EVERY``-th length, and every length
    of the windows the reported times are medians of (the slow way costs O(n) a step: timing all of them would
    make the measurement several times longer)."""
    return length % SPARSE_EVERY == 0 or any(reported - 1 - WINDOW < length <= reported - 1 for reported in REPORTED_LENGTHS)


def timing(model: torch.nn.Module, prompt: list[int], context: int) -> Timing:
    """Generate up to ``min(context, MAX_LENGTH)`` tokens greedily, timing every step both ways.

    The two ways run in lockstep: at each length the cached step, then the uncached one on the same text, so a
    burst of other work on a shared CPU slows both alike; the uncached step only at the lengths
    ``_timed_without_cache`` chooses (``without_cache_ms`` is NaN at the others, and ``same_tokens`` compares the
    tokens where both ran). The prefill (the cache's first step) is left out.
    """
    length = min(context, MAX_LENGTH)
    ids = prompt[: max(1, min(len(prompt), length // 8))]  # a short prompt, so the text grows through the range
    rows, same, past, device = [], True, None, model.device
    with torch.no_grad():
        while len(ids) < length:
            started = time.perf_counter()
            if past is None:
                cached = model(input_ids=torch.tensor([ids], device=device), use_cache=True)  # the prefill
            else:
                newest = torch.tensor([ids[-1:]], device=device)  # (1, 1)
                cached = model(input_ids=newest, past_key_values=past, use_cache=True)  # (1, 1, V)
            next_id = int(cached.logits[0, -1].argmax())  # int() waits for a GPU to finish
            with_cache = time.perf_counter() - started
            without = math.nan
            if _timed_without_cache(len(ids)):
                started = time.perf_counter()
                uncached = model(input_ids=torch.tensor([ids], device=device), use_cache=False)  # (1, n, V)
                uncached_id = int(uncached.logits[0, -1].argmax())
                without = time.perf_counter() - started
                same = same and next_id == uncached_id
            if past is not None:
                rows.append({"length": len(ids), "with_cache_ms": 1000 * with_cache, "without_cache_ms": 1000 * without})
            past = cached.past_key_values
            ids = [*ids, next_id]
    steps = pd.DataFrame(rows, columns=["length", "with_cache_ms", "without_cache_ms"])
    summary = []
    for reported in REPORTED_LENGTHS:
        near = steps[(steps["length"] > reported - 1 - WINDOW) & (steps["length"] <= reported - 1)].dropna()
        if len(near):
            with_cache, without = float(near["with_cache_ms"].median()), float(near["without_cache_ms"].median())
            summary.append({"length": reported, "with_cache_ms": with_cache, "without_cache_ms": without,
                            "speedup": without / with_cache})
    return Timing(steps, pd.DataFrame(summary, columns=["length", "with_cache_ms", "without_cache_ms", "speedup"]),
                  same, ids)
