"""Serving the notebooks: `ordertools serve` for a team, `demo --open` in this browser.

Both run the same dashboard server (`serve_app`: Voila with a sign-in) as a child process on
this order book. What is secret reaches it in its environment, never on its command line, which
`ps` shows every user: `ORDERTOOLS_DB` (a PostgreSQL URL may hold a password) and the sign-in
token. This process supervises it: Ctrl-C or SIGTERM stops the server, which stops every kernel
before it exits, and a server that outlives this process stops by itself.
"""

from __future__ import annotations

import html
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy.engine import Engine

from ordertools.db import ENV_VAR
from ordertools.errors import ConfigurationError
from ordertools.queries.links import VOILA_URL_ENV
from ordertools.runs.notebooks import notebooks_dir

VOILA_PORT = 8866
TOKEN_ENV = "ORDERTOOLS_DASHBOARD_TOKEN"
TOKEN_FILE_ENV = "ORDERTOOLS_DASHBOARD_TOKEN_FILE"
MIN_TOKEN_LENGTH = 16
# The notebooks the server renders (its tree lists only these): the pages ops staff open. The
# sync and reconcile notebooks are scheduled runs (`ordertools run`), not pages.
PAGES = ("stores.ipynb", "store_dashboard.ipynb", "order.ipynb")
# Where the server's root leads: this page once the folder has it, else the list of pages.
LANDING = "stores.ipynb"
# What JupyterLab's file browser leaves out of the notebooks folder: the regression tests'
# helpers, caches, checkpoints. Ops staff see the notebooks.
LAB_HIDDEN = ["__pycache__", "*.pyc", ".ipynb_checkpoints", "*.py", "*.cfg"]
KERNEL_IDLE = 600
# JupyterHub starts a service with its address and prefix in these (and a Hub API token).
HUB_URL_ENV = "JUPYTERHUB_SERVICE_URL"
HUB_PREFIX_ENV = "JUPYTERHUB_SERVICE_PREFIX"
STOP_GRACE = 30.0  # seconds the server gets to stop its kernels before it is killed


@dataclass(frozen=True)
class ServeOptions:
    """Where and how the server listens; `kernel_idle`: seconds before a closed tab's kernel
    ends (open tabs keep theirs)."""

    host: str = "127.0.0.1"
    port: int = VOILA_PORT
    base_url: str = "/"
    kernel_idle: int = KERNEL_IDLE
    preheat: int = 0  # kernels started ahead per page (see `serve_app.DashboardServer.preheat`)

    def __post_init__(self):
        object.__setattr__(self, "base_url", normal_base_url(self.base_url))

    @property
    def local_host(self) -> str:
        """Where this machine reaches the server (every interface: through loopback)."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)

    @property
    def url(self) -> str:
        return self._url(self.local_host)

    @property
    def public_url(self) -> str:
        """Where others reach it, for the links pages render (ORDERTOOLS_VOILA_URL, when set,
        names the address behind a proxy instead)."""
        wildcard = self.host in ("0.0.0.0", "::", "")
        return self._url(socket.getfqdn() if wildcard else self.host)

    def _url(self, host: str) -> str:
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{self.base_url}"


def normal_base_url(path: str) -> str:
    """`ordertools` or `/ordertools` -> `/ordertools/`, as Voila wants it."""
    path = path.strip().strip("/")
    if any(c in path for c in "?#\\ ") or "//" in path:
        raise ConfigurationError(f"--base-url {path!r} is no URL path: give one like /ordertools/")
    return f"/{path}/" if path else "/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_token(environ=os.environ) -> str | None:
    """The sign-in token: `ORDERTOOLS_DASHBOARD_TOKEN`, or the chmod-600 file that
    `ORDERTOOLS_DASHBOARD_TOKEN_FILE` names; None when neither is set."""
    value = environ.get(TOKEN_ENV, "").strip()
    file = environ.get(TOKEN_FILE_ENV, "").strip()
    if value and file:
        raise ConfigurationError(f"set {TOKEN_ENV} or {TOKEN_FILE_ENV}, not both")
    if file:
        value = read_token_file(Path(file))
    if not value:
        return None
    if len(value) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"the sign-in token is shorter than {MIN_TOKEN_LENGTH} characters: make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return value


def read_token_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise ConfigurationError(
                f"the token file {path} can be read by other users: chmod 600 {path}"
            )
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the token file {path} ({exc.strerror}): check {TOKEN_FILE_ENV}"
        ) from None
    if not value:
        raise ConfigurationError(f"the token file {path} is empty: write the token into it")
    return value


def with_token(url: str, token: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}token={quote(token, safe='')}"


def free_port(preferred: int = 0) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.create_server((host, port), family=family).close()
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigurationError(
            f"cannot serve on {host}:{port} ({reason}): pick another --port or --host"
        ) from None


def voila_command(folder: Path, port: int) -> list[str]:
    """Plain Voila on 127.0.0.1, no sign-in: the browser test's server (not for a team)."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(folder),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--MappingKernelManager.cull_idle_timeout=0",
    ]


