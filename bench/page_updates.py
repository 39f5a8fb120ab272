"""Benchmark what a user waits for, in headless Chromium against `streamlit run app.py`.

    python bench/page_updates.py      # writes bench/results/page_updates.json

- cold start: from launching the server to the home page drawn (model loaded);
- per page: seconds from Ctrl+Enter in the sidebar to every visible Plotly chart drawn,
  the median of REPEATS prompts, against the same for bench/floor_app.py, a page
  that redraws one Plotly chart and runs no model: the framework's floor;
- the server's resident memory (RSS) idle, and after SESSIONS browser sessions.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tools.bench_results import save
from tools.browser_driver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RUN_TIMEOUT,
    TEXTAREA,
    VIEWPORT,
    commit_prompt,
    rss_mb,
    streamlit_server,
    wait_for_charts,
    wait_for_rerun,
    wait_until_idle,
)

ROOT = Path(__file__).resolve().parent.parent

PAGES = ["tokenization", "embeddings", "attention", "attention_steps", "next_token", "loss",
         "gpt_vs_bert", "generation", "logit_lens"]
PROMPTS = ["The little dog ran into the garden", "Once upon a time there was a king",
           "It is a truth universally acknowledged", "She walked to the village in the rain",
           "Mr. Darcy said nothing at all"]
REPEATS = 5
SESSIONS = 20
LOGS = ROOT / "test-output"


def time_updates(browser, url: str, path: str) -> list[float]:
    """Open ``url/path``, then type each prompt; return the seconds from commit to drawn for each."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(RUN_TIMEOUT)
    page.goto(f"{url}/{path}")
    wait_until_idle(page)
    if path == "generation":
        page.get_by_role("button", name=re.compile(r"^Run \d+ steps$")).click()
    wait_for_charts(page)
    seconds = []
    for prompt in PROMPTS[:REPEATS]:
        committed = commit_prompt(page, prompt)
        wait_for_rerun(page, prompt)
        wait_for_charts(page)
        seconds.append(time.perf_counter() - committed)
    context.close()
    return seconds


def main() -> None:
    LOGS.mkdir(exist_ok=True)
    result = {"repeats": REPEATS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)

        with streamlit_server(LOGS / "bench-floor.log", "bench/floor_app.py") as (url, _):
            time_updates(browser, url, "")  # warm-up
            floor = time_updates(browser, url, "")
        result["floor_seconds"] = round(statistics.median(floor), 3)

        launched = time.perf_counter()
        with streamlit_server(LOGS / "bench-app.log") as (url, server):
            context = browser.new_context(viewport=VIEWPORT)
            home = context.new_page()
            home.goto(url, timeout=RUN_TIMEOUT)
            wait_until_idle(home)
            home.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=RUN_TIMEOUT)
            result["cold_start_seconds"] = round(time.perf_counter() - launched, 2)
            result["rss_mb_idle"] = round(rss_mb(server.pid), 1)

            pages = {}
            for path in PAGES:
                median = statistics.median(time_updates(browser, url, path))
                pages[path] = {"seconds": round(median, 3), "times_floor": round(median / result["floor_seconds"], 2)}
            result["pages"] = pages

            sessions = [browser.new_context(viewport=VIEWPORT) for _ in range(SESSIONS)]
            for number, session in enumerate(sessions):
                tab = session.new_page()
                tab.goto(f"{url}/attention", timeout=RUN_TIMEOUT)
                tab.locator(TEXTAREA).wait_for(timeout=RUN_TIMEOUT)
                prompt = f"Session {number} asks what comes after the"
                commit_prompt(tab, prompt)
                wait_for_rerun(tab, prompt)
                wait_for_charts(tab)
            result[f"rss_mb_after_{SESSIONS}_sessions"] = round(rss_mb(server.pid), 1)
            for session in sessions:
                session.close()
            context.close()
        browser.close()

    save("page_updates", result)


if __name__ == "__main__":
    main()
