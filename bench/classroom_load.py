"""Benchmark a classroom: SESSIONS students typing on one server at once, and one replica's capacity.

    python bench/classroom_load.py              # writes bench/results/classroom_load.json
    python bench/classroom_load.py --capacity   # about 8 minutes; writes bench/results/capacity.json

SESSIONS browser sessions (one headless Chromium, a context each) open the
attention or the loss page, arriving half a second apart. Once all have drawn,
for DURATION seconds each types a new prompt,
waits until the page has re-run and drawn its charts, then pauses 2 to 4 s.
Reported: p50 and p95 of the seconds from commit to drawn, the updates done,
the errors (a timeout, an exception box, an error box), and the server's peak
resident memory (RSS, the server and its children, sampled every 0.5 s).

``--capacity`` measures what one replica holds: the server is pinned to core 0 (taskset) and this process,
with its browsers, to the other cores, so the students' browsers (on their own laptops in a class) do not
take the server's CPU. It runs CAPACITY_SESSIONS students in turn, each for CAPACITY_DURATION seconds, and
reports the most sessions whose p95 from commit to the server's run finished (the page's new content sent;
drawing it is the student's laptop's work) stays within CAPACITY_P95 seconds. The times to drawn are reported
too: with every tab on one core here, they include the browsers waiting for each other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from pathlib import Path

from playwright.async_api import async_playwright

from tools.bench_results import save
from tools.browser_driver import (
    APP_IDLE,
    CHARTS_DRAWN,
    CHROMIUM,
    CHROMIUM_ARGS,
    RUN_TIMEOUT,
    TEXTAREA,
    rss_mb,
    streamlit_server,
)

ROOT = Path(__file__).resolve().parent.parent

SESSIONS = 20
DURATION = 60.0
CAPACITY_SESSIONS = (1, 2, 4, 6, 8, 12, 16, 20)  # tried in turn, until p95 exceeds CAPACITY_P95
CAPACITY_DURATION = 45.0  # seconds per round, or four pauses if longer
PAUSE = (2.0, 4.0)  # seconds a student waits before typing again: a busy class
CAPACITY_P95 = 1.0  # seconds
SERVER_CORE = "0"
WORDS = "the garden house letter morning sister ball village walk rain Emma Darcy Bath fortune".split()


async def arrive(browser, url: str, number: int, errors: list[str]):
    """One student opens the attention or the loss page; return the tab, or None if it never drew."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(RUN_TIMEOUT)
    path = "attention" if number % 2 == 0 else "loss"
    await asyncio.sleep(0.5 * number)  # students arrive over ten seconds
    try:
        await page.goto(f"{url}/{path}")
        await page.wait_for_selector(APP_IDLE)
        await page.wait_for_function(CHARTS_DRAWN, polling=250)
        return page
    except Exception as problem:  # noqa: BLE001 - a session that never opened is an error too
        errors.append(f"session {number} could not open {path}: {type(problem).__name__}: {str(problem)[:200]}")
        return None


async def type_along(page, number: int, deadline: float, times: list[float], server_times: list[float],
                     errors: list[str], pause: tuple[float, float] = PAUSE) -> None:
    """One student types a prompt, waits for the charts, pauses ``pause`` seconds (low, high); until the deadline.
    ``server_times`` get the seconds until the server's run had finished (the app idle again), ``times`` until the
    charts were drawn."""
    rng = random.Random(number)
    turn = 0
    while time.monotonic() < deadline:
        turn += 1
        prompt = f"Student {number} wrote about the {rng.choice(WORDS)} and the {rng.choice(WORDS)} ({turn})"
        box = page.locator(TEXTAREA)
        await box.fill(prompt)
        committed = time.perf_counter()
        await box.press("Control+Enter")
        try:
            await page.wait_for_function(
                "text => new URLSearchParams(location.search).get('text') === text", arg=prompt, polling=250)
            await page.wait_for_selector(APP_IDLE)
            server_times.append(time.perf_counter() - committed)
            await page.wait_for_function(CHARTS_DRAWN, polling=250)
            times.append(time.perf_counter() - committed)
            shown = await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count()
            if shown:
                errors.append(f"session {number}: an error box after '{prompt}'")
        except Exception as problem:  # noqa: BLE001 - every failure is a counted error
            errors.append(f"session {number}: {type(problem).__name__}: {str(problem)[:200]}")
        await asyncio.sleep(rng.uniform(*pause))


