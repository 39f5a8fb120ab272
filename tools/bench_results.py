"""Where every benchmark writes: bench/results/<name>.json, stamped with the machine and the command."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import torch

from explainer.runtime import device, device_description

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"


def machine() -> str:
    """The machine a figure was measured on, with the device the models run on (``EXPLAINER_DEVICE``)."""
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"torch {torch.__version__} on {device_description(device())}")


def save(name: str, figures: dict) -> None:
    """Write ``figures`` to bench/results/<name>.json with the command and machine first, and print them."""
    result = {"command": " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]]), "machine": machine(),
              **figures}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
