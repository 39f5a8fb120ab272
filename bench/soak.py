"""Soak benchmark: a server's memory under many long texts, and under many model switches.

    python bench/soak.py                              # writes bench/results/soak.json
    python bench/soak.py --sessions 3 --switches 5    # a smoke test, a few minutes

The models are the registry's that are present: the embedded ones, and a hub
model only when it is already in the local Hugging Face cache (the others are
listed as skipped, with the reason).

Part 1, one server: for each present model in turn, SESSIONS browser sessions
(headless Chromium contexts, at most CONCURRENCY open at once) each open the
attention page with the model in the URL, fill the sidebar's "Your text" with
its own 20,000-character slice of the shipped Austen prose (a different slice
for every session and model; the URL keeps only the first 1,500 characters,
so the text area is the real path), commit it, and visit one more heavy page
through the sidebar (loss; GPT vs BERT for a masked model) until its charts
draw (--pages 3 adds next token, or loss; --pages 1 stays on attention). Reported per model: RSS before,
peak, final, and after each session; overall: peak, and final once the last session has been closed for
--settle seconds. The models run one after the other on the same server, so
a model's figures include what the earlier ones left in the caches (bounded by
the app's EXPLAINER_* settings, recorded in the results).

Part 2, a fresh server: one session with a long text switches the sidebar's
"Model" between the present models SWITCHES times, waiting for the attention
page's charts each time. Reported: RSS after every switch, and the growth and
slope over the last 40 switches (the first ones load the models and fill the
caches).

The servers run with Streamlit's file watcher off, so that a file edited in
the tree during a run does not reload modules half way through it.

RSS is the resident memory of the Streamlit server process and its children
(there are none; Streamlit serves every session from one process), sampled
every 0.5 s in a thread; the kernel's own high-water mark of the server
process (VmHWM) is reported beside it, since a spike may fall between samples.
PASS/FAIL: the peak stays under --max-peak-mb, the growth over the last
switches stays under --max-growth-mb, and no session failed (a timeout, or an
error shown on a page). The script exits non-zero on FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

from playwright.async_api import async_playwright

from explainer.corpus import shipped_prose
from explainer.models import REGISTRY, available_models
from tools.bench_results import save
from tools.browser_driver import (
    APP_IDLE,
    CHARTS_DRAWN,
    CHROMIUM,
    CHROMIUM_ARGS,
    RUN_TIMEOUT,
    TEXTAREA,
    VIEWPORT,
    rss_mb,
    streamlit_server,
)

ROOT = Path(__file__).resolve().parent.parent

LOGS = ROOT / "test-output"
# The page where each session types its text, then the pages it visits, by model kind.
PAGES = {"causal": ["attention", "loss", "next_token"], "masked": ["attention", "gpt_vs_bert", "loss"]}
ERROR_BOXES = '[data-testid="stMain"] [data-testid="stException"], [data-testid="stMain"] [data-testid="stAlertContentError"]'
# The app has taken a typed text once the URL holds a (non-empty) beginning of it: the URL keeps 1,500 characters.
TEXT_TAKEN = """text => {
    const shown = new URLSearchParams(location.search).get('text');
    return !!shown && text.startsWith(shown);
}"""
MODEL_TAKEN = "name => new URLSearchParams(location.search).get('model') === name"
GIVE_UP_AFTER = 5  # sessions (or switches) failing in a row: the server is broken, the rest would only time out


# ------------------------------------------------------------------ memory


def _status_mb(pid: int, field: str) -> float:
    """One field of /proc/<pid>/status (VmRSS, VmHWM), in MiB; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class MemorySampler(threading.Thread):
    """Samples the RSS of a process and its children every ``every`` seconds, until stopped."""

    def __init__(self, pid: int, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []  # (monotonic seconds, MiB)
        self.most_children = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.monotonic(), rss_mb(self.pid)))
            self.most_children = max(self.most_children, len(_children(self.pid)))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak(self, since: float = 0.0) -> float:
        """The highest sample taken since ``since`` (time.monotonic()), counting the current RSS."""
        return max([mb for at, mb in self.samples if at >= since] + [rss_mb(self.pid)])


# ------------------------------------------------------------------ models and texts


