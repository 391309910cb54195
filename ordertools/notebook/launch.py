"""Opening the store dashboard in a browser: Voila (a clean page) or JupyterLab.

The server runs as a child process on this order book (`ORDERTOOLS_DB` in its environment, never
on its command line: a PostgreSQL URL may hold a password) and stops with Ctrl-C.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import Engine

from ordertools.db import ENV_VAR
from ordertools.errors import ConfigurationError
from ordertools.queries.links import VOILA_URL_ENV
from ordertools.runs.notebooks import notebooks_dir

VOILA_PORT = 8866


def free_port(preferred: int = 0) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def voila_command(folder: Path, port: int) -> list[str]:
    """Voila serving every notebook in `folder` (the dashboard links to order.ipynb)."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(folder),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        # A page's kernel ends with the page; a dashboard tab left open keeps its own.
        "--MappingKernelManager.cull_idle_timeout=0",
    ]


def dashboard_url(base: str, store: str) -> str:
    return f"{base}/voila/render/store_dashboard.ipynb?store={quote(store, safe='')}"


def server_env(engine: Engine, voila_base: str) -> dict[str, str]:
    env = dict(os.environ)
    env[ENV_VAR] = engine.url.render_as_string(hide_password=False)
    env[VOILA_URL_ENV] = voila_base
    return env


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ConfigurationError(f"the dashboard server did not start on port {port}")


def open_dashboard(
    engine: Engine, store: str, open_with: str = "voila", *, echo: Callable[[str], None] = print
) -> None:
    """Serve the dashboard, open it in the browser, and wait for Ctrl-C."""
    folder = notebooks_dir()
    port = free_port(VOILA_PORT)
    voila_base = f"http://localhost:{port}"
    env = server_env(engine, voila_base)
    # Voila serves the dashboard, and the order pages its links open, in both cases.
    servers = [subprocess.Popen(voila_command(folder, port), env=env)]
    if open_with == "lab":
        lab_port = free_port(8888)
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            f"--port={lab_port}",
            f"--ServerApp.root_dir={folder}",
            "--ServerApp.default_url=/lab/tree/store_dashboard.ipynb",
        ]
        servers.append(subprocess.Popen(command, env=env))
        echo(f'JupyterLab opens store_dashboard.ipynb: set store = "{store}" and run all cells.')
    else:
        wait_for_port(port)
        url = dashboard_url(voila_base, store)
        echo(f"The store dashboard of {store}: {url}")
        webbrowser.open(url)
    echo("Press Ctrl-C to stop (the demo Amazon keeps running until then, so Sync now works).")
    try:
        while all(server.poll() is None for server in servers):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)
