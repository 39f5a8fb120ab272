"""Benchmark a class room: how fast STUDENTS follow the teacher, and what a room costs the server in memory.

    python bench/room_latency.py     # about 6 minutes; writes bench/results/room_latency.json

One headless Chromium, a context per person, against `streamlit run serve.py` pinned to core 0 (the students'
tabs, on their own laptops in a class, run on the other core). The teacher opens a room on the Class room page;
STUDENTS join by its link. Once the load on the browsers' core has stopped falling (every tab has loaded the app;
the tabs' polls of the room remain), the teacher makes CHANGES changes in turn: a new text (typed in the sidebar) and
a new lesson stop (the Next button). Two latencies, each as p50, p95 and the slowest over every student and change:

- sent by the server: from the teacher's change reaching the room to each student's run showing it having
  finished on the server (the server's trace, EXPLAINER_ROOM_TRACE). This is the shared part of the latency.
- on the students' screens: from the teacher's key press or click to each student's tab showing the text in
  its sidebar, or the stop's title, with its run finished (noted by the tab itself). Here every tab shares one
  core, so this includes the tabs waiting for each other, which twenty laptops do not.

Memory: a full room (the longest text a room keeps, MAX_STUDENTS students seen, each with the longest guess)
measured with tracemalloc in this process, per room, over ROOMS rooms; and the server's resident memory before
and after the class joined (that includes the students' sessions, not only the room).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import tracemalloc
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

from explainer.lessons import LESSONS
from explainer.rooms import MAX_GUESS_CHARACTERS, MAX_STUDENTS, MAX_TEXT_CHARACTERS, TRACE_VARIABLE, RoomBoard, Scene
from tools.bench_results import save
from tools.browser_driver import APP_IDLE, CHROMIUM, CHROMIUM_ARGS, PROJECTOR, RUN_TIMEOUT, TEXTAREA, rss_mb, streamlit_server

ROOT = Path(__file__).resolve().parent.parent
STUDENTS = 20
CHANGES = 6  # alternately a new text and the next lesson stop
SERVER_CORE = "0"  # the server on core 0, the browsers (the students' laptops in a class) on the others
ROOMS = 20
STEP_SHOWN = "s => new URLSearchParams(location.search).get('step') === s"  # the teacher's own address
# A student's tab notes, itself, when each text and stop title was first on screen with the run finished: the
# clock is read in the browser (Date.now(), the machine's clock, as time.time() here), so how often this process
# looks does not count, and twenty tabs are not polled ten times a second.
NOTE_WHAT_IS_SHOWN = """
window.__shown = {};
new MutationObserver(() => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || app.dataset.testScriptState !== 'notRunning') return;
  const seen = [document.querySelector('.st-key-prompt textarea')?.value,
                ...[...document.querySelectorAll('[data-testid=stMain] h2')].map(h => h.textContent)];
  for (const what of seen) if (what && !(what in window.__shown)) window.__shown[what] = Date.now() / 1000;
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
SHOWN = "what => window.__shown && Object.keys(window.__shown).some(k => k.includes(what))"
WHEN_SHOWN = "what => Math.min(...Object.entries(window.__shown).filter(([k]) => k.includes(what)).map(([, t]) => t))"
STOPS = [stop.title for stop in LESSONS["attention"].stops]  # a student's page shows the stop's title (its address
# stays as it was: a page a room switches to keeps the address it had)


def room_bytes() -> int:
    """Bytes one full room takes, measured over ``ROOMS`` rooms with tracemalloc."""
    board = RoomBoard(max_rooms=ROOMS)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(ROOMS):
        code, secret = board.open()
        board.lead(code, secret, Scene("lessons", "x" * MAX_TEXT_CHARACTERS, "en", "tiny-gpt-austen", "attention", 3))
        board.ask(code, secret)
        for student in range(MAX_STUDENTS):
            board.follow(code, f"{student:016x}")
            board.guess(code, f"{student:016x}", "y" * MAX_GUESS_CHARACTERS)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used // ROOMS


FOLLOW_TIMEOUT = 60_000  # ms: a student not there by then is counted as stalled
WINDOW_SECONDS = 5  # the browsers' core is measured in windows of this many seconds
SATURATED = 0.9  # a core busier than this is still loading tabs
STEADY = 0.05  # the class has settled when two windows in a row differ by less than this (the tabs' polls remain)
SETTLE_TIMEOUT = 300  # seconds