def _in_local_hub_cache(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(name, "config.json")
    weights = [try_to_load_from_cache(name, file) for file in ("model.safetensors", "model.safetensors.index.json")]
    return isinstance(config, str) and any(isinstance(found, str) for found in weights)


def present_models() -> tuple[list[str], dict[str, str]]:
    """The registry models this server can load here, and the skipped ones with the reason."""
    allowed = {spec.name for spec in available_models()}
    present, skipped = [], {}
    for spec in REGISTRY.values():
        if spec.embedded:
            if (Path(spec.source) / "config.json").exists():
                present.append(spec.name)
            else:
                skipped[spec.name] = f"embedded model, but {spec.source} has no config.json"
        elif spec.name not in allowed:
            skipped[spec.name] = "hub model not allowed by EXPLAINER_ALLOWED_MODELS"
        elif not _in_local_hub_cache(spec.name):
            skipped[spec.name] = ("hub model, not in the local Hugging Face cache "
                                  "(the hub cannot be reached from this machine)")
        else:
            present.append(spec.name)
    return present, skipped


class LongTexts:
    """Distinct slices of the shipped Austen prose, each starting at a word, one per call."""

    def __init__(self, chars: int):
        train, _ = shipped_prose()
        self.prose, self.chars, self.offset = "\n".join(train), chars, 0

    def next(self) -> str:
        start = self.prose.index(" ", self.offset) + 1  # begin at a word
        if start + self.chars > len(self.prose):
            raise ValueError("not enough shipped prose for that many sessions; use fewer --chars")
        self.offset = start + self.chars
        return self.prose[start:self.offset]


# ------------------------------------------------------------------ one browser tab


async def _errors_shown(page, where: str) -> list[str]:
    boxes = page.locator(ERROR_BOXES)
    if not await boxes.count():
        return []
    return [f"{where}: {(await boxes.first.inner_text())[:200]}"]


async def _charts_drawn(page) -> None:
    await page.wait_for_selector(APP_IDLE)
    await page.wait_for_function(CHARTS_DRAWN, polling=250)


async def open_with_text(browser, url: str, model: str, path: str, text: str):
    """A new session on ``url/path`` with ``model``; type ``text`` in the sidebar and wait for the charts."""
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(RUN_TIMEOUT)
    await page.goto(f"{url}/{path}?model={quote(model)}&text=Soak")
    await page.wait_for_selector(APP_IDLE)
    box = page.locator(TEXTAREA)
    await box.fill(text)
    await box.press("Control+Enter")
    await page.wait_for_function(TEXT_TAKEN, arg=text, polling=250)
    await _charts_drawn(page)
    return context, page


async def visit(page, path: str) -> None:
    """Go to another page through the header's menus (the session, and its text, stay) and wait for its charts."""
    link = page.locator(f'[data-testid="stTopNavDropdownLink"][href$="/{path}"]')
    sections = page.locator('[data-testid="stTopNavSection"]')
    for index in range(await sections.count()):  # open the menus in turn until one holds the page
        await sections.nth(index).click()
        if await link.count() and await link.first.is_visible():
            break
    title = (await link.first.inner_text()).strip().splitlines()[-1]  # the label (after the icon's name) is the title
    await link.first.click()
    await page.wait_for_function("path => location.pathname.endsWith('/' + path)", arg=path, polling=250)
    await page.locator('[data-testid="stMain"] h1').filter(has_text=title).wait_for()
    await _charts_drawn(page)


async def switch_model(page, name: str) -> None:
    """Choose ``name`` in the sidebar's Model box and wait until the page has redrawn with it."""
    await page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    option = page.get_by_role("listbox", name="Model").get_by_role(
        "option", name=re.compile(rf"^{re.escape(name)}( — |$)"))
    await option.click()
    await page.wait_for_function(MODEL_TAKEN, arg=name, polling=250)
    await _charts_drawn(page)


# ------------------------------------------------------------------ part 1


async def one_session(browser, url, model, pages, text, number, pid, finished, errors, gate, failing) -> None:
    async with gate:
        if failing[0] >= GIVE_UP_AFTER:
            errors.append(f"{model} session {number}: not run, {failing[0]} sessions in a row had failed")
            return
        started, context = time.perf_counter(), None
        try:
            context, page = await open_with_text(browser, url, model, pages[0], text)
            errors.extend(await _errors_shown(page, f"{model} session {number} {pages[0]}"))
            for path in pages[1:]:
                await visit(page, path)
                errors.extend(await _errors_shown(page, f"{model} session {number} {path}"))
            failing[0] = 0
        except Exception as problem:  # noqa: BLE001 - a failed session is counted and the soak goes on
            failing[0] += 1
            errors.append(f"{model} session {number}: {type(problem).__name__}: {str(problem)[:200]}")
        finally:
            if context is not None:
                await context.close()
        finished.append({"session": number, "seconds": round(time.perf_counter() - started, 1),
                         "rss_mb": round(rss_mb(pid), 1)})
        print(f"  {model} session {number}: {finished[-1]['seconds']} s, server RSS {finished[-1]['rss_mb']} MB",
              flush=True)


async def sessions_part(url: str, pid: int, sampler: MemorySampler, models, texts: LongTexts, args) -> dict:
    per_model, errors = {}, []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        for model in models:
            kind = REGISTRY[model].kind
            pages = PAGES[kind][:args.pages]
            began, before = time.monotonic(), rss_mb(pid)
            finished, model_errors = [], []
            gate, failing = asyncio.Semaphore(args.concurrency), [0]
            print(f"part 1: {model} ({kind}), {args.sessions} sessions on {', '.join(pages)}", flush=True)
            await asyncio.gather(*(
                one_session(browser, url, model, pages, texts.next(), number, pid, finished, model_errors, gate, failing)
                for number in range(args.sessions)))
            seconds = [session["seconds"] for session in finished]
            per_model[model] = {
                "kind": kind,
                "pages": pages,
                "minutes": round((time.monotonic() - began) / 60, 1),
                "seconds_per_session_p50": round(statistics.median(seconds), 1) if seconds else None,
                "seconds_per_session_max": max(seconds, default=None),
                "rss_mb_before": round(before, 1),
                "rss_mb_peak": round(sampler.peak(since=began), 1),
                "rss_mb_final": round(rss_mb(pid), 1),
                "rss_mb_after_each_session": [session["rss_mb"] for session in finished],  # in the order they ended
                "slope_mb_per_session": round(_slope([session["rss_mb"] for session in finished]), 1),
                "errors": len(model_errors),
            }
            errors.extend(model_errors)
        await browser.close()
    return {"per_model": per_model, "errors": errors}


# ------------------------------------------------------------------ part 2


def _slope(values: list[float]) -> float:
    """Least-squares MB per step."""
    if len(values) < 2:
        return 0.0
    xs = range(len(values))
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(values)
    return (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values))
            / sum((x - mean_x) ** 2 for x in xs))


