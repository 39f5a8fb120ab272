"""deploy/nginx.conf, run for real: a Streamlit server and Debian's nginx on free loopback ports.

The test renders the committed config with its own ports (the line
"listen 8080;" and the upstream's server lines are replaced, by one server:
see tools/reverse_proxy.py), runs nginx with a temporary prefix folder (pid
file, logs and temp folders all in it) and checks,
through the proxy, the security headers, the health endpoint, Streamlit's
websocket upgrade, the upload limit and the sticky-session cookie; and, when
Chromium is there, that a browser draws the app through it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import socket
import time
import tomllib

import pytest

from tools.browser_driver import ROOT, TEXTAREA, VIEWPORT, streamlit_server
from tools.reverse_proxy import CONF, NGINX, nginx_proxy, render_config, request

STREAMLIT_CONFIG = ROOT / ".streamlit" / "config.toml"

pytestmark = [
    pytest.mark.skipif(not NGINX.exists(), reason="nginx not installed: apt-get install -y nginx (/usr/sbin/nginx)"),
    pytest.mark.slow,
]

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455


def websocket_handshake(port: int, host: str, origin: str | None = None) -> tuple[str, dict[str, str], str]:
    """Ask for a websocket on /_stcore/stream as a browser does; return the status line, the headers and the key sent.

    The connection is closed right after the answer: Streamlit then forgets the
    session before any script run has been asked for.
    """
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: streamlit",  # the browser's first subprotocol entry; Streamlit answers with it
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())  # the first one; duplicates are checked elsewhere
    return head[0], headers, key


def expected_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


def assert_security_headers(headers) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get_all(name) == [value], f"{name}: {headers.get_all(name)}"


@pytest.fixture(scope="module")
def upstream_port(tmp_path_factory) -> int:
    """One Streamlit server on a free loopback port (the browser tests' helper); yield its port."""
    log = tmp_path_factory.mktemp("streamlit") / "streamlit-server.log"
    with streamlit_server(log) as (url, _):
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def proxy_port(tmp_path_factory, upstream_port) -> int:
    """nginx with deploy/nginx.conf on a free loopback port in front of the Streamlit server; yield its port."""
    with nginx_proxy(tmp_path_factory.mktemp("nginx"), [f"127.0.0.1:{upstream_port}"]) as port:
        yield port


def test_home_page_through_the_proxy_has_every_security_header(proxy_port, upstream_port):
    status, headers, body = request(proxy_port, "/")
    assert status == 200
    assert b"<html" in body.lower()
    assert_security_headers(headers)
    assert headers["Server"] == "nginx", "server_tokens off: no version in the Server header"
    # They are the proxy's: Streamlit sends none of them itself.
    _, direct, _ = request(upstream_port, "/")
    assert not any(name in direct for name in SECURITY_HEADERS)


def test_health_endpoint_through_the_proxy(proxy_port):
    status, headers, body = request(proxy_port, "/_stcore/health")
    assert (status, body) == (200, b"ok")
    assert_security_headers(headers)
    assert any(cookie.startswith("_streamlit_xsrf=") for cookie in headers.get_all("Set-Cookie")), \
        "Streamlit's XSRF cookie passes through"


def test_error_pages_have_the_security_headers_too(proxy_port):
    """An upload over client_max_body_size: nginx itself answers 413, before any byte of the body is sent."""
    limit = re.search(r"^\s*client_max_body_size\s+(\d+)m;", CONF.read_text(), re.MULTILINE)
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
    try:
        connection.putrequest("PUT", "/_stcore/upload_file/some-session/some-file")
        connection.putheader("Content-Length", str(int(limit[1]) * 1024 * 1024 + 1))
        connection.endheaders()
        response = connection.getresponse()
        status, headers, body = response.status, response.headers, response.read()
    finally:
        connection.close()
    assert status == 413
    assert_security_headers(headers)
    assert b"nginx/" not in body, "server_tokens off: no version on error pages"


def test_upload_limit_matches_streamlits():
    """client_max_body_size is server.maxUploadSize (MB), so nginx and Streamlit turn the same files away."""
    limit = re.search(r"^\s*client_max_body_size\s+(\S+);", CONF.read_text(), re.MULTILINE)[1]
    streamlit = tomllib.loads(STREAMLIT_CONFIG.read_text())["server"]["maxUploadSize"]
    assert limit == f"{streamlit}m"


@pytest.mark.parametrize("via", ["streamlit directly", "the proxy"])
def test_websocket_upgrade(via, proxy_port, upstream_port):
    """A browser-like upgrade on /_stcore/stream gets 101, with and without an Origin of the page's own address."""
    port = proxy_port if via == "the proxy" else upstream_port
    host = f"127.0.0.1:{port}"
    for origin in (None, f"http://{host}"):
        status, headers, key = websocket_handshake(port, host, origin)
        assert status == "HTTP/1.1 101 Switching Protocols", (origin, status)
        assert headers["upgrade"].lower() == "websocket"
        assert headers["sec-websocket-accept"] == expected_accept(key)
        assert headers["sec-websocket-protocol"] == "streamlit"
        if via == "the proxy":
            assert {name: headers.get(name.lower()) for name in SECURITY_HEADERS} == SECURITY_HEADERS


@pytest.mark.parametrize("via", ["streamlit directly", "the proxy"])
def test_websocket_from_a_server_name(via, proxy_port, upstream_port):
    """Students reach the server by its name: Streamlit accepts the websocket when Origin matches Host.

    It compares the Origin's host:port with the Host header, so the proxy must pass
    the browser's Host on unchanged ($http_host; nginx's $host would drop the port).
    """
    port = proxy_port if via == "the proxy" else upstream_port
    host = f"classroom.example:{port}"
    status, _, _ = websocket_handshake(port, host, origin=f"http://{host}")
    assert status == "HTTP/1.1 101 Switching Protocols"


def test_config_renders_with_one_or_two_replicas():
    """The test's rendering of the config: the listen line and the upstream's server lines, their options kept."""
    one, two = render_config(1111, ["127.0.0.1:2222"]), render_config(1111, ["127.0.0.1:2222", "127.0.0.1:3333"])
    servers = re.compile(r"^\s*server (\S+) max_fails=1 fail_timeout=\d+s;", re.MULTILINE)
    assert servers.findall(one) == ["127.0.0.1:2222"]
    assert servers.findall(two) == ["127.0.0.1:2222", "127.0.0.1:3333"]
    assert re.findall(r"^\s*listen (\S+);", one, re.MULTILINE) == ["127.0.0.1:1111"]


def test_sticky_session_cookie(proxy_port):
    """A browser's first answer sets the explainer_route cookie (the replica key); later ones don't change it."""
    _, headers, _ = request(proxy_port, "/")
    routes = [cookie for cookie in headers.get_all("Set-Cookie") or [] if cookie.startswith("explainer_route=")]
    assert len(routes) == 1
    value = re.fullmatch(r"explainer_route=([0-9a-f]{32}); Path=/; HttpOnly; SameSite=Lax", routes[0])
    assert value, routes[0]
    status, again, _ = request(proxy_port, "/", headers={"Cookie": f"explainer_route={value[1]}"})
    assert status == 200
    assert not any(cookie.startswith("explainer_route=") for cookie in again.get_all("Set-Cookie") or [])


@pytest.mark.browser
def test_browser_draws_the_app_and_uploads_a_file_through_the_proxy(proxy_port, tmp_path, browser):
    """The page over the websocket, then a file upload (an XSRF-checked PUT to the session's replica)."""
    url = f"http://127.0.0.1:{proxy_port}/"
    text_file = tmp_path / "my_text.txt"
    text_file.write_text("It is a truth universally acknowledged. " * 200)
    page = browser.new_page(viewport=VIEWPORT)
    try:
        started = time.perf_counter()
        response = page.goto(url, timeout=60_000)
        assert response.status == 200
        assert {name: response.headers.get(name.lower()) for name in SECURITY_HEADERS} == SECURITY_HEADERS
        # The title and the sidebar's text box come over the websocket, once app.py has run.
        page.wait_for_function("document.title === 'Inside a language model'", timeout=120_000)
        page.locator(TEXTAREA).wait_for(state="visible", timeout=120_000)
        print(f"\n  through the proxy: home page drawn in {time.perf_counter() - started:.1f} s")

        page.goto(f"{url}pretraining", timeout=60_000)
        page.get_by_text("Your own text (paste or upload)").click(timeout=120_000)
        upload_input = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        upload_input.wait_for(state="attached", timeout=120_000)
        with page.expect_response(lambda r: "/_stcore/upload_file/" in r.url and r.request.method == "PUT",
                                  timeout=60_000) as upload:
            upload_input.set_input_files(str(text_file))
        assert upload.value.status in (200, 204), upload.value.status
    finally:
        page.close()  # the browser is the session's (tests/conftest.py)
