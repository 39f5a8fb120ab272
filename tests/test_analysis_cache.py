"""The server's analysis cache: bounded in bytes, least recently used first out, shared without copies."""

import numpy as np
import pytest

from explainer.analysis import analyze
from explainer.analysis_cache import AnalysisCache, analysis_bytes

TEXTS = [f"It was a fine day, and Emma walked to Hartfield for the {n}th time." for n in range(6)]


@pytest.mark.slow
def test_the_cache_holds_at_most_its_budget_in_bytes_and_forgets_the_oldest_first(gpt):
    size = analysis_bytes(analyze(gpt, TEXTS[0]))
    cache = AnalysisCache(max_bytes=int(size * 4.5))  # room for four analyses of this length
    for text in TEXTS:
        cache.get_or_compute((gpt.spec.name, text), lambda text=text: analyze(gpt, text))
    assert cache.bytes_held <= cache.max_bytes
    assert len(cache) == 4
    computed = []
    cache.get_or_compute((gpt.spec.name, TEXTS[0]), lambda: computed.append(1) or analyze(gpt, TEXTS[0]))
    assert computed == [1]  # the oldest was forgotten and is computed again
    cache.get_or_compute((gpt.spec.name, TEXTS[-1]), lambda: computed.append(2) or analyze(gpt, TEXTS[-1]))
    assert computed == [1]  # the newest is still there


def test_every_session_gets_the_same_read_only_analysis(gpt):
    cache = AnalysisCache(max_bytes=2**30)
    first = cache.get_or_compute(("m", "t"), lambda: analyze(gpt, TEXTS[0]))
    second = cache.get_or_compute(("m", "t"), lambda: pytest.fail("computed twice"))
    assert first is second  # no deep copy on a rerun
    with pytest.raises(ValueError, match="read-only"):
        first.attentions[0][0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        first.token_losses[1] = 0.0


def test_an_analysis_too_big_for_the_cache_is_returned_but_not_kept(gpt):
    analysis = analyze(gpt, TEXTS[0])
    cache = AnalysisCache(max_bytes=analysis_bytes(analysis) * 2)  # one entry may take a quarter at most
    shown = cache.get_or_compute(("m", "t"), lambda: analysis)
    assert shown is analysis and len(cache) == 0


def test_analysis_bytes_counts_every_array(gpt):
    analysis = analyze(gpt, TEXTS[0])
    arrays = [analysis.top_ids, analysis.hidden_states, analysis.token_losses, analysis.token_probabilities,
              analysis.token_ranks, analysis.next_token_logits, analysis.next_token_probabilities, *analysis.attentions]
    assert analysis_bytes(analysis) == sum(array.nbytes for array in arrays)


def test_the_pages_share_one_analysis_object_per_text():
    from pages.shared import cached_analysis

    first, second = cached_analysis("tiny-gpt-austen", TEXTS[1]), cached_analysis("tiny-gpt-austen", TEXTS[1])
    assert first is second
    assert not first.hidden_states.flags.writeable
    assert np.isfinite(first.token_losses[1:]).all()
