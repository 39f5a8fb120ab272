"""The server's memory of recent analyses, bounded in bytes, shared by every session without copies.

One GPT-2-small analysis of a 1,024-token text holds 604 MB of attention
weights, so a cache counted in entries can grow past any machine's memory. This
one counts bytes, forgets the least recently used analysis first, and never
keeps an analysis larger than a quarter of its budget. It hands out the cached
object itself (no deep copy on every rerun), so the analysis's arrays are made
read-only: a page that tried to change one would fail loudly instead of
changing what another student sees.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from explainer.analysis import Analysis

Key = tuple[str, str]  # (model name, text)


def analysis_bytes(analysis: Analysis) -> int:
    """Return the bytes held by ``analysis``'s arrays (its tokens' strings add a little more)."""
    arrays = [value for value in vars(analysis).values() if isinstance(value, np.ndarray)] + list(analysis.attentions)
    return sum(array.nbytes for array in arrays)


def freeze(analysis: Analysis) -> Analysis:
    """Make every array of ``analysis`` read-only, and return it."""
    for value in [*vars(analysis).values(), *analysis.attentions]:
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return analysis


class AnalysisCache:
    """A thread-safe least-recently-used cache of analyses, holding at most ``max_bytes`` of arrays."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, tuple[Analysis, int]] = OrderedDict()  # oldest first
        self._lock = threading.Lock()

    @property
    def bytes_held(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: Key, compute: Callable[[], Analysis]) -> Analysis:
        """Return the cached analysis for ``key``, or ``compute()`` it, freeze it and keep it if it fits."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        analysis = freeze(compute())  # outside the lock: other sessions' look-ups don't wait for this forward
        size = analysis_bytes(analysis)
        if size <= self.max_bytes // 4:
            with self._lock:
                self._entries[key] = (analysis, size)
                self._entries.move_to_end(key)
                total = sum(entry_size for _, entry_size in self._entries.values())
                while total > self.max_bytes:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    total -= dropped
        return analysis
