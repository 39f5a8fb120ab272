"""Benchmark the two training buttons a lesson waits on, clicked in headless Chromium against `streamlit run app.py`.

    python bench/training_in_browser.py     # about 4 minutes; writes bench/results/training_in_browser.json

- The scaling law's mini sweep: the time the page promises (its caption), the time from the click to the
  "finished" message, and how honest the progress bar's "about M:SS left" was: every SAMPLE_EVERY seconds the
  estimate is read and compared with the time that really remained.
- Fine-tuning: the time from the click to the "finished" message.

The server trains as it does for a class (EXPLAINER_TORCH_THREADS unset: half the cores), with nothing else
running; the browser shares the machine.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tools.bench_results import save
from tools.browser_driver import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, streamlit_server, wait_until_idle

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "test-output"
SAMPLE_EVERY = 5.0  # seconds between readings of the progress bar
FINISHED = re.compile(r"(finished|stopped) (?:in|after) (\d+):(\d\d)")
DEADLINE = 600  # seconds: a run the server has not ended by then is reported as such
LEFT = re.compile(r"about (\d+):(\d\d) left")


def run_training(page, url: str, path: str, button: str) -> dict:
    """Open ``url/path``, click ``button``; return the seconds to "finished" and the progress bar's estimates."""
    page.goto(f"{url}/{path}?lang=en")
    wait_until_idle(page)
    promise = page.locator('[data-testid="stCaptionContainer"]', has_text="minutes")
    promised = promise.first.inner_text() if promise.count() else None
    page.get_by_role("button", name=button).click()
    clicked = time.perf_counter()
    estimates = []  # (seconds since the click, seconds the bar said were left)
    done = None
    while done is None and time.perf_counter() - clicked < DEADLINE:
        page.wait_for_timeout(SAMPLE_EVERY * 1000)
        body = page.locator('[data-testid="stMain"]').inner_text()
        done = FINISHED.search(body)
        if left := LEFT.search(body):
            estimates.append((time.perf_counter() - clicked, int(left.group(1)) * 60 + int(left.group(2))))
            print(f"{path}: {estimates[-1][0]:.0f} s, the bar says {estimates[-1][1]} s left", flush=True)
    seconds = time.perf_counter() - clicked
    return {
        "promised": promised,
        "ended": done.group(1) if done else f"not within {DEADLINE} s",
        "seconds_to_the_end": round(seconds, 1),
        "page_says_it_took": int(done.group(2)) * 60 + int(done.group(3)) if done else None,
        "estimates": [{"at_seconds": round(at), "said_left": left, "really_left": round(seconds - at),
                       "error_seconds": round(left - (seconds - at))} for at, left in estimates],
    }


def main() -> None:
    LOGS.mkdir(exist_ok=True)
    with sync_playwright() as playwright, streamlit_server(LOGS / "bench-training.log") as (url, _server):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(120_000)
        result = {
            "mini_sweep": run_training(page, url, "scaling_law", "Run the mini sweep"),
            "fine_tuning": run_training(page, url, "fine_tuning", "Fine-tune and train from scratch"),
        }
        browser.close()
    save("training_in_browser", result)


if __name__ == "__main__":
    main()
