"""Scenarios: a starting world (orders, suggested stores) and a timeline that plays out.

A scenario is JSON; times in it are relative to the clock when it loads ("-3d4h", "+45s") or
ISO 8601, so the demo always looks recent. Shape:

    {"description": "...",
     "stores":   [{"name": "acme-us", "marketplace_id": "ATVPDKIKX0DER", "integrated_at": "-5d"}],
     "orders":   [{<World.add_order arguments>, "history": [{"status": "PENDING", "at": "-2h"},
                                                         {"status": "UNSHIPPED", "at": "-1h"}]}],
     "timeline": [{"at": "+45s", "order": "113-...", "status": "UNSHIPPED"},
                  {"at": "+20s", "add": {<World.add_order arguments>}}]}

`history` gives an order several versions (its first entry is the status it was placed with);
timeline events happen when the clock reaches them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ordertools.amazon.emulator.times import resolve_time
from ordertools.amazon.emulator.world import World
from ordertools.amazon.models import utc_iso
from ordertools.amazon.regions import marketplace


@dataclass(frozen=True)
class ScenarioStore:
    """A store the scenario suggests creating: `ordertools store add NAME --marketplace ...`."""

    name: str
    marketplace_id: str
    region: str
    integrated_at: str  # ISO 8601, resolved against the clock at load time


def load_scenario(ref: str | Path | dict | None) -> dict[str, Any]:
    """A scenario by packaged name ("demo"), file path, or as an already-parsed dict."""
    if ref is None:
        return {}
    if isinstance(ref, dict):
        return ref
    packaged = resources.files("ordertools.amazon").joinpath("scenarios", f"{ref}.json")
    if isinstance(ref, str) and packaged.is_file():
        return json.loads(packaged.read_text(encoding="utf-8"))
    path = Path(ref)
    if not path.is_file():
        raise FileNotFoundError(f"no scenario {ref!r}: name a packaged one (demo) or a JSON file")
    return json.loads(path.read_text(encoding="utf-8"))


def apply_scenario(world: World, scenario: dict[str, Any]) -> list[ScenarioStore]:
    """Put the scenario's orders and timeline into `world`; returns its suggested stores."""
    now = world.now()
    for spec in scenario.get("orders", []):
        _add(world, spec)
    for event in scenario.get("timeline", []):
        if "add" in event:
            world.add_order(**{**event["add"], "created": event["at"]})
        else:
            world.set_status(event["order"], event["status"], at=event["at"])
    stores = []
    for store in scenario.get("stores", []):
        known = marketplace(store["marketplace_id"])
        stores.append(
            ScenarioStore(
                name=store["name"],
                marketplace_id=store["marketplace_id"],
                region=store.get("region") or (known.region if known else "na"),
                integrated_at=utc_iso(resolve_time(store["integrated_at"], now)),
            )
        )
    return stores


def _add(world: World, spec: dict[str, Any]) -> None:
    spec = dict(spec)
    history = spec.pop("history", None)
    if not history:
        world.add_order(**spec)
        return
    first, *later = history
    order_id = world.add_order(**spec, status=first["status"], created=first["at"])
    for change in later:
        world.set_status(order_id, change["status"], at=change["at"])