async def sample_memory(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(0.5)


async def run(url: str, pid: int, sessions: int = SESSIONS, duration: float = DURATION,
              pause: tuple[float, float] = PAUSE) -> dict:
    times: list[float] = []
    server_times: list[float] = []
    errors: list[str] = []
    peak = [rss_mb(pid)]
    idle = peak[0]
    stop = asyncio.Event()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        memory = asyncio.create_task(sample_memory(pid, peak, stop))
        started = time.monotonic()
        tabs = await asyncio.gather(*(arrive(browser, url, n, errors) for n in range(sessions)))
        arrival_seconds = time.monotonic() - started
        deadline = time.monotonic() + duration
        await asyncio.gather(*(type_along(tab, n, deadline, times, server_times, errors, pause)
                               for n, tab in enumerate(tabs) if tab))
        stop.set()
        await memory
        await browser.close()
    ordered, served = sorted(times), sorted(server_times)
    return {
        "sessions": sessions,
        "pause_seconds": list(pause),
        "seconds_until_all_sessions_had_drawn": round(arrival_seconds, 1),
        "duration_seconds": duration,
        "updates": len(times),
        "p50_seconds": round(statistics.median(ordered), 2) if ordered else None,
        "p95_seconds": round(ordered[int(0.95 * (len(ordered) - 1))], 2) if ordered else None,
        "max_seconds": round(ordered[-1], 2) if ordered else None,
        "p50_server_seconds": round(statistics.median(served), 2) if served else None,
        "p95_server_seconds": round(served[int(0.95 * (len(served) - 1))], 2) if served else None,
        "errors": len(errors),
        "error_samples": errors[:10],
        "rss_mb_before": round(idle, 1),
        "rss_mb_peak": round(peak[0], 1),
    }


def holds(result: dict) -> bool:
    """Whether one replica held a round: no error, and 95% of the server's answers within ``CAPACITY_P95``."""
    return result["p95_server_seconds"] is not None and result["p95_server_seconds"] <= CAPACITY_P95 \
        and not result["errors"]


def capacity(logs: Path, pause: tuple[float, float]) -> dict:
    """Sessions at once, in turn, on one replica pinned to ``SERVER_CORE``; stop after the first p95 over the bound."""
    browser_cores = set(range(os.cpu_count() or 2)) - {int(SERVER_CORE)}
    os.sched_setaffinity(0, browser_cores or {0})  # this process and the Chromium it starts: off the server's core
    rounds = []
    with streamlit_server(logs / "bench-capacity.log", cpus=SERVER_CORE) as (url, server):
        for sessions in CAPACITY_SESSIONS:
            result = asyncio.run(run(url, server.pid, sessions, max(CAPACITY_DURATION, 4 * pause[1]), pause))
            rounds.append(result)
            print(f"{sessions:>3} sessions: the server answered in p50 {result['p50_server_seconds']} s, "
                  f"p95 {result['p95_server_seconds']} s; drawn in p50 {result['p50_seconds']} s, p95 "
                  f"{result['p95_seconds']} s; {result['errors']} errors", flush=True)
            if not holds(result):
                break
    held = [r["sessions"] for r in rounds if holds(r)]
    return {"server_cores": SERVER_CORE, "browser_cores": sorted(browser_cores), "p95_bound_seconds": CAPACITY_P95,
            "sessions_held": max(held, default=0), "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacity", action="store_true", help="measure one replica's capacity (see above)")
    parser.add_argument("--pause", nargs=2, type=float, default=PAUSE, metavar=("LOW", "HIGH"),
                        help="seconds each student waits before typing again (default 2 4)")
    logs = ROOT / "test-output"
    logs.mkdir(exist_ok=True)
    arguments = parser.parse_args()
    pause = tuple(arguments.pause)
    if arguments.capacity:
        save("capacity" if pause == PAUSE else f"capacity_pause_{pause[0]:g}_{pause[1]:g}", capacity(logs, pause))
        return
    with streamlit_server(logs / "bench-classroom.log") as (url, server):
        result = asyncio.run(run(url, server.pid))
    save("classroom_load", {"browser_on_the_same_machine": True, **result})


if __name__ == "__main__":
    main()
