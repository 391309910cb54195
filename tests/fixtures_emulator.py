"""Fixtures for the SP-API emulator: a fast, controllable Amazon per test.

`emulator` is an `Emulator` serving on a free port with generous usage plans, no visibility
delay, `min_before_age` 0 and a `ManualClock` (`emulator.clock`) that runs in real time but can
be pushed forward (`emulator.clock.advance(minutes=5)`), so code that also reads the real time
never finds the emulator behind it. `emulator_factory(**config)` starts one with other
`EmulatorConfig` values (and `scenario=`); everything it started stops after the test.
"""

from __future__ import annotations

import pytest

from ordertools.amazon.emulator import Emulator, EmulatorConfig, ManualClock

FAST_PLANS = {
    "searchOrders": (1000.0, 1000),
    "getOrder": (1000.0, 1000),
    "confirmShipment": (1000.0, 1000),
}


@pytest.fixture
def emulator_clock() -> ManualClock:
    return ManualClock(ticking=True)


@pytest.fixture
def emulator_factory(emulator_clock):
    started: list[Emulator] = []

    def start(scenario=None, **config) -> Emulator:
        settings = {
            "plans": FAST_PLANS,
            "visibility_delay": 0.0,
            "min_before_age": 0.0,
            "clock": emulator_clock,
            **config,
        }
        emulator = Emulator(scenario=scenario, config=EmulatorConfig(**settings)).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(emulator_factory) -> Emulator:
    return emulator_factory()