async def switches_part(url: str, pid: int, models: list[str], text: str, args) -> dict:
    after, seconds, errors = [], [], []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context, page = await open_with_text(browser, url, models[0], "attention", text)
        start_rss = rss_mb(pid)
        print(f"part 2: {args.switches} switches between {', '.join(models)}; RSS with the text shown {start_rss:.1f} MB",
              flush=True)
        failing = 0
        for number in range(1, args.switches + 1):
            if failing >= GIVE_UP_AFTER:
                errors.append(f"switches {number} to {args.switches}: not done, {failing} in a row had failed")
                break
            model = models[number % len(models)]
            started = time.perf_counter()
            try:
                await switch_model(page, model)
                errors.extend(await _errors_shown(page, f"switch {number} to {model}"))
                failing = 0
            except Exception as problem:  # noqa: BLE001
                failing += 1
                errors.append(f"switch {number} to {model}: {type(problem).__name__}: {str(problem)[:200]}")
                await page.keyboard.press("Escape")
            seconds.append(time.perf_counter() - started)
            after.append(round(rss_mb(pid), 1))
            print(f"  switch {number} to {model}: {seconds[-1]:.1f} s, server RSS {after[-1]} MB", flush=True)
        await context.close()
        await browser.close()
    window = after[-min(args.flat_window, max(len(after) - 1, 1)) - 1:] if len(after) > 1 else after
    slope = _slope(window)
    return {
        "models": models,
        "rss_mb_with_text_shown": round(start_rss, 1),
        "rss_mb_after_each_switch": after,
        "seconds_per_switch_p50": round(statistics.median(seconds), 2) if seconds else None,
        "window_switches": len(window) - 1,
        "growth_mb_over_window": round(window[-1] - window[0], 1) if window else 0.0,
        "slope_mb_per_switch_over_window": round(slope, 3),
        "fitted_growth_mb_over_window": round(slope * (len(window) - 1), 1),
        "errors": errors,
    }


# ------------------------------------------------------------------ main


