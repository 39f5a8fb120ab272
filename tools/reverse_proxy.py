"""Run deploy/nginx.conf for real: rendered with free loopback ports and started in a temporary prefix folder.

Shared by tests/test_reverse_proxy.py (one Streamlit server behind it) and
tests/test_replicas.py (two replicas). The committed file is used as it is,
but for the lines "listen 8080;" and the "server 127.0.0.1:<port> ...;" lines
of "upstream explainer", whose addresses are replaced (their max_fails and
fail_timeout are kept).
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from tools.browser_driver import ROOT, _free_port

NGINX = Path("/usr/sbin/nginx")
CONF = ROOT / "deploy" / "nginx.conf"
SHIPPED_REPLICAS = ["127.0.0.1:8501", "127.0.0.1:8502"]  # the upstream's server lines, as committed
NGINX_START_TIMEOUT = 20  # seconds until the proxy answers /_stcore/health
SERVER_LINE = re.compile(r"^(\s*)server (\S+)((?: [^;#]*)?);", re.MULTILINE)  # not "# server …" (a comment)


def render_config(listen_port: int, upstreams: list[str]) -> str:
    """The committed config listening on 127.0.0.1:<listen_port>, with ``upstreams`` (host:port) as its replicas.

    The committed server lines are replaced in order; the ones beyond ``len(upstreams)`` are left out.
    """
    text = CONF.read_text()
    # The directive itself, not a comment that mentions it.
    text, found = re.subn(r"^(\s*)listen 8080;", rf"\g<1>listen 127.0.0.1:{listen_port};", text, flags=re.MULTILINE)
    assert found == 1, "deploy/nginx.conf should have the line 'listen 8080;' exactly once"
    shipped = [match[2] for match in SERVER_LINE.finditer(text)]
    assert shipped == SHIPPED_REPLICAS, f"deploy/nginx.conf's upstream should list {SHIPPED_REPLICAS}, not {shipped}"
    assert 1 <= len(upstreams) <= len(shipped), f"{len(upstreams)} upstreams for {len(shipped)} server lines"
    replacements = iter(upstreams)

    def replace(match: re.Match) -> str:
        address = next(replacements, None)
        return "" if address is None else f"{match[1]}server {address}{match[3]};"

    return SERVER_LINE.sub(replace, text)


def request(port: int, path: str, method: str = "GET", headers: dict | None = None, host: str = "127.0.0.1"):
    """One HTTP/1.1 request to 127.0.0.1:<port>; return the status, the headers and the body."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@contextmanager
def nginx_proxy(prefix: Path, upstreams: list[str]):
    """Debian's nginx with deploy/nginx.conf on a free loopback port in front of ``upstreams``; yield its port.

    ``prefix`` is its folder: the rendered nginx.conf, logs/ (access.log, error.log) and temporary folders.
    """
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    port = _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_config(port, upstreams))
    # In the foreground, so that the process we started is nginx's master; as root, nginx would
    # run its workers as "nobody", who cannot enter pytest's private temp folder.
    globals_ = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    command = [str(NGINX), "-p", str(prefix), "-c", str(conf), "-g", globals_]
    check = subprocess.run([*command[:-2], "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    with (prefix / "logs" / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(command, stdout=stderr, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + NGINX_START_TIMEOUT
        while True:
            if process.poll() is not None:
                logs = "\n".join(p.read_text() for p in (prefix / "logs").glob("*.log"))
                raise RuntimeError(f"nginx exited with code {process.returncode}:\n{logs}")
            try:
                if request(port, "/_stcore/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not pass /_stcore/health on within {NGINX_START_TIMEOUT} s; see {prefix}/logs")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()  # SIGTERM to the master: a fast shutdown, its workers stop with it
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
