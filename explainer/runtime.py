"""How the process runs torch: on which device, and how many threads one computation may use.

Models, analysis, generation and training run on ``device()`` (a GPU when there is one); every result is
brought back to the CPU (``.cpu()``) before a page sees it.

A classroom server answers many sessions at once, each on its own thread, and
trains on another; the cores are better spent on different requests than on
one request split across them. Measured on 2 cores with a browser and another
process busy: fine-tuning took 292 s with torch's default of 2 threads per
operation and 32 s with 1, because the threads of one operation wait for each
other while the cores are taken (see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import functools
import os

import torch

from explainer.i18n import _

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


DEVICE_VARIABLE = "EXPLAINER_DEVICE"
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def choose_device(requested: str, cuda_available: bool, mps_available: bool) -> torch.device:
    """The device for ``requested`` (one of ``DEVICE_CHOICES``): ``auto`` is CUDA, then Apple's MPS, then the CPU.

    Raises ``ValueError``, saying which device is missing, for a named device this machine does not have or a
    name that is not a choice: a server told to use a GPU should not quietly run on its CPU.
    """
    requested = requested.strip().lower() or "auto"
    if requested not in DEVICE_CHOICES:
        raise ValueError(f"{DEVICE_VARIABLE}={requested!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    available = {"cuda": cuda_available, "mps": mps_available, "cpu": True}
    if requested == "auto":
        return torch.device(next(name for name in ("cuda", "mps", "cpu") if available[name]))
    if not available[requested]:
        raise ValueError(f"{DEVICE_VARIABLE}={requested}, but torch sees no {requested} device on this machine")
    return torch.device(requested)


@functools.cache
def device() -> torch.device:
    """The device every model of this process runs on: ``EXPLAINER_DEVICE`` (default ``auto``), chosen once."""
    mps = getattr(torch.backends, "mps", None)
    return choose_device(os.environ.get(DEVICE_VARIABLE, "auto"), torch.cuda.is_available(),
                         bool(mps and mps.is_available()))


def synchronize(where: torch.device) -> None:
    """Wait until ``where`` has finished its queued work (a GPU runs asynchronously); nothing on the CPU."""
    if where.type == "cuda":
        torch.cuda.synchronize(where)
    elif where.type == "mps":
        torch.mps.synchronize()


def device_description(where: torch.device) -> str:
    """How the sidebar names ``where``, in the current language: ``CPU · threads: 1``, ``GPU · <its name>`` (CUDA)
    or ``Apple GPU (MPS)``."""
    if where.type == "cuda":
        return f"GPU · {torch.cuda.get_device_name(where)}"
    if where.type == "mps":
        return _("Apple GPU (MPS)")
    return _("CPU · threads: {n}").format(n=torch.get_num_threads())
