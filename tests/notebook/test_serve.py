"""`ordertools serve` as a team runs it: a real server process, real Voila, Debian's Chromium.

The server runs the CLI itself (`ordertools serve`, so its signal handling is the one tested)
over the deterministic demo order book, under `--base-url /team/` with `--kernel-idle 5`, and
its stdout and stderr go to one log file the tests read. Screenshots of the sign-in refusal and
of the signed-in dashboard are written under `/tmp/serve-shots/`.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests
from test_browser import RECENT, WAIT_MS, browser  # noqa: F401 (the Chromium fixture)

from ordertools import db
from ordertools.demo import REFERENCE_AT, REFERENCE_TZ, build_demo_order_book
from ordertools.notebook.launch import TOKEN_ENV, TOKEN_FILE_ENV, free_port, wait_for_port

ORDERTOOLS = Path(sys.executable).with_name("ordertools")
TOKEN = "test-" + uuid.uuid4().hex  # unique: a match in a command line or log is this token
SHOTS = Path("/tmp/serve-shots")
IDLE = 5  # --kernel-idle; the culler looks every IDLE // 2 seconds
PAGE_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (GET|POST) (\S+) (\d{3}) \d+\.\d\d s$")


def _start(
    url: str, log: Path, *args: str, preheat: str | None = "0"
) -> tuple[subprocess.Popen, int]:
    """`ordertools serve` on a free port, with `--preheat 0` (the tests that count kernels
    count the tabs' own) unless `preheat` says otherwise (None: serve's default)."""
    port = free_port()
    if preheat is not None:
        args = ("--preheat", preheat, *args)
    env = {**os.environ, "ORDERTOOLS_DB": url, "ORDERTOOLS_TZ": REFERENCE_TZ, TOKEN_ENV: TOKEN}
    for name in ("QUERY_STRING", TOKEN_FILE_ENV, "ORDERTOOLS_VOILA_URL"):
        env.pop(name, None)
    with log.open("w") as out:
        cli = subprocess.Popen(
            [str(ORDERTOOLS), "serve", "--port", str(port), "--kernel-idle", str(IDLE), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(port, process=cli)
    return cli, port


def _tree(cli: subprocess.Popen) -> list[psutil.Process]:
    return [psutil.Process(cli.pid), *psutil.Process(cli.pid).children(recursive=True)]


def _kernel_processes(cli) -> list[psutil.Process]:
    return [p for p in _tree(cli) if "ipykernel_launcher" in " ".join(p.cmdline())]


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'demo.db'}"
    engine = db.connect(url)
    build_demo_order_book(engine, REFERENCE_AT)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def served(book, tmp_path_factory):
    """`ordertools serve` under /team/; yields (cli process, base URL, log path)."""
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    cli, port = _start(book, log, "--base-url", "team")
    try:
        yield cli, f"http://127.0.0.1:{port}/team/", log
    finally:
        cli.send_signal(signal.SIGTERM)
        cli.wait(timeout=60)


def _kernels(base: str) -> list[dict]:
    answer = requests.get(f"{base}api/kernels", headers={"Authorization": f"token {TOKEN}"})
    assert answer.status_code == 200
    return answer.json()


def _dashboard(base: str, store: str = "acme-us") -> str:
    return f"{base}voila/render/store_dashboard.ipynb?store={store}"


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_sign_in_refused_then_accepted(served, browser):  # noqa: F811
    cli, base, _ = served
    # Without the token nothing answers: pages, the API, kernel websockets, static files.
    for path in (
        "voila/render/store_dashboard.ipynb?store=acme-us",
        "voila/tree",
        "api/kernels",
        f"api/kernels/{uuid.uuid4()}/channels",
        "voila/static/voila.js",
        "voila/api/contents",
        "",
    ):
        answer = requests.get(base + path, allow_redirects=False)
        assert answer.status_code == 401, path
        assert "?token=" in answer.text and "Sign in" in answer.text, path
    wrong = requests.get(_dashboard(base) + "&token=not-the-token-at-all")
    assert wrong.status_code == 403 and "not this dashboard's" in wrong.text
    # The header works for scripts; the root leads to the landing page; only pages render.
    signed = {"Authorization": f"token {TOKEN}"}
    assert isinstance(_kernels(base), list)
    landing = requests.get(base, headers=signed, allow_redirects=False)
    assert landing.status_code == 302
    assert landing.headers["Location"] in ("/team/voila/tree", "/team/voila/render/stores.ipynb")
    for other in ("sync.ipynb", "reconcile.ipynb"):
        assert requests.get(f"{base}voila/render/{other}", headers=signed).status_code == 404

    SHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    refused = page.goto(_dashboard(base), timeout=WAIT_MS)
    assert refused.status == 401
    assert page.get_by_role("heading", name="Sign in to the ordertools dashboard").is_visible()
    page.screenshot(path=str(SHOTS / "sign-in-refused.png"))

    # Pasting the token signs in: the page loads, without the token left in its address.
    page.get_by_label("Sign-in token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    assert TOKEN not in page.url and "store=acme-us" in page.url
    # Order links keep the base URL.
    order_links = page.locator(RECENT).first.locator('a[href*="order.ipynb"]')
    assert order_links.count() >= 1
    assert order_links.first.get_attribute("href").startswith(
        f"{base}voila/render/order.ipynb?store=acme-us&order="
    )
    page.set_viewport_size({"width": 1280, "height": 3400})
    page.screenshot(path=str(SHOTS / "dashboard-signed-in.png"))
    page.close(run_before_unload=True)

    # The cookie keeps the browser signed in: another page, no token.
    other = context.new_page()
    other.goto(_dashboard(base, "acme-de"), timeout=WAIT_MS)
    other.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    other.close(run_before_unload=True)
    # `?token=` in the address signs a fresh browser in too, and leaves the address.
    fresh = browser.new_context()
    page = fresh.new_page()
    page.goto(_dashboard(base, "acme-uk") + f"&token={TOKEN}", timeout=WAIT_MS)
    page.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    assert TOKEN not in page.url
    fresh.close()
    context.close()


def test_the_root_shows_the_store_cards_and_view_store_opens_a_dashboard(served, browser):  # noqa: F811
    cli, base, _ = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}?token={TOKEN}", timeout=WAIT_MS)
    cards = page.locator(".ordertools-card")
    cards.first.wait_for(timeout=WAIT_MS)
    assert page.url == f"{base}voila/render/stores.ipynb"
    names = [card.get_attribute("data-store") for card in cards.all()]
    assert names == ["acme-de", "acme-jp", "acme-uk", "acme-us"]
    uk = page.locator('.ordertools-card[data-store="acme-uk"]')
    text = uk.inner_text()
    assert "Amazon.co.uk (GB)" in text and "Enabled" in text and "succeeded" in text
    assert re.search(r"Awaiting shipment\s+\d+ orders?", text), text
    seller = uk.get_by_role("link", name="Seller Central")
    assert seller.get_attribute("href") == "https://sellercentral.amazon.co.uk/"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "stores.png"))

    uk.get_by_role("link", name="View Store").click()
    page.wait_for_url(f"{base}voila/render/store_dashboard.ipynb?store=acme-uk", timeout=WAIT_MS)
    page.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    assert page.locator(".ordertools-facts", has_text="acme-uk").count() >= 1
    page.close(run_before_unload=True)
    context.close()


def test_the_token_is_in_no_command_line_and_no_log(served):
    cli, base, log = served
    # A page that a script loads keeps its kernel until the culler ends it: look at it now.
    page = requests.get(_dashboard(base) + f"&token={TOKEN}")
    assert page.status_code == 200
    assert _wait_for(lambda: _kernel_processes(cli), 30)
    processes = _tree(cli)
    assert len(processes) >= 3  # the CLI, the server, a kernel
    for process in processes:
        assert TOKEN not in " ".join(process.cmdline()), process.cmdline()
    for kernel in _kernel_processes(cli):  # kernels do not even inherit it
        assert TOKEN not in Path(f"/proc/{kernel.pid}/environ").read_text(errors="replace")
    assert TOKEN not in log.read_text()


def test_closed_tabs_leave_no_kernel_behind(served, browser):  # noqa: F811
    cli, base, _ = served
    context = browser.new_context()
    kept = context.new_page()
    kept.goto(_dashboard(base) + f"&token={TOKEN}", timeout=WAIT_MS)
    kept.locator(RECENT).first.wait_for(timeout=WAIT_MS)
    assert _wait_for(lambda: len(_kernels(base)) == 1, IDLE * 4)
    (kept_kernel,) = _kernels(base)

    stores = ["acme-us", "acme-de", "acme-uk", "acme-jp"]
    for n in range(20):
        tab = context.new_page()
        tab.goto(_dashboard(base, stores[n % 4]), timeout=WAIT_MS)
        tab.locator(RECENT).first.wait_for(timeout=WAIT_MS)
        # Half close as a person does (Voila's shutdown request on unload), half as a crash
        # or a lost network does (nothing said: the culler ends those).
        tab.close(run_before_unload=n % 2 == 0)

    # After the cull interval: the open tab's kernel, and no other.
    assert _wait_for(lambda: len(_kernels(base)) == 1, IDLE * 4), _kernels(base)
    assert [k["id"] for k in _kernels(base)] == [kept_kernel["id"]]
    assert len(_kernel_processes(cli)) == 1
    # The open tab still works after that while: its widgets answer.
    time.sleep(IDLE + 2)
    assert [k["id"] for k in _kernels(base)] == [kept_kernel["id"]]
    kept.locator(".widget-toggle-buttons button", has_text="Disabled").click()
    kept.get_by_text("no local orders are created", exact=False).first.wait_for(timeout=WAIT_MS)
    kept.locator(".widget-toggle-buttons button", has_text="Enabled").click()
    context.close()


def test_one_log_line_per_page_view(served):
    cli, base, log = served
    before = log.read_text().splitlines()
    signed = {"Authorization": f"token {TOKEN}"}
    for store in ("acme-us", "acme-jp"):
        assert requests.get(_dashboard(base, store), headers=signed).status_code == 200
    assert requests.get(_dashboard(base)).status_code == 401
    time.sleep(0.5)
    new = log.read_text().splitlines()[len(before) :]
    views = [PAGE_LINE.match(line) for line in new]
    assert all(views), new
    assert [(m[2], m[3]) for m in views] == [
        ("store_dashboard?store=acme-us", "200"),
        ("store_dashboard?store=acme-jp", "200"),
        ("store_dashboard?store=acme-us", "401"),
    ]
    text = log.read_text()
    for noise in ("not trusted", "without encryption", "Traceback", "WARNING"):
        assert noise not in text
    # Every line after the two the CLI prints at the start is a page view.
    lines = text.splitlines()
    assert lines[0].startswith("The dashboard: http://127.0.0.1:")
    assert all(PAGE_LINE.match(line) for line in lines[2:]), lines


def _page_kernel(html: str) -> str:
    """The kernel a Voila page runs on (its page config names it)."""
    return re.search(r'"kernelId": "([0-9a-f-]{36})"', html)[1]


def test_preheated_kernels_serve_the_store_the_address_asks_for(book, tmp_path):
    """`serve` as it starts by default (`--preheat 1`): each page takes a kernel started ahead
    (its imports done) and still shows the store in its own address, not the notebook's
    default or the store rehearsed."""
    cli, port = _start(book, tmp_path / "serve.log", preheat=None)
    base = f"http://127.0.0.1:{port}/"
    signed = {"Authorization": f"token {TOKEN}"}
    try:
        used: set[str] = set()

        def ahead() -> set[str]:
            return {k["id"] for k in _kernels(base)} - used

        for store in ("acme-de", "acme-jp"):
            # Three pages, one kernel ahead each; a used one is replaced a few seconds later
            # (a served page's kernel stays until the culler ends it: nobody connects here).
            assert _wait_for(lambda: len(ahead()) == 3, 90), _kernels(base)
            waiting = ahead()
            page = requests.get(_dashboard(base, store), headers=signed)
            assert page.status_code == 200
            used.add(_page_kernel(page.text))
            assert _page_kernel(page.text) in waiting  # a preheated kernel, not a new one
            # Its orders link to their pages (JSON-escaped in the page: `&` is \u0026).
            assert f"order.ipynb?store={store}\\u0026" in page.text
            assert "order.ipynb?store=acme-us" not in page.text  # the notebook's default store
        assert "Traceback" not in (tmp_path / "serve.log").read_text()
    finally:
        cli.send_signal(signal.SIGTERM)
        cli.wait(timeout=60)


@pytest.mark.parametrize(
    "stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "Ctrl-C", "killed"]
)
def test_a_stop_ends_the_server_and_every_kernel(book, tmp_path, stop):
    cli, port = _start(book, tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}/"
    signed = {"Authorization": f"token {TOKEN}"}
    for store in ("acme-us", "acme-de"):  # two kernels, neither connected
        assert requests.get(_dashboard(base, store), headers=signed).status_code == 200
    assert _wait_for(lambda: len(_kernel_processes(cli)) == 2, 30)
    processes = _tree(cli)
    # Ctrl-C in a terminal signals the foreground process group: the CLI (the server has a
    # session of its own, so that the CLI stops it once, in order). A CLI killed outright
    # cannot: the server notices it is gone and stops by itself.
    cli.send_signal(stop)
    code = cli.wait(timeout=60)
    if stop != signal.SIGKILL:
        assert code == 0
        log = (tmp_path / "serve.log").read_text()
        assert "Stopped: the dashboard server and its kernels." in log
    alive = psutil.wait_procs(processes, timeout=30)[1]
    assert alive == [], [p.cmdline() for p in alive]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # the port is free again


def test_demo_open_serves_signed_in_and_stops_with_every_kernel(tmp_path):
    """`ordertools demo --open`: the same server, on a token of its own, opened signed in."""
    out = tmp_path / "demo.log"
    env = {**os.environ, "ORDERTOOLS_DB": f"sqlite:///{tmp_path / 'demo.db'}", "BROWSER": "true"}
    with out.open("w") as log:
        demo = subprocess.Popen(
            [str(ORDERTOOLS), "demo", "--open"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        line = re.compile(r"The store cards \(View Store opens each store's dashboard\): (\S+)")
        assert _wait_for(lambda: line.search(out.read_text()), 120), out.read_text()
        url = line.search(out.read_text())[1]
        page, token = url.split("?token=")
        assert page.endswith("/voila/render/stores.ipynb")  # the landing page: the store cards
        assert requests.get(page).status_code == 401
        assert requests.get(page, headers={"Authorization": f"token {token}"}).ok
        assert _wait_for(lambda: _kernel_processes(demo), 30)
        processes = _tree(demo)
        assert not any(token in " ".join(p.cmdline()) for p in processes)
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)
    alive = psutil.wait_procs(processes, timeout=30)[1]
    assert alive == [], [p.cmdline() for p in alive]


def test_refuses_to_start_without_a_safe_token(book, tmp_path):
    def serve(*args, **env):
        clean = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, TOKEN_FILE_ENV)}
        done = subprocess.run(
            [str(ORDERTOOLS), "serve", "--port", str(free_port()), *args],
            env={**clean, "ORDERTOOLS_DB": book, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        return done.stderr

    assert f"needs a sign-in token: set {TOKEN_ENV}" in serve("--host", "0.0.0.0")
    file = tmp_path / "token"
    file.write_text(TOKEN + "\n")
    file.chmod(0o644)
    assert f"chmod 600 {file}" in serve(**{TOKEN_FILE_ENV: str(file)})
    assert "not both" in serve(**{TOKEN_FILE_ENV: str(file), TOKEN_ENV: TOKEN})
    assert "shorter than 16" in serve(**{TOKEN_ENV: "short"})


def test_demo_open_lab_opens_the_notebook_itself_showing_only_notebooks(tmp_path):
    """`ordertools demo --open lab`, as root too (this machine's tests run as root): the printed
    address opens the dashboard's notebook signed in, the file browser lists only notebooks,
    and the token is on no command line."""
    out = tmp_path / "lab.log"
    env = {**os.environ, "ORDERTOOLS_DB": f"sqlite:///{tmp_path / 'demo.db'}", "BROWSER": "true"}
    with out.open("w") as log:
        demo = subprocess.Popen(
            [str(ORDERTOOLS), "demo", "--open", "lab"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        line = re.compile(r"JupyterLab, on the store dashboard's notebook .*: (\S+)")
        assert _wait_for(lambda: line.search(out.read_text()), 120), out.read_text()
        url = line.search(out.read_text())[1]
        page, token = url.split("?token=")
        assert page.endswith("/lab/tree/store_dashboard.ipynb")
        assert _wait_for(lambda: requests.get(url).ok, 60), out.read_text()
        base = page.removesuffix("lab/tree/store_dashboard.ipynb")
        listed = requests.get(f"{base}api/contents", headers={"Authorization": f"token {token}"})
        names = sorted(item["name"] for item in listed.json()["content"])
        assert names and all(name.endswith(".ipynb") for name in names), names
        assert "store_dashboard.ipynb" in names
        assert requests.get(f"{base}api/contents").status_code == 403  # not without the token
        processes = _tree(demo)
        assert not any(token in " ".join(p.cmdline()) for p in processes)
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)
    alive = psutil.wait_procs(processes, timeout=30)[1]
    assert alive == [], [p.cmdline() for p in alive]
