"""The emulator as a running server: in a background thread (`Emulator`) or blocking
(`run_server`, behind `ordertools emulator`).

Like Amazon's endpoints it speaks HTTP/1.1 with persistent connections, a thread per client
connection, so a client's connection pool is used as it would be against the live API.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream, get_content_length

from ordertools.amazon.emulator.auth import Auth
from ordertools.amazon.emulator.clock import ManualClock, real_clock
from ordertools.amazon.emulator.config import EmulatorConfig
from ordertools.amazon.emulator.scenario import load_scenario
from ordertools.amazon.emulator.sellers import Seller, SellersApp, make_seller


class _NothingToDrain:
    """What werkzeug's after-answer drain reads instead of the socket (see _KeepAliveHandler)."""

    @staticmethod
    def read(size: int = -1) -> bytes:
        return b""


class _KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 that keeps the connection open between requests, unless the client asks to close.

    werkzeug's handler closes after every answer (`Connection: close`) because it then drains
    whatever the client sent since, which on a kept-alive connection is the next request. So
    here the app reads its body through a Content-Length-bounded stream, the unread rest of
    the body is discarded after the answer, and werkzeug's drain is given nothing to read.
    Every answer has a Content-Length (werkzeug sets it for the app's whole-body responses;
    204s have no body), so the client knows where one answer ends and the next begins.
    """

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle's algorithm the body would wait for
    # the client's delayed ACK of the headers (40 ms a request) once the connection stays open.
    disable_nagle_algorithm = True

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if not environ.get("wsgi.input_terminated"):  # chunked: werkzeug's reader stops at its end
            environ["wsgi.input"] = LimitedStream(self.rfile, get_content_length(environ) or 0)
        self.rfile = _NothingToDrain()  # run_wsgi puts the socket's reader back
        return environ

    def run_wsgi(self) -> None:
        socket_reader = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = socket_reader
        self._discard_unread_body()

    def _discard_unread_body(self) -> None:
        """Read past what the app left of the body, so the next request line is read next."""
        try:
            while self.environ["wsgi.input"].read(64 * 1024):
                pass
        except (OSError, HTTPException):  # the client went away, or its body was broken
            self.close_connection = True

    def send_header(self, keyword: str, value: str) -> None:
        # werkzeug sends `Connection: close` on every answer; pass it on only when closing anyway.
        if keyword.lower() == "connection" and not self.close_connection:
            return
        super().send_header(keyword, value)


class _QuietHandler(_KeepAliveHandler):
    """No access log line per request: tests and benchmarks make thousands."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _Server(ThreadedWSGIServer):
    """A thread per client connection; it remembers the open ones so that closing the server
    also ends the connections clients keep alive (or a stopped emulator would still answer)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._open_lock = threading.Lock()
        self._open: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            still_open = list(self._open)
        for connection in still_open:  # its thread then reads the end and finishes
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Emulator:
    """A local SP-API (LWA token endpoint, Orders 2026-01-01 reads, v0 confirmShipment).

    Use as a context manager; it serves on `base_url` from a background thread. `world`,
    `faults` and `stats` are live: changes apply to the next request.

    `sellers=N` serves N sellers from the one port (see sellers.py), each with
    `orders_per_seller` generated orders (placed in the day before start; `seed` draws them);
    `emulator.sellers[i]` has its refresh token, marketplace, world, faults and stats. Seller 0
    is the default seller: `world`, `faults`, `stats`, `app`, `credentials` and the scenario's
    orders are its own, so N=1 (the default) is the one-seller emulator.
    """

    def __init__(
        self,
        scenario: str | Path | dict | None = None,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        quiet: bool = True,
        sellers: int = 1,
        orders_per_seller: int = 0,
        seed: int = 0,
    ):
        if sellers < 1 or orders_per_seller < 0:
            raise ValueError(
                f"need 1 or more sellers, 0 or more orders each: {sellers}, {orders_per_seller}"
            )
        self.config = config or EmulatorConfig()
        self.clock = self.config.clock or real_clock
        self.auth = Auth(self.config)
        scenario = load_scenario(scenario)
        self.sellers: list[Seller] = [
            make_seller(
                index,
                self.config,
                self.auth,
                self._roster,
                orders=orders_per_seller,
                seed=seed,
                scenario=scenario if index == 0 else None,
            )
            for index in range(sellers)
        ]
        self.app = self.sellers[0].app
        self.world, self.faults, self.stats = self.app.world, self.app.faults, self.app.stats
        self.stores = self.app.admin.stores  # the scenario's suggested stores
        self.wsgi = SellersApp(self.sellers, self.auth)  # what the server serves
        self.host, self.port = host, port
        self._handler = _QuietHandler if quiet else _KeepAliveHandler
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _roster(self) -> list[dict[str, Any]]:
        return [seller.describe() for seller in self.sellers]

    def seller_for(self, refresh_token: str) -> Seller | None:
        """The seller whose refresh token this is, or None."""
        return self.wsgi.seller_for(refresh_token)

    def add_orders_to_every_seller(self, n: int, **order: Any) -> int:
        """`n` orders placed now for every seller (Seller.add_orders), e.g. between two rounds
        of a benchmark; returns how many in all. A sync sees them once its window's end
        (now - api_lag) passes them: advance the clock."""
        return sum(len(seller.add_orders(n, **order)) for seller in self.sellers)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.base_url + "/auth/o2/token"

    @property
    def credentials(self) -> dict[str, str]:
        config = self.config
        return {
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "refresh_token": config.refresh_token,
        }

    def access_token(self) -> str:
        """A valid access token without the LWA round trip, for tests of the other endpoints."""
        return self.auth.issue()

    def bind(self) -> _Server:
        """A server for the app on host:port (port 0: a free one, then kept in `port`)."""
        server = _Server(self.host, self.port, self.wsgi, self._handler)
        self.port = server.server_port
        return server

    def start(self) -> Emulator:
        if self._server is None:
            self._server = self.bind()
            # A short poll interval keeps stop() (and so each test) fast.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"sp-api-emulator:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None
        for seller in self.sellers:
            seller.app.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    scenario: str | Path | dict | None = "demo",
    config: EmulatorConfig | None = None,
    *,
    plans: str = "amazon",
    time_scale: float = 1.0,
    sellers: int = 1,
    orders_per_seller: int = 0,
    seed: int = 0,
) -> None:
    """Serve until interrupted (Ctrl-C), logging each request; for `ordertools emulator`.

    Without a config the clock is real time that the admin API may push forward
    (POST /_emulator/clock/advance), so a demo can skip Amazon's two-minute delay.
    """
    config = config or EmulatorConfig.paced(plans, time_scale, clock=ManualClock(ticking=True))
    emulator = Emulator(
        scenario,
        config,
        host,
        port,
        quiet=False,
        sellers=sellers,
        orders_per_seller=orders_per_seller,
        seed=seed,
    )
    server = emulator.bind()
    url = f"http://{host}:{server.server_port}"
    many = (
        f"; {sellers} sellers (refresh tokens: GET {url}/_emulator/sellers)" if sellers > 1 else ""
    )
    print(
        f"SP-API emulator on {url} (token URL {url}/auth/o2/token); admin API under /_emulator/"
        + many
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        emulator.stop()  # what runs in the background for its sellers