def _tracebacks(log: Path) -> int:
    return log.read_text(errors="replace").count("Traceback") if log.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="sessions per model in part 1 (default 30)")
    parser.add_argument("--switches", type=int, default=50, help="model switches in part 2 (default 50)")
    parser.add_argument("--chars", type=int, default=20_000, help="characters of each session's text (default 20,000)")
    parser.add_argument("--pages", type=int, default=2, choices=(1, 2, 3),
                        help="pages each session draws: attention, then loss (GPT vs BERT for a masked model), "
                             "then next token (loss); default 2, to keep the run under half an hour on 2 cores")
    parser.add_argument("--concurrency", type=int, default=3, help="sessions open at once in part 1 (default 3)")
    parser.add_argument("--max-peak-mb", type=float, default=4000,
                        help="the bound on the server's peak RSS (default 4,000 MB: a 24 GB machine serving a class)")
    parser.add_argument("--max-growth-mb", type=float, default=50,
                        help="the bound on RSS growth over the last --flat-window switches (default 50 MB)")
    parser.add_argument("--flat-window", type=int, default=40, help="switches over which flatness is judged (default 40)")
    parser.add_argument("--settle", type=float, default=15, help="seconds to wait before the final RSS (default 15)")
    args = parser.parse_args()

    LOGS.mkdir(exist_ok=True)
    os.environ.setdefault("STREAMLIT_SERVER_FILE_WATCHER_TYPE", "none")  # the servers inherit it
    began = time.monotonic()
    models, skipped = present_models()
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}", flush=True)
    texts = LongTexts(args.chars)
    result = {
        "command_line": " ".join(["python", "bench/soak.py", *sys.argv[1:]]),
        "options": vars(args),
        "models": models,
        "skipped_models": skipped,
        "server_settings": {name: value for name, value in os.environ.items() if name.startswith("EXPLAINER_")}
        or "none set: the app's defaults",
        "texts": f"{args.chars:,} characters each, a different slice of data/austen/prose.json.gz for every session",
    }

    log = LOGS / "bench-soak-sessions.log"
    with streamlit_server(log) as (url, server):
        sampler = MemorySampler(server.pid)
        sampler.start()
        idle = rss_mb(server.pid)
        part = asyncio.run(sessions_part(url, server.pid, sampler, models, texts, args))
        closed = rss_mb(server.pid)
        time.sleep(args.settle)
        sampler.stop()
        result["sessions"] = {
            "sessions_per_model": args.sessions,
            "open_at_once": args.concurrency,
            "server_children": sampler.most_children,
            "rss_mb_idle": round(idle, 1),
            "per_model": part["per_model"],
            "rss_mb_peak": round(sampler.peak(), 1),
            "vm_hwm_mb": round(_status_mb(server.pid, "VmHWM"), 1),
            "rss_mb_when_the_last_session_closed": round(closed, 1),
            f"rss_mb_final_{args.settle:g}_s_later": round(rss_mb(server.pid), 1),
            "errors": len(part["errors"]),
            "error_samples": part["errors"][:10],
            "tracebacks_in_server_log": _tracebacks(log),
        }

    if len(models) < 2:
        result["switches"] = {"skipped": "fewer than two models present: nothing to switch between"}
        switch_peak = 0.0
    else:
        log = LOGS / "bench-soak-switches.log"
        with streamlit_server(log) as (url, server):
            sampler = MemorySampler(server.pid)
            sampler.start()
            idle = rss_mb(server.pid)
            part = asyncio.run(switches_part(url, server.pid, models, texts.next(), args))
            sampler.stop()
            switch_peak = max(sampler.peak(), _status_mb(server.pid, "VmHWM"))
            result["switches"] = {"rss_mb_idle": round(idle, 1), **part,
                                  "rss_mb_peak": round(sampler.peak(), 1),
                                  "vm_hwm_mb": round(_status_mb(server.pid, "VmHWM"), 1),
                                  "tracebacks_in_server_log": _tracebacks(log)}

    peak = max(result["sessions"]["rss_mb_peak"], result["sessions"]["vm_hwm_mb"], switch_peak)
    switches = result["switches"]
    growth = max(switches.get("growth_mb_over_window", 0.0), switches.get("fitted_growth_mb_over_window", 0.0))
    failures = result["sessions"]["errors"] + len(switches.get("errors", []))
    result["verdict"] = {
        "peak_rss_mb": round(peak, 1),
        "peak": f"{'PASS' if peak < args.max_peak_mb else 'FAIL'}: {peak:,.0f} MB against a bound of {args.max_peak_mb:,.0f} MB",
        "flat": (f"{'PASS' if growth < args.max_growth_mb else 'FAIL'}: {growth:+.1f} MB over the last "
                 f"{switches.get('window_switches', 0)} switches against a bound of {args.max_growth_mb:g} MB"),
        "errors": f"{'PASS' if not failures else 'FAIL'}: {failures} errors (timeouts, error boxes on a page)",
    }
    result["run_minutes"] = round((time.monotonic() - began) / 60, 1)
    save("soak", result)
    verdicts = [value for key, value in result["verdict"].items() if key != "peak_rss_mb"]
    for line in verdicts:
        print(line)
    return 0 if all(line.startswith("PASS") for line in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
