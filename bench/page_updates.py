"""Benchmark what a user waits for: seconds from committing a prompt to the page drawn, in headless Chromium.

    python bench/page_updates.py      # writes bench/results/page_updates.json

Runs the timed browser tests (tests/browser) once against a fresh server; each
figure is one measurement from Ctrl+Enter in the sidebar to every visible
Plotly chart having drawn its SVG (the model already loaded by a warm-up).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "page_updates.json"
TIMED_TESTS = "test_page_follows_a_new_prompt or test_a_long_text_still_renders or test_hostile_prompt_is_shown_as_text"


def main() -> None:
    timings = ROOT / "test-output" / "page_timings.json"
    timings.parent.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "pytest", "tests/browser", "-q", "-k", TIMED_TESTS]
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "PAGE_TIMINGS_JSON": str(timings)})
    result = {
        "command": "python bench/page_updates.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "seconds_from_commit_to_drawn": json.loads(timings.read_text()),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
