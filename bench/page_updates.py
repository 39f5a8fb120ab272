"""Benchmark what a user waits for, in headless Chromium against `streamlit run serve.py`.

    python bench/page_updates.py      # about 6 minutes; writes bench/results/page_updates.json

- cold start: from launching the server to the first page drawn (serve.py loads the models at start-up),
  against the same for bench/floor_app.py, a page that draws one Plotly chart and runs no model;
- per page: seconds from Ctrl+Enter in the sidebar to every visible Plotly chart drawn, the median of REPEATS
  new prompts, and again when the same prompts come back (the model's results are then cached, so what is left
  is the page itself). The model's own time is the difference. The budget of a page is twice the floor's update
  time plus the model's own time: ``within_budget`` says whether the cached update is within twice the floor;
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
FLOOR = "bench/floor_app.py"
SESSIONS = 20
LOGS = ROOT / "test-output"


def time_updates(browser, url: str, path: str, rounds: int = 1) -> list[list[float]]:
    """Open ``url/path``, then type each prompt, ``rounds`` times over; return the seconds from commit to drawn
    for each prompt of each round."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(RUN_TIMEOUT)
    page.goto(f"{url}/{path}")
    wait_until_idle(page)
    if path == "generation":
        page.get_by_role("button", name=re.compile(r"^Run \d+ steps$")).click()
    wait_for_charts(page)
    seconds = []
    for _round in range(rounds):
        seconds.append([])
        for prompt in PROMPTS[:REPEATS]:
            committed = commit_prompt(page, prompt)
            wait_for_rerun(page, prompt)
            wait_for_charts(page)
            seconds[-1].append(time.perf_counter() - committed)
    context.close()
    return seconds


def first_page_seconds(browser, log: Path, script: str, path: str) -> dict:
    """Seconds from launching ``streamlit run <script>`` to ``path`` drawn in a new browser tab, and of that, the
    seconds from the server's first "ok" on its health check (when a load balancer sends it visitors)."""
    launched = time.perf_counter()
    with streamlit_server(log, script) as (url, _):
        ready = time.perf_counter()
        context = browser.new_context(viewport=VIEWPORT)
        tab = context.new_page()
        tab.goto(f"{url}/{path}", timeout=RUN_TIMEOUT)
        wait_until_idle(tab)
        wait_for_charts(tab)
        drawn = time.perf_counter()
        context.close()
    return {"from_launch": round(drawn - launched, 2), "from_ready": round(drawn - ready, 2)}


def main() -> None:
    LOGS.mkdir(exist_ok=True)
    result = {"repeats": REPEATS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)

        result["floor_first_page_seconds"] = first_page_seconds(browser, LOGS / "bench-floor.log", FLOOR, "")
        result["first_page_seconds"] = first_page_seconds(browser, LOGS / "bench-app.log", "serve.py", "loss")
        result["first_page_seconds_without_the_start_up_load"] = first_page_seconds(
            browser, LOGS / "bench-app.log", "app.py", "loss")  # streamlit run app.py: the first visitor loads them
        with streamlit_server(LOGS / "bench-floor.log", FLOOR) as (url, _):
            time_updates(browser, url, "")  # warm-up
            floor = statistics.median(time_updates(browser, url, "")[0])
        result["floor_seconds"] = round(floor, 3)

        with streamlit_server(LOGS / "bench-app.log") as (url, server):
            context = browser.new_context(viewport=VIEWPORT)
            result["rss_mb_idle"] = round(rss_mb(server.pid), 1)
            pages = {}
            for path in PAGES:
                new, cached = (statistics.median(seconds) for seconds in time_updates(browser, url, path, rounds=2))
                model = max(0.0, new - cached)
                pages[path] = {"seconds": round(new, 3), "seconds_with_the_model_cached": round(cached, 3),
                               "model_seconds": round(model, 3), "cached_times_floor": round(cached / floor, 2),
                               "within_budget": cached <= 2 * floor}  # i.e. new <= 2 × floor + the model's time
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
