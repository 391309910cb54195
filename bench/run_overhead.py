"""What a scheduled run costs over the same sync called from Python.

    python bench/run_overhead.py [--rounds 3] [--store acme-us]

Each round syncs the demo store into two fresh order books against the same emulator: once with
`sync_store(...)` in this process, once as the scheduler does it, `ordertools run
notebooks/sync.ipynb -p store X` in a new process (CLI start, kernel start, the notebook, the
archive, the run record). Prints the medians and the overhead; the goal is at most 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ordertools import db
from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock
from ordertools.demo import prepare_stores
from ordertools.sync.run import sync_store

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "sync.ipynb"
GOAL_SECONDS = 3.0


def fresh_book(directory: Path, name: str, emulator: Emulator) -> str:
    url = f"sqlite:///{directory / name}.db"
    engine = db.connect(url)
    prepare_stores(engine, emulator)
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", default="acme-us")
    args = parser.parse_args()

    config = EmulatorConfig(clock=ManualClock(ticking=True), visibility_delay=0, min_before_age=0)
    direct, scheduled = [], []
    with Emulator(scenario="demo", config=config) as emulator, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for round_ in range(args.rounds):
            engine = db.connect(fresh_book(work, f"direct{round_}", emulator))
            started = time.perf_counter()
            sync_store(engine, args.store, progress=False)
            direct.append(time.perf_counter() - started)
            engine.dispose()

            env = {
                **os.environ,
                "ORDERTOOLS_DB": fresh_book(work, f"run{round_}", emulator),
                "ORDERTOOLS_RUNS_DIR": str(work / "runs"),
            }
            command = [sys.executable, "-m", "ordertools", "run", str(NOTEBOOK)]
            started = time.perf_counter()
            subprocess.run(
                [*command, "-p", "store", args.store],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            scheduled.append(time.perf_counter() - started)

    direct_s, scheduled_s = statistics.median(direct), statistics.median(scheduled)
    overhead = scheduled_s - direct_s
    print(f"sync {args.store} from Python          median {direct_s:6.2f} s  ({args.rounds} runs)")
    print(f"ordertools run notebooks/sync.ipynb  median {scheduled_s:6.2f} s")
    verdict = "within" if overhead <= GOAL_SECONDS else "over"
    print(f"overhead of a scheduled run          {overhead:6.2f} s  ({verdict} the 3 s goal)")


if __name__ == "__main__":
    main()