def server_command(folder: Path, options: ServeOptions) -> list[str]:
    """The dashboard server (`serve_app`); nothing secret in it."""
    return [
        sys.executable,
        "-m",
        "ordertools.notebook.serve_app",
        str(folder),
        f"--port={options.port}",
        f"--Voila.ip={options.host}",
        f"--Voila.base_url={options.base_url}",
        f"--MappingKernelManager.cull_idle_timeout={options.kernel_idle}",
        f"--MappingKernelManager.cull_interval={max(1, min(60, options.kernel_idle // 2))}",
        "--MappingKernelManager.cull_connected=False",
        *([f"--DashboardServer.preheat={options.preheat}"] if options.preheat else []),
    ]


def dashboard_url(base: str, store: str) -> str:
    return f"{base.rstrip('/')}/voila/render/store_dashboard.ipynb?store={quote(store, safe='')}"


def server_env(engine: Engine, voila_base: str) -> dict[str, str]:
    env = dict(os.environ)
    env[ENV_VAR] = engine.url.render_as_string(hide_password=False)
    # Links to order pages: a proxy's public address when the user set one, else this server.
    env[VOILA_URL_ENV] = os.environ.get(VOILA_URL_ENV) or voila_base
    env.pop(TOKEN_FILE_ENV, None)
    env.pop("QUERY_STRING", None)  # a kernel's parameters come from its page's address only
    return env


def wait_for_port(port: int, timeout: float = 60.0, host: str = "127.0.0.1", process=None) -> None:
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ConfigurationError(
                f"the dashboard server exited (status {process.returncode}) before serving "
                f"on port {port}: its lines above say why"
            )
        with socket.socket(family) as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise ConfigurationError(f"the dashboard server did not start on port {port}")


@dataclass
class Server:
    process: subprocess.Popen
    url: str  # the base address, ending in "/"


@contextmanager
def dashboard_server(
    engine: Engine,
    options: ServeOptions,
    token: str | None,
    folder: Path | None = None,
    **popen,
) -> Iterator[Server]:
    """The dashboard server on `folder` (default: the package's notebooks), serving for the
    duration; stopped with every kernel after it. `token` None: JupyterHub signs people in."""
    check_port_free(options.host, options.port)
    env = server_env(engine, options.public_url)
    env.pop(TOKEN_ENV, None)
    if token is not None:
        env[TOKEN_ENV] = token
    # Its own session: a terminal's Ctrl-C reaches this process only, which then stops the
    # server once and in order (a second signal in the middle could cut its kernels' shutdown).
    process = subprocess.Popen(
        server_command(folder or notebooks_dir(), options),
        env=env,
        start_new_session=True,
        **popen,
    )
    try:
        wait_for_port(options.port, host=options.local_host, process=process)
        yield Server(process, options.url)
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM, and the server's time to end its kernels; killed if it takes longer (its
    kernels then end by themselves: each watches its parent)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        process.kill()
        process.wait()


def until_stopped(*processes: subprocess.Popen) -> None:
    """Serve until Ctrl-C or SIGTERM; a server that ends by itself is an error."""
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as `stops.Terminated`
        return
    ended = next(process for process in processes if process.returncode is not None)
    raise ConfigurationError(
        f"{'JupyterLab' if ended is not processes[0] else 'the dashboard server'} stopped by "
        f"itself (status {ended.returncode}): its lines above say why"
    )


def hub_service(options: ServeOptions) -> ServeOptions | None:
    """Started by JupyterHub as a managed service: where the Hub said to listen (the Hub's
    proxy sends `/services/NAME/` there); None otherwise."""
    if not (os.environ.get("JUPYTERHUB_API_TOKEN") and os.environ.get(HUB_PREFIX_ENV)):
        return None
    bind = urlsplit(os.environ.get(HUB_URL_ENV, ""))
    return replace(
        options,
        host=bind.hostname or options.host,
        port=bind.port or options.port,
        base_url=os.environ[HUB_PREFIX_ENV],
    )


