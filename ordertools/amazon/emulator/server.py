"""The emulator as a running server: in a background thread (`Emulator`) or blocking
(`run_server`, behind `ordertools emulator`)."""

from __future__ import annotations

import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ordertools.amazon.emulator.admin import Admin
from ordertools.amazon.emulator.app import EmulatorApp
from ordertools.amazon.emulator.auth import Auth
from ordertools.amazon.emulator.clock import ManualClock, real_clock
from ordertools.amazon.emulator.config import EmulatorConfig
from ordertools.amazon.emulator.faults import Faults, Stats
from ordertools.amazon.emulator.scenario import apply_scenario, load_scenario
from ordertools.amazon.emulator.world import World


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request: tests and benchmarks make thousands."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Emulator:
    """A local SP-API (LWA token endpoint, Orders 2026-01-01 reads, v0 confirmShipment).

    Use as a context manager; it serves on `base_url` from a background thread. `world`,
    `faults` and `stats` are live: changes apply to the next request.
    """

    def __init__(
        self,
        scenario: str | Path | dict | None = None,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        quiet: bool = True,
    ):
        self.config = config or EmulatorConfig()
        self.clock = self.config.clock or real_clock
        self.world = World(self.clock, self.config.visibility_delay)
        self.auth = Auth(self.config)
        self.stats = Stats()
        self.faults = Faults(self.auth)
        self.stores = apply_scenario(self.world, load_scenario(scenario))
        admin = Admin(self.world, self.faults, self.stats, self.clock, self.stores)
        self.app = EmulatorApp(self.world, self.config, self.auth, self.faults, self.stats, admin)
        self.host, self.port = host, port
        self._handler = _QuietHandler if quiet else WSGIRequestHandler
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

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

    def start(self) -> Emulator:
        if self._server is None:
            self._server = make_server(
                self.host, self.port, self.app, threaded=True, request_handler=self._handler
            )
            self.port = self._server.server_port
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

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    scenario: str | Path | dict | None = "demo",
    config: EmulatorConfig | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C), logging each request; for `ordertools emulator`.

    Without a config the clock is real time that the admin API may push forward
    (POST /_emulator/clock/advance), so a demo can skip Amazon's two-minute delay.
    """
    config = config or EmulatorConfig(clock=ManualClock(ticking=True))
    emulator = Emulator(scenario, config, host, port, quiet=False)
    server = make_server(host, port, emulator.app, threaded=True)
    print(
        f"SP-API emulator on http://{host}:{server.server_port} (token URL "
        f"http://{host}:{server.server_port}/auth/o2/token); admin API under /_emulator/"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
