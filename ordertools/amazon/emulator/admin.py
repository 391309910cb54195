"""The admin API under /_emulator/: drive the world from another process, no token needed.

A demo or a test running the emulator as a separate server adds orders, moves statuses
("Pending → Unshipped" while a sync watches), arms faults and reads counters:

    GET  /_emulator/orders                  every order as Amazon holds it now
    POST /_emulator/orders                  {"status": "PENDING", "buyer_name": ...} -> orderId
    POST /_emulator/orders/generate         {"n": 500, "seed": 1}
    GET  /_emulator/orders/<id>             the order now, its version count, whether visible
    POST /_emulator/orders/<id>/status      {"status": "UNSHIPPED", "at": "+30s"}
    POST /_emulator/faults/<name>           fail_next | delay_next | drop_next |
                                            duplicate_next_page | expire_tokens |
                                            lose_updates {"share": 0.05} | fail_next_report |
                                            repeat_report_rows | drop_notifications |
                                            repeat_notifications | reorder_notifications
                                            {"share": 0.1, "seed": 1} | pause_notifications |
                                            resume_notifications | refuse_grant |
                                            throttle | malform {"operation": ...} | clear
    GET  /_emulator/stats, DELETE /_emulator/stats
    GET  /_emulator/scenario                the scenario's suggested stores and the clock's now
    POST /_emulator/clock/advance           {"seconds": 130} (only with a ManualClock)
    GET  /_emulator/sellers                 every seller: index, seller_id, marketplace_id,
                                            region, refresh_token (published demo values)

These act on the default seller (seller 0). With many sellers (sellers.py), the same API acts on
seller N under /_sellers/N/_emulator/..., e.g. POST /_sellers/7/_emulator/faults/throttle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ordertools.amazon.emulator.clock import ManualClock
from ordertools.amazon.emulator.faults import Faults, Stats
from ordertools.amazon.emulator.scenario import ScenarioStore
from ordertools.amazon.emulator.world import OrderNotFound, World
from ordertools.amazon.models import utc_iso


def _json(status: int, body: Any) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status=status,
        content_type="application/json; charset=utf-8",
    )


class Admin:
    def __init__(
        self,
        world: World,
        faults: Faults,
        stats: Stats,
        clock: Callable,
        stores: list[ScenarioStore],
        roster: Callable[[], list[dict[str, Any]]] = list,
    ):
        self.world, self.faults, self.stats, self.clock = world, faults, stats, clock
        self.stores = stores
        self.roster = roster  # every seller's description, for GET /_emulator/sellers
        self.fault_kinds: dict[str, Callable[..., None]] = {
            "fail_next": faults.fail_next,
            "delay_next": faults.delay_next,
            "drop_next": faults.drop_next,
            "duplicate_next_page": faults.duplicate_next_page,
            "expire_tokens": faults.expire_tokens,
            # Reports: searchOrders losing updates (for reconcile to find), reports that fail
            "lose_updates": faults.lose_updates,
            "fail_next_report": faults.fail_next_report,
            "repeat_report_rows": faults.repeat_report_rows,
            # ORDER_CHANGE notifications: dropped, sent twice, out of order, held back
            "drop_notifications": faults.drop_notifications,
            "repeat_notifications": faults.repeat_notifications,
            "reorder_notifications": faults.reorder_notifications,
            "pause_notifications": faults.pause_notifications,
            "resume_notifications": faults.resume_notifications,
            # A seller Amazon no longer serves: a revoked grant, a used-up quota, a bad body
            "refuse_grant": faults.refuse_grant,
            "throttle": faults.throttle,
            "malform": faults.malform,
            "clear": faults.clear,
        }

    @staticmethod
    def rules() -> list[Rule]:
        return [
            Rule("/_emulator/orders", methods=["GET"], endpoint="admin.list_orders"),
            Rule("/_emulator/orders", methods=["POST"], endpoint="admin.add_order"),
            Rule("/_emulator/orders/generate", methods=["POST"], endpoint="admin.generate"),
            Rule("/_emulator/orders/<order_id>", methods=["GET"], endpoint="admin.show_order"),
            Rule(
                "/_emulator/orders/<order_id>/status", methods=["POST"], endpoint="admin.set_status"
            ),
            Rule("/_emulator/faults/<kind>", methods=["POST"], endpoint="admin.fault"),
            Rule("/_emulator/stats", methods=["GET"], endpoint="admin.get_stats"),
            Rule("/_emulator/stats", methods=["DELETE"], endpoint="admin.reset_stats"),
            Rule("/_emulator/scenario", methods=["GET"], endpoint="admin.scenario"),
            Rule("/_emulator/clock/advance", methods=["POST"], endpoint="admin.advance_clock"),
            Rule("/_emulator/sellers", methods=["GET"], endpoint="admin.sellers"),
        ]

    def dispatch(self, endpoint: str, request: Request, values: dict) -> Response:
        handler = getattr(self, endpoint.removeprefix("admin."))
        params = (request.get_json(silent=True) or {}) if request.method == "POST" else {}
        if not isinstance(params, dict):
            return _json(400, {"error": "the body must be a JSON object"})
        try:
            return handler(params=params, **values)
        except OrderNotFound as missing:
            return _json(404, {"error": str(missing)})
        except (TypeError, ValueError) as bad:  # unknown or ill-typed arguments from the caller
            return _json(400, {"error": str(bad)})

    def list_orders(self, params: dict) -> Response:
        return _json(200, {"orders": self.world.orders()})

    def add_order(self, params: dict) -> Response:
        return _json(201, {"orderId": self.world.add_order(**params)})

    def generate(self, params: dict) -> Response:
        return _json(201, {"orderIds": self.world.generate(**params)})

    def show_order(self, params: dict, order_id: str) -> Response:
        order = self.world.get(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        versions = len(self.world.versions(order_id))
        visible = self.world.visible(order_id) is not None
        return _json(200, {"order": order, "versions": versions, "visible": visible})

    def set_status(self, params: dict, order_id: str) -> Response:
        self.world.set_status(order_id, **params)
        return _json(200, {"order": self.world.get(order_id)})

    def fault(self, params: dict, kind: str) -> Response:
        arm = self.fault_kinds.get(kind)
        if arm is None:
            return _json(
                404, {"error": f"unknown fault {kind!r}; use {', '.join(self.fault_kinds)}"}
            )
        arm(**params)
        return _json(200, {"armed": kind, **params})

    def get_stats(self, params: dict) -> Response:
        return _json(200, self.stats.snapshot())

    def reset_stats(self, params: dict) -> Response:
        self.stats.reset()
        return _json(200, {})

    def scenario(self, params: dict) -> Response:
        stores = [asdict(store) for store in self.stores]
        return _json(
            200, {"now": utc_iso(self.clock()), "stores": stores, "orders": len(self.world)}
        )

    def sellers(self, params: dict) -> Response:
        return _json(200, {"sellers": self.roster()})

    def advance_clock(self, params: dict) -> Response:
        if not isinstance(self.clock, ManualClock):
            return _json(
                409, {"error": "the emulator runs on real time; start it with a ManualClock"}
            )
        return _json(200, {"now": utc_iso(self.clock.advance(**params))})
