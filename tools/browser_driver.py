"""Drive the app in headless Chromium: start a Streamlit server, type a prompt, wait for the charts.

Shared by the browser tests (tests/browser) and the benchmarks (bench/).
Chromium is Debian's (/usr/bin/chromium): Playwright's own download is never used.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT = 60  # seconds until /_stcore/health answers "ok"
VIEWPORT = {"width": 1400, "height": 1000}
PROJECTOR = {"width": 1280, "height": 720}  # a classroom projector
RUN_TIMEOUT = 90_000  # ms: generous, for a CPU shared with other work
TEXTAREA = ".st-key-prompt textarea"  # the sidebar's text, in any language
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PLOT = ".js-plotly-plot"
# Polled on a timer: a background tab gets no animation frames, so Playwright's default polling would stall.
# Returns how many charts are shown once more than ``more`` are and every one has drawn its SVG, else false.
CHARTS_DRAWN = f"""more => {{
    const shown = Array.from(document.querySelectorAll('{PLOT}')).filter(p => p.offsetParent !== null);
    return shown.length > more && shown.every(p => {{
        const svg = p.querySelector('.main-svg');
        return svg && svg.getBoundingClientRect().width > 0;
    }}) && shown.length;
}}"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextmanager
def streamlit_server(log_path: Path, script: str = "serve.py", cpus: str | None = None):
    """Run ``streamlit run <script>`` on a free port (pinned to the cores ``cpus``, e.g. ``"0"``, with taskset when
    given); yield its base URL and process; stop its whole process group."""
    with streamlit_servers([log_path], script, cpus) as [(url, process)]:
        yield url, process


@contextmanager
def streamlit_servers(log_paths: list[Path], script: str = "serve.py", cpus: str | None = None):
    """Run one ``streamlit run <script>`` per log file, each on a free port, started together (replicas).

    Yield a list of (base URL, process) once every one answers its health check; stop them all at the end.
    """
    servers: list[tuple[str, subprocess.Popen]] = []
    try:
        for log_path in log_paths:
            port = _free_port()
            command = [
                *(["taskset", "-c", cpus] if cpus else []),
                sys.executable, "-m", "streamlit", "run", script,
                "--server.port", str(port),
                "--server.address", "127.0.0.1",
                "--server.headless", "true",
                "--browser.gatherUsageStats", "false",
            ]
            with log_path.open("w") as log:
                process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            servers.append((f"http://127.0.0.1:{port}", process))
        deadline = time.monotonic() + SERVER_START_TIMEOUT * len(servers)  # they share the CPU while they start
        for (url, process), log_path in zip(servers, log_paths):
            while not _healthy(url):
                if process.poll() is not None:
                    raise RuntimeError(f"streamlit exited with code {process.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"streamlit did not answer {url}/_stcore/health within {SERVER_START_TIMEOUT} s; see {log_path}")
                time.sleep(0.5)
        yield servers
    finally:
        for _, process in servers:
            stop_server(process)


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server started by ``streamlit_servers`` (its whole process group): SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def wait_until_idle(page, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until the app is connected and no script run is going on."""
    page.wait_for_selector(APP_IDLE, timeout=timeout)
    page.locator(TEXTAREA).wait_for(state="visible", timeout=timeout)


def main_text_contains(page, text: str, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until the page body (HTML, Plotly SVG text) shows ``text``."""
    page.wait_for_function(
        "text => (document.querySelector('[data-testid=\"stMain\"]') || {textContent: ''}).textContent.includes(text)",
        arg=text,
        timeout=timeout,
    )


def open_on_projector(page, path: str) -> None:
    """Open ``path`` at a projector's 1280×720 and wait until its run has finished."""
    page.set_viewport_size(PROJECTOR)
    page.goto(path, timeout=RUN_TIMEOUT)
    wait_until_idle(page)


def wait_for_charts(page, timeout: float = RUN_TIMEOUT, more_than: int = 0) -> int:
    """Wait until more than ``more_than`` Plotly charts outside hidden tabs are shown, each with its SVG drawn;
    return how many are shown."""
    return page.wait_for_function(CHARTS_DRAWN, arg=more_than, timeout=timeout, polling=250).json_value()


def commit_prompt(page, text: str) -> float:
    """Type ``text`` into the sidebar and commit it with Ctrl+Enter; return the commit time."""
    box = page.locator(TEXTAREA)
    box.fill(text)
    committed = time.perf_counter()
    box.press("Control+Enter")
    return committed


def url_text(page) -> str | None:
    values = parse_qs(urlparse(page.url).query, keep_blank_values=True).get("text")
    return values[0] if values else None


def wait_for_rerun(page, text: str) -> None:
    """Wait until the app has taken ``text`` (it is then in the URL) and its run has finished."""
    page.wait_for_function(
        "text => new URLSearchParams(location.search).get('text') === text", arg=text, timeout=RUN_TIMEOUT
    )
    page.wait_for_selector(APP_IDLE, timeout=RUN_TIMEOUT)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MiB (Linux /proc)."""
    total_kb, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total_kb += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        pending.extend(int(child) for child in children)
    return total_kb / 1024


def screenshot(page, path: Path) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside <main>, so grow the viewport to fit it first."""
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(
            ...['stMain', 'stSidebarContent'].map(
                id => (document.querySelector(`[data-testid="${id}"]`) || {scrollHeight: 0}).scrollHeight),
            window.innerHeight)"""
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 20, 12_000)})
    page.wait_for_timeout(600)  # Plotly and the iframes re-lay out on resize
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    print(f"  screenshot: {path.relative_to(path.parents[2])}")
