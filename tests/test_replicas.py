"""Two Streamlit replicas of app.py behind the committed deploy/nginx.conf, with sticky sessions, run for real.

Two servers on free loopback ports and Debian's nginx in front of them
(tools/reverse_proxy.py renders the config with both as the upstream's servers;
everything else, the sticky cookie, max_fails and proxy_next_upstream, is the
shipped file). The access log's "upstream=" and "route=" fields (the shipped
log_format) say which replica answered each request of each browser.

- new browsers are spread over both replicas, and a browser's cookie keeps it on one;
- a browser session keeps its replica, its one websocket and its language over 20 prompts;
- when a replica stops, a new browser and a reloaded old one both get a working page from the other.

The test that stops a replica is the last of the module: the replicas are the module's.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.browser_driver import (
    APP_IDLE,
    CHROMIUM,
    RUN_TIMEOUT,
    TEXTAREA,
    VIEWPORT,
    commit_prompt,
    main_text_contains,
    stop_server,
    streamlit_servers,
    url_text,
    wait_for_charts,
    wait_for_rerun,
    wait_until_idle,
)
from tools.reverse_proxy import NGINX, nginx_proxy, request

pytestmark = [
    pytest.mark.skipif(not NGINX.exists(), reason="nginx not installed: apt-get install -y nginx (/usr/sbin/nginx)"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed: apt-get install -y chromium"),
    pytest.mark.slow,
]

UPDATES = 20
WORDS = ["Pemberley", "Netherfield", "Longbourn", "Rosings", "Hartfield", "Highbury", "Mansfield", "Norland", "Barton",
         "Kellynch", "Uppercross", "Bath", "Lyme", "Northanger", "Woodston", "Donwell", "Randalls", "Meryton",
         "Hunsford", "Cleveland"]
PROMPTS = [f"Update {number}: they drove to {word}" for number, word in enumerate(WORDS[:UPDATES], start=1)]
CHINESE_TEXT_LABEL = "你的文字"  # the sidebar's "Your text" in Chinese (locales/zh)
LOG_LINE = re.compile(r'"(?P<method>\S+) (?P<path>\S+)[^"]*" (?P<status>\d+) \d+ upstream=(?P<upstream>.*) route=(?P<route>\S*)$')


@dataclass(frozen=True)
class LogLine:
    path: str
    status: int
    upstreams: tuple[str, ...]  # the replicas nginx tried, in order: the last one answered
    route: str

    @property
    def replica(self) -> str:
        return self.upstreams[-1]


@dataclass(frozen=True)
class Proxy:
    port: int
    access_log: Path
    replicas: tuple[str, ...]  # host:port of each replica, in the upstream's order

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self, route: str | None = None, after: int = 0) -> list[LogLine]:
        """The access log's lines from line ``after`` on (of one browser's route, if given)."""
        found = []
        for text in self.access_log.read_text().splitlines()[after:]:
            match = LOG_LINE.search(text)
            assert match, f"an access log line not in the shipped log_format: {text}"
            line = LogLine(match["path"], int(match["status"]), tuple(match["upstream"].split(", ")), match["route"])
            if route is None or line.route == route:
                found.append(line)
        return found

    def line_count(self) -> int:
        return len(self.access_log.read_text().splitlines())


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """Two Streamlit servers of app.py, started together; yield their (URL, process) pairs."""
    folder = tmp_path_factory.mktemp("replicas")
    with streamlit_servers([folder / "replica-1.log", folder / "replica-2.log"]) as servers:
        yield servers


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, replicas) -> Proxy:
    """nginx with deploy/nginx.conf, both replicas in its upstream."""
    prefix = tmp_path_factory.mktemp("nginx")
    addresses = tuple(url.removeprefix("http://") for url, _ in replicas)
    with nginx_proxy(prefix, list(addresses)) as port:
        yield Proxy(port, prefix / "logs" / "access.log", addresses)


def route_cookie(context) -> str:
    routes = [cookie["value"] for cookie in context.cookies() if cookie["name"] == "explainer_route"]
    assert len(routes) == 1, f"the browser should hold one explainer_route cookie: {context.cookies()}"
    return routes[0]


def assert_page_works(page) -> None:
    """The app ran and drew its charts, with no error on the page."""
    wait_until_idle(page)
    assert wait_for_charts(page) > 0
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_new_browsers_are_spread_over_both_replicas_and_a_cookie_keeps_one(proxy):
    """Browsers without a cookie land on both replicas (the upstream has both); one cookie always lands on one."""
    routes = []
    for _ in range(30):
        status, headers, body = request(proxy.port, "/_stcore/health")
        assert (status, body) == (200, b"ok")
        cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith("explainer_route="))
        routes.append(cookie.split(";")[0].split("=", 1)[1])
    served = {line.route: line.replica for line in proxy.lines() if line.route in routes}
    assert set(served) == set(routes)
    assert set(served.values()) == set(proxy.replicas), f"30 new browsers all went to {set(served.values())}"

    for route in routes[:2]:
        before = proxy.line_count()
        for _ in range(10):
            assert request(proxy.port, "/_stcore/health", headers={"Cookie": f"explainer_route={route}"})[0] == 200
        assert {line.replica for line in proxy.lines(route, after=before)} == {served[route]}


def test_a_session_keeps_its_replica_websocket_and_language_over_20_updates(browser, proxy):
    """20 prompts typed in one tab: each is shown, the language chosen at the start stays, and every
    request of this browser, the one websocket included, went to one replica."""
    context = browser.new_context(viewport=VIEWPORT, base_url=proxy.url)
    streams = []
    try:
        page = context.new_page()
        page.on("websocket", lambda socket: streams.append(socket.url) if "/_stcore/stream" in socket.url else None)
        page.goto("/tokenization", timeout=RUN_TIMEOUT)
        wait_until_idle(page)
        page.locator('[data-testid="stSidebar"] button', has_text="中文").click()
        page.wait_for_function("new URLSearchParams(location.search).get('lang') === 'zh'", timeout=RUN_TIMEOUT)
        page.wait_for_selector(f'{APP_IDLE} {TEXTAREA}[aria-label="{CHINESE_TEXT_LABEL}"]', timeout=RUN_TIMEOUT)
        route = route_cookie(context)

        started = time.perf_counter()
        for prompt in PROMPTS:
            commit_prompt(page, prompt)
            wait_for_rerun(page, prompt)
            main_text_contains(page, prompt.rsplit(" ", 1)[1])  # the place's name, in the token chips
            assert url_text(page) == prompt
            assert page.locator(TEXTAREA).input_value() == prompt
            assert page.locator(TEXTAREA).get_attribute("aria-label") == CHINESE_TEXT_LABEL, "the language was lost"
            assert "lang=zh" in page.url
        print(f"\n  {UPDATES} updates through nginx in {time.perf_counter() - started:.1f} s")
        assert len(streams) == 1, f"the tab opened {len(streams)} websockets: it reconnected, perhaps to another replica"
    finally:
        context.close()

    deadline = time.monotonic() + 10  # nginx writes a websocket's line when it closes
    while not [line for line in proxy.lines(route) if line.path == "/_stcore/stream"] and time.monotonic() < deadline:
        time.sleep(0.2)
    lines = proxy.lines(route)
    sockets = [line for line in lines if line.path == "/_stcore/stream"]
    assert [line.status for line in sockets] == [101], sockets
    assert len(lines) > 5, lines  # the page, its scripts, the health check and the websocket
    served = Counter(line.upstreams for line in lines)
    assert len(served) == 1, f"one browser's requests went to several replicas: {served}"
    assert lines[0].replica in proxy.replicas
    # Each run's CSV downloads live in its replica's memory: on any other replica they would be 404s.
    media = [line for line in lines if line.path.startswith("/media/")]
    assert media and all(line.status == 200 for line in media), media


def test_a_stopped_replica_sends_new_and_old_browsers_to_the_other(browser, proxy, replicas):
    """Stop the replica a first browser uses: a new browser and the first one, reloaded, both work on the other."""
    old = browser.new_context(viewport=VIEWPORT, base_url=proxy.url)
    new = browser.new_context(viewport=VIEWPORT, base_url=proxy.url)
    try:
        old_tab = old.new_page()
        old_tab.goto("/tokenization", timeout=RUN_TIMEOUT)
        assert_page_works(old_tab)
        old_route = route_cookie(old)
        (stopped,) = {line.replica for line in proxy.lines(old_route)}
        survivor = next(address for address in proxy.replicas if address != stopped)
        stop_server(next(process for url, process in replicas if url.endswith(stopped)))
        time.sleep(0.5)  # the old tab's websocket line (to the stopped replica) is written as it closes
        after = proxy.line_count()

        new_tab = new.new_page()
        new_tab.goto("/tokenization", timeout=RUN_TIMEOUT)
        assert_page_works(new_tab)
        old_tab.reload(timeout=RUN_TIMEOUT)
        assert_page_works(old_tab)

        new_lines, old_lines = proxy.lines(route_cookie(new), after), proxy.lines(old_route, after)
        assert new_lines and old_lines
        assert {line.replica for line in new_lines + old_lines} == {survivor}, new_lines + old_lines
        assert all(line.status < 500 for line in new_lines + old_lines), new_lines + old_lines
        # The old browser's cookie still points at the stopped replica: nginx tried it first, then the survivor
        # (or, once it has marked it as failed, went straight to the survivor).
        assert all(line.upstreams in ((survivor,), (stopped, survivor)) for line in old_lines), old_lines
        assert route_cookie(old) == old_route, "the browser keeps its key; only the replica behind it changed"
    finally:
        old.close()
        new.close()