def serve_dashboard(
    engine: Engine, options: ServeOptions, *, echo: Callable[[str], None] = print
) -> None:
    """`ordertools serve`: the dashboard for a team, until Ctrl-C or SIGTERM."""
    hub = hub_service(options)
    if hub is not None:
        with dashboard_server(engine, hub, None) as server:
            echo(f"The dashboard: {server.url}, signed in through JupyterHub")
            until_stopped(server.process)
        return
    token = dashboard_token()
    if token is None and not is_loopback(options.host):
        raise ConfigurationError(
            f"serving on {options.host} needs a sign-in token: set {TOKEN_ENV}, or "
            f"{TOKEN_FILE_ENV} to a file only you can read (chmod 600)"
        )
    generated = token is None
    token = token or secrets.token_urlsafe(32)
    with dashboard_server(engine, options, token) as server:
        echo(f"The dashboard: {server.url}  (Ctrl-C stops it and every kernel)")
        if generated:
            echo(f"Sign in at {with_token(server.url, token)} ({TOKEN_ENV} was not set)")
        else:
            echo(f"Sign in once with {server.url}?token=<your sign-in token>")
        until_stopped(server.process)
    echo("Stopped: the dashboard server and its kernels.")


@contextmanager
def opened_in_browser(url: str) -> Iterator[None]:
    """Open `url` without putting it on a command line (it holds the token): the browser gets
    a file, readable by this user only, that forwards to it; the file goes when this ends."""
    folder = Path(tempfile.mkdtemp(prefix="ordertools-open-"))
    page = folder / "open.html"
    page.write_text(
        f'<meta http-equiv="refresh" content="0;url={html.escape(url, quote=True)}">',
        encoding="utf-8",
    )
    page.chmod(0o600)
    try:
        webbrowser.open(page.as_uri())
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def open_dashboard(
    engine: Engine, store: str, open_with: str = "voila", *, echo: Callable[[str], None] = print
) -> None:
    """Serve the dashboard on 127.0.0.1 with a token of its own, open it in the browser
    signed in, and wait for Ctrl-C."""
    token = secrets.token_urlsafe(32)
    options = ServeOptions(port=free_port(VOILA_PORT))
    # Voila serves the dashboard, and the order pages its links open, in both cases.
    with dashboard_server(engine, options, token) as server:
        if open_with == "lab":
            signed_in = with_token(dashboard_url(server.url, store), token)
            lab = open_in_lab(engine, server, store, echo=echo)
            echo(f"Order pages open in Voila: sign in there once at {signed_in}")
            opened = nullcontext()
        else:
            # The store cards, as the Sales Channel starts: View Store opens each dashboard.
            cards = f"{server.url.rstrip('/')}/voila/render/{LANDING}"
            lab, signed_in = None, with_token(cards, token)
            echo(f"The store cards (View Store opens each store's dashboard): {signed_in}")
            opened = opened_in_browser(signed_in)
        echo("Press Ctrl-C to stop (the demo Amazon keeps running until then, so Sync now works).")
        try:
            with opened:
                until_stopped(server.process, *([lab] if lab else []))
        finally:
            if lab is not None:
                stop_server(lab)


def open_in_lab(
    engine: Engine, server: Server, store: str, *, echo: Callable[[str], None]
) -> subprocess.Popen:
    """JupyterLab on the notebooks, opened on the store dashboard's notebook itself, signed in
    with a token of its own (in its environment, never on a command line), showing only the
    notebooks (the folder's test helpers hidden); as root too, where JupyterLab otherwise
    refuses to start."""
    folder = notebooks_dir()
    port = free_port(8888)
    token = secrets.token_urlsafe(32)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--no-browser",  # opened below, on the notebook rather than the Launcher
        f"--ServerApp.root_dir={folder}",
        f"--ContentsManager.hide_globs={LAB_HIDDEN!r}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    env = {**server_env(engine, server.url), "JUPYTER_TOKEN": token}
    lab = subprocess.Popen(command, env=env)
    url = with_token(f"http://127.0.0.1:{port}/lab/tree/store_dashboard.ipynb", token)
    wait_for_port(port, timeout=60, process=lab)  # its address, once it answers there
    echo(f'JupyterLab, on the store dashboard\'s notebook (set store = "{store}", run all): {url}')
    webbrowser.open(url)
    return lab
