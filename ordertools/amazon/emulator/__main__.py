"""`python -m ordertools.amazon.emulator [--port 8765] [--scenario demo]`."""

from __future__ import annotations

import argparse

from ordertools.amazon.emulator.server import run_server

parser = argparse.ArgumentParser(description="Run the local SP-API emulator.")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8765)
parser.add_argument("--scenario", default="demo", help="a packaged scenario name or a JSON file")
args = parser.parse_args()
run_server(args.host, args.port, args.scenario)