def busy_share(cores: set[int], seconds: float) -> float:
    """How busy ``cores`` were over the next ``seconds``, from 0 to 1 (from /proc/stat)."""
    def ticks() -> tuple[int, int]:
        busy = total = 0
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
                numbers = [int(v) for v in values[:8]]
                total += sum(numbers)
                busy += sum(numbers) - numbers[3] - numbers[4]  # all but idle and iowait
        return busy, total
    busy_before, total_before = ticks()
    time.sleep(seconds)
    busy_after, total_after = ticks()
    return (busy_after - busy_before) / max(total_after - total_before, 1)


def wait_until_settled(cores: set[int]) -> tuple[float, list[float]]:
    """Block until the load on ``cores`` has stopped falling and is below saturation: every tab has loaded the app,
    and what is left is the tabs' room polls. Return the seconds it took and each window's busy share."""
    started, shares = time.time(), []
    while time.time() - started < SETTLE_TIMEOUT:
        shares.append(round(busy_share(cores, WINDOW_SECONDS), 2))
        if len(shares) >= 3 and max(shares[-2:]) < SATURATED and abs(shares[-1] - shares[-2]) < STEADY:
            break
    return time.time() - started, shares


def percentiles(seconds: list[float]) -> dict:
    """p50, p95 and the slowest of ``seconds``, rounded to 10 ms."""
    ordered = sorted(seconds) or [float("nan")]
    return {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max": round(ordered[-1], 2)}


def server_seconds(trace: Path, changes: int, students: int) -> dict:
    """From the server's trace (``explainer.rooms.trace``): for each of the last ``changes``
    versions the teacher led, the seconds until each student's run showing it had finished on the server."""
    lines = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    leads = {line["version"]: line["time"] for line in lines if line["event"] == "lead"}
    seconds, missing = [], 0
    for version in sorted(leads)[-changes:]:
        first_shown: dict[str, float] = {}
        for line in lines:
            if line["event"] == "shown" and line["version"] == version:
                first_shown.setdefault(line["session"], line["time"])
        seconds += [shown - leads[version] for shown in first_shown.values()]
        missing += students - len(first_shown)
    return {**percentiles(seconds), "missing": missing}


async def follow_time(student, started: float, what: str) -> float | None:
    """Seconds from ``started`` (time.time()) until the student's page showed ``what`` (the text, or a stop's title),
    its run finished; None when it did not within ``FOLLOW_TIMEOUT``."""
    try:
        await student.wait_for_function(SHOWN, arg=what, polling=1000, timeout=FOLLOW_TIMEOUT)
    except PlaywrightTimeout:
        print("stalled:", student.url, await student.evaluate(STALL_STATE), flush=True)
        return None
    return await student.evaluate(WHEN_SHOWN, what) - started


STALL_STATE = """() => ({text: document.querySelector('.st-key-prompt textarea')?.value,
    titles: [...document.querySelectorAll('[data-testid=stMain] h2')].map(h => h.textContent),
    running: !!document.querySelector('[data-testid=stStatusWidget]')})"""


async def go(tab, path: str) -> None:
    """Move through the header's menus, as a user does (a new page load would start a new session)."""
    link = tab.locator(f'[data-testid="stTopNavDropdownLink"][href$="/{path}"]')
    sections = tab.locator('[data-testid="stTopNavSection"]')
    for index in range(await sections.count()):
        await sections.nth(index).click()
        if await link.count() and await link.first.is_visible():
            break
    await link.first.click()
    await tab.wait_for_function("path => location.pathname.endsWith('/' + path)", arg=path, timeout=RUN_TIMEOUT)
    await tab.wait_for_selector(APP_IDLE, timeout=RUN_TIMEOUT)


async def run(url: str, pid: int, students_count: int, changes: int) -> dict:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        teacher = await (await browser.new_context(viewport=PROJECTOR)).new_page()
        await teacher.goto(f"{url}/room", timeout=RUN_TIMEOUT)
        await teacher.wait_for_selector(APP_IDLE, timeout=RUN_TIMEOUT)
        await teacher.get_by_role("button", name="Open a room").click()
        metric = teacher.locator('[data-testid="stMetricValue"]').first
        await metric.wait_for(timeout=RUN_TIMEOUT)
        code = (await metric.inner_text()).strip()
        rss_before = rss_mb(pid)
        await go(teacher, "lessons")
        await teacher.locator(".st-key-start_attention button").click()
        await teacher.wait_for_function(STEP_SHOWN, arg="1", timeout=RUN_TIMEOUT)
        await teacher.wait_for_selector(APP_IDLE, timeout=RUN_TIMEOUT)

        students = [await (await browser.new_context(viewport=PROJECTOR)).new_page()
                    for _ in range(students_count)]
        for student in students:
            await student.add_init_script(NOTE_WHAT_IS_SHOWN)
        joined = time.time()
        await asyncio.gather(*(student.goto(f"{url}/?room={code}", timeout=RUN_TIMEOUT) for student in students))
        await asyncio.gather(*(follow_time(student, joined, STOPS[0]) for student in students))
        join_seconds = time.time() - joined
        # the stop's title is on every screen, but twenty tabs on one core are still loading the app's code
        settle_seconds, busy_shares = await asyncio.to_thread(wait_until_settled, os.sched_getaffinity(0))
        print(f"settled after {settle_seconds:.0f} s; the browsers' core busy in each {WINDOW_SECONDS} s:", busy_shares,
              flush=True)

        seconds: dict[str, list[float]] = {"text": [], "stop": []}
        stalled = 0
        for change in range(changes):
            if change % 2 == 0:
                text = f"Change {change}: the little dog ran into the garden"
                box = teacher.locator(TEXTAREA)
                await box.fill(text)
                started = time.time()
                await box.press("Control+Enter")
                times = await asyncio.gather(*(follow_time(s, started, text) for s in students))
                seconds["text"] += [t for t in times if t is not None]
            else:
                step = change // 2 + 2
                started = time.time()
                await teacher.locator(".st-key-lesson_next button").click()
                times = await asyncio.gather(*(follow_time(s, started, STOPS[step - 1]) for s in students))
                seconds["stop"] += [t for t in times if t is not None]
            done = [t for t in times if t is not None]
            stalled += len(times) - len(done)
            print(f"change {change + 1}: " + (f"p50 {statistics.median(done):.2f} s, slowest {max(done):.2f} s, "
                                              if done else "") + f"{len(times) - len(done)} stalled", flush=True)
            await teacher.wait_for_selector(APP_IDLE, timeout=RUN_TIMEOUT)
        rss_after = rss_mb(pid)
        await browser.close()
    return {
        "students": students_count,
        "changes": changes,
        "seconds_for_all_students_to_join": round(join_seconds, 1),
        "seconds_until_the_browsers_settled": round(settle_seconds, 1),  # before the teacher's first change
        "browser_core_busy_share_while_settling": busy_shares,  # per WINDOW_SECONDS window
        "on_the_students_screens_seconds": {  # every student tab on the browser core(s), as in no class
            **percentiles(seconds["text"] + seconds["stop"]),
            "stalled": stalled,  # student-changes not followed within FOLLOW_TIMEOUT
            "p50_text_change": percentiles(seconds["text"])["p50"],
            "p50_stop_change": percentiles(seconds["stop"])["p50"],
        },
        "server_rss_mb_before_the_class": round(rss_before, 1),
        "server_rss_mb_with_the_class": round(rss_after, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=STUDENTS)
    parser.add_argument("--changes", type=int, default=CHANGES)
    arguments = parser.parse_args()
    logs = ROOT / "test-output"
    logs.mkdir(exist_ok=True)
    per_room = room_bytes()
    browser_cores = set(range(os.cpu_count() or 2)) - {int(SERVER_CORE)}
    os.sched_setaffinity(0, browser_cores or {0})  # this process and its Chromium: off the server's core
    trace = logs / "room-trace.jsonl"
    trace.unlink(missing_ok=True)
    os.environ[TRACE_VARIABLE] = str(trace)  # the server (started next) traces each change and each student's run
    with streamlit_server(logs / "bench-room.log", cpus=SERVER_CORE) as (url, server):
        result = asyncio.run(run(url, server.pid, arguments.students, arguments.changes))
    result["sent_by_the_server_seconds"] = server_seconds(trace, arguments.changes, arguments.students)
    save("room_latency", {"server_cores": SERVER_CORE, "browser_cores": sorted(browser_cores), **result,
                          "bytes_per_full_room": per_room,
                          "full_room": f"a {MAX_TEXT_CHARACTERS:,}-character text, {MAX_STUDENTS} students, "
                                       f"each with a {MAX_GUESS_CHARACTERS}-character guess"})


if __name__ == "__main__":
    main()
