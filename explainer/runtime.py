"""How the process runs torch: how many threads one computation may use.

A classroom server answers many sessions at once, each on its own thread, and
trains on another; the cores are better spent on different requests than on
one request split across them. Measured on 2 cores with a browser and another
process busy: fine-tuning took 292 s with torch's default of 2 threads per
operation and 32 s with 1, because the threads of one operation wait for each
other while the cores are taken (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import os

import torch

THREADS_VARIABLE = "EXPLAINER_TORCH_THREADS"


def torch_threads() -> int:
    """``EXPLAINER_TORCH_THREADS``, else half the cores (at least 1): the threads one torch operation may use."""
    configured = os.environ.get(THREADS_VARIABLE, "").strip()
    return max(1, int(configured)) if configured else max(1, (os.cpu_count() or 2) // 2)


def use_torch_threads() -> int:
    """Set torch's threads per operation for the whole process to ``torch_threads()``; return that number."""
    threads = torch_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
