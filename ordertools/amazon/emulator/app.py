"""The WSGI app: Amazon's routes, and the order in which Amazon answers a request.

Every SP-API request goes through the same steps, as on the live API: the access token (403; a
grantless operation wants the app's token, every other a seller's), injected faults, the
operation's usage plan (429), then the operation itself. Its answers
(successes, 400s and 404s, as the models declare) carry `x-amzn-RateLimit-Limit`; every answer
carries `x-amzn-RequestId`. `EmulatorConfig.latency` delays every LWA and SP-API answer (not
the admin API's, nor document downloads), as the network to Amazon would.
"""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ordertools.amazon.emulator.admin import Admin
from ordertools.amazon.emulator.auth import Auth, AuthFailure, grant_parameters
from ordertools.amazon.emulator.config import EmulatorConfig
from ordertools.amazon.emulator.confirm import request_problems
from ordertools.amazon.emulator.faults import MALFORMED_BODY, Faults, Stats, server_error
from ordertools.amazon.emulator.feeds import Feeds
from ordertools.amazon.emulator.notifications import GRANTLESS, Notifications, Refused
from ordertools.amazon.emulator.reports import DOCUMENT_PATH, Reports
from ordertools.amazon.emulator.search import (
    InvalidInput,
    Snapshots,
    included_data,
    page_size,
    parse_filter,
    render,
)
from ordertools.amazon.emulator.world import OrderNotFound, ShipmentRejected, World
from ordertools.amazon.models import utc_iso
from ordertools.amazon.ratelimit import TokenBucket

# (endpoint, request, path values) -> the answer
Dispatch = Callable[[str, Request, dict], Response]

_QUOTA = {"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}

URLS = Map(
    [
        Rule("/auth/o2/token", methods=["POST"], endpoint="token"),
        Rule("/orders/2026-01-01/orders", methods=["GET"], endpoint="searchOrders"),
        Rule("/orders/2026-01-01/orders/<order_id>", methods=["GET"], endpoint="getOrder"),
        Rule(
            "/orders/v0/orders/<order_id>/shipmentConfirmation",
            methods=["POST"],
            endpoint="confirmShipment",
        ),
        Rule("/feeds/2021-06-30/documents", methods=["POST"], endpoint="createFeedDocument"),
        Rule("/feeds/2021-06-30/feeds", methods=["POST"], endpoint="createFeed"),
        Rule("/feeds/2021-06-30/feeds/<feed_id>", methods=["GET"], endpoint="getFeed"),
        Rule(
            "/feeds/2021-06-30/documents/<document_id>", methods=["GET"], endpoint="getFeedDocument"
        ),
        Rule("/reports/2021-06-30/reports", methods=["POST"], endpoint="createReport"),
        Rule("/reports/2021-06-30/reports/<report_id>", methods=["GET"], endpoint="getReport"),
        Rule(
            "/reports/2021-06-30/documents/<document_id>",
            methods=["GET"],
            endpoint="getReportDocument",
        ),
        Rule("/notifications/v1/destinations", methods=["GET"], endpoint="getDestinations"),
        Rule("/notifications/v1/destinations", methods=["POST"], endpoint="createDestination"),
        Rule(
            "/notifications/v1/destinations/<destination_id>",
            methods=["GET"],
            endpoint="getDestination",
        ),
        Rule(
            "/notifications/v1/destinations/<destination_id>",
            methods=["DELETE"],
            endpoint="deleteDestination",
        ),
        Rule(
            "/notifications/v1/subscriptions/<notification_type>",
            methods=["GET"],
            endpoint="getSubscription",
        ),
        Rule(
            "/notifications/v1/subscriptions/<notification_type>",
            methods=["POST"],
            endpoint="createSubscription",
        ),
        Rule(
            "/notifications/v1/subscriptions/<notification_type>/<subscription_id>",
            methods=["GET"],
            endpoint="getSubscriptionById",
        ),
        Rule(
            "/notifications/v1/subscriptions/<notification_type>/<subscription_id>",
            methods=["DELETE"],
            endpoint="deleteSubscriptionById",
        ),
        # The pre-signed URLs of feed and report documents (S3 on the live API): no token.
        Rule("/_documents/<document_id>", methods=["PUT", "GET"], endpoint="document"),
        Rule(f"{DOCUMENT_PATH}<document_id>", methods=["GET"], endpoint="report_document"),
        *Admin.rules(),
    ],
    strict_slashes=False,
)


def serve(environ: dict, start_response: Callable, dispatch: Dispatch) -> Any:
    """Answer one WSGI request through `dispatch`, with Amazon's error bodies for unknown
    routes and methods, and a request id on every answer."""
    request = Request(environ)
    try:
        endpoint, values = URLS.bind_to_environ(environ).match()
        response = dispatch(endpoint, request, values)
    except NotFound:
        response = error(404, "NotFound", "The requested resource was not found.", request.path)
    except MethodNotAllowed as exc:
        response = error(405, "MethodNotAllowed", exc.description or "Method not allowed.")
    except HTTPException as exc:  # e.g. a body werkzeug cannot read
        response = error(exc.code or 400, "InvalidInput", exc.description or exc.name)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response(environ, start_response)


def json_response(status: int, body: Any = None) -> Response:
    if body is None:
        return Response(status=status)
    text = json.dumps(body, ensure_ascii=False)
    return Response(text, status=status, content_type="application/json; charset=utf-8")


def error(status: int, code: str, message: str, details: str = "") -> Response:
    entry = {"code": code, "message": message}
    if details:
        entry["details"] = details
    return json_response(status, {"errors": [entry]})


class EmulatorApp:
    def __init__(
        self,
        world: World,
        config: EmulatorConfig,
        auth: Auth,
        faults: Faults,
        stats: Stats,
        admin: Admin,
        *,
        documents_path: str = "",
    ):
        self.world, self.config, self.auth, self.faults, self.stats = (
            world,
            config,
            auth,
            faults,
            stats,
        )
        self.admin = admin
        # Where this seller's document URLs live under the host (see sellers.py): pre-signed
        # URLs carry no token, so the path must say whose document it is.
        self.documents_path = documents_path
        self.snapshots = Snapshots(config.pagination_ttl)
        self.operations: dict[str, Callable[..., Response]] = {
            "searchOrders": self.search_orders,
            "getOrder": self.get_order,
            "confirmShipment": self.confirm_shipment,
            "createFeedDocument": self.create_feed_document,
            "createFeed": self.create_feed,
            "getFeed": self.get_feed,
            "getFeedDocument": self.get_feed_document,
            "createReport": self.create_report,
            "getReport": self.get_report,
            "getReportDocument": self.get_report_document,
        }
        self.notifications = Notifications(world, config, faults, stats)
        for operation, handle in self.notifications.handlers().items():
            self.operations[operation] = partial(_answer_200, handle)
        self.buckets = {op: TokenBucket(*config.plans[op]) for op in self.operations}
        self.feeds = Feeds(world)
        self.reports = Reports(world, config, faults)
        if config.lost_updates:
            faults.lose_updates(config.lost_updates, config.lost_updates_seed)

    def close(self) -> None:
        """Stop what runs in the background (the notifications' delivery)."""
        self.notifications.close()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        return serve(environ, start_response, self.dispatch)

    def dispatch(self, endpoint: str, request: Request, values: dict) -> Response:
        if endpoint.startswith("admin."):
            return self.admin.dispatch(endpoint, request, values)
        if endpoint == "document":
            return self.document(request, **values)
        if endpoint == "report_document":
            return self.report_document(request, **values)
        if self.config.latency:  # Amazon's round trip, in this thread: it costs no CPU
            time.sleep(self.config.latency)
        self.stats.count(endpoint, requests=1)
        response = self._inject_fault(endpoint, request)
        if response is None and endpoint == "token":
            response = self.token(request)
        elif response is None:
            response = self.sp_api(endpoint, request, values)
            if self.faults.take("lose", endpoint):  # done, and the answer never arrives
                self.stats.count(endpoint, faults=1, ok=int(response.status_code < 300))
                _reset_connection(request.environ)
        if response.status_code < 300:
            self.stats.count(endpoint, ok=1)
        elif response.status_code != 429:
            self.stats.count(endpoint, errors=1)
        return response

    def _inject_fault(self, operation: str, request: Request) -> Response | None:
        if delay := self.faults.take("delay", operation):
            time.sleep(delay.seconds)
        if self.faults.take("drop", operation):
            self.stats.count(operation, faults=1)
            _reset_connection(request.environ)
        if failure := self.faults.take("fail", operation):
            self.stats.count(operation, faults=1)
            return json_response(failure.status, server_error(failure.status))
        return None

    def token(self, request: Request) -> Response:
        try:
            return json_response(200, self.auth.exchange(grant_parameters(request)))
        except AuthFailure as refused:
            return json_response(refused.status, refused.body)

    def sp_api(self, operation: str, request: Request, values: dict) -> Response:
        try:
            self.auth.check(request.headers.get("x-amz-access-token"), GRANTLESS.get(operation))
        except AuthFailure as refused:
            return json_response(refused.status, refused.body)
        bucket = self.buckets[operation]
        if operation in self.faults.throttled or bucket.try_take() > 0:
            self.stats.count(operation, throttled=1)
            return json_response(429, {"errors": [_QUOTA]})
        if operation in self.faults.malformed:
            self.stats.count(operation, faults=1)
            response = json_response(200, MALFORMED_BODY)
        else:
            response = self._operate(operation, request, values)
        # The models declare the header on successes, 400 and 404, and on no other answer.
        if response.status_code < 300 or response.status_code in (400, 404):
            response.headers["x-amzn-RateLimit-Limit"] = f"{bucket.rate:g}"
        return response

    def _operate(self, operation: str, request: Request, values: dict) -> Response:
        """The operation's answer, its refusals turned into Amazon's 400 and 404 bodies."""
        try:
            return self.operations[operation](request, **values)
        except InvalidInput as bad:
            return error(400, "InvalidInput", bad.message, bad.details)
        except ShipmentRejected as bad:
            return error(400, "InvalidInput", str(bad))
        except OrderNotFound as missing:
            return error(404, "NotFound", str(missing))
        except Refused as refused:
            return error(refused.status, refused.code, refused.message, refused.details)

    # --- operations ----------------------------------------------------------------------

    def search_orders(self, request: Request) -> Response:
        args, now = request.args, self.config.now()
        included, size = included_data(args), page_size(args)
        search = parse_filter(args, now, self.config.min_before_age)
        token = args.get("paginationToken")
        # The lost-updates fault: versions Amazon's index missed are never served here.
        hidden = self.faults.lost_version if self.faults.losing_updates else None
        if token:
            snapshot, offset = self.snapshots.resume(token, search, now)
        else:
            matching = sorted(
                (o for o in self.world.visible_orders(hidden=hidden) if search.matches(o)),
                key=lambda o: (o.updated, o.order_id),
            )
            snapshot, offset = self.snapshots.start(search, [o.order_id for o in matching], now), 0
        page_ids = snapshot.order_ids[offset : offset + size]
        orders = [
            render(v.body, included)
            for i in page_ids
            if (v := self.world.visible(i, hidden=hidden))
        ]
        body: dict[str, Any] = {"orders": orders}
        end = offset + size
        if end < len(snapshot.order_ids):
            # Amazon sometimes serves an order on two pages; clients must de-duplicate.
            if size > 1 and self.faults.take("duplicate", "searchOrders"):
                end -= 1
            body["pagination"] = {"nextToken": self.snapshots.token_for(snapshot, end, now)}
        if search.updated_before:
            body["lastUpdatedBefore"] = utc_iso(search.updated_before)
        if search.created_before:
            body["createdBefore"] = utc_iso(search.created_before)
        self.stats.count("searchOrders", pages=1, orders=len(orders))
        return json_response(200, body)

    def get_order(self, request: Request, order_id: str) -> Response:
        included = included_data(request.args)
        visible = self.world.visible(order_id)
        if visible is None:
            raise OrderNotFound(f"Order {order_id} was not found.")
        self.stats.count("getOrder", orders=1)
        return json_response(200, {"order": render(visible.body, included)})

    def confirm_shipment(self, request: Request, order_id: str) -> Response:
        body = request.get_json(silent=True)
        problems = request_problems(body)
        if problems:
            raise InvalidInput(problems[0], " ".join(problems[1:]))
        self.world.confirm_shipment(order_id, body["marketplaceId"], body["packageDetail"])
        return json_response(204)

    def create_feed_document(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        return json_response(201, self.feeds.create_document(body, self._documents_url(request)))

    def create_feed(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        self.stats.count("createFeed", feeds=1)
        return json_response(202, self.feeds.create_feed(body, self.config.now()))

    def get_feed(self, request: Request, feed_id: str) -> Response:
        feed = self.feeds.get_feed(feed_id)
        if feed is None:
            return error(404, "NotFound", f"Feed {feed_id} was not found.")
        return json_response(200, feed)

    def get_feed_document(self, request: Request, document_id: str) -> Response:
        document = self.feeds.get_document(document_id, self._documents_url(request))
        if document is None:
            return error(404, "NotFound", f"Feed document {document_id} was not found.")
        return json_response(200, document)

    def create_report(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        self.stats.count("createReport", reports=1)
        return json_response(202, self.reports.create_report(body, self.config.now()))

    def get_report(self, request: Request, report_id: str) -> Response:
        report = self.reports.get_report(report_id, self.config.now())
        if report is None:
            return error(404, "NotFound", f"Report {report_id} was not found.")
        return json_response(200, report)

    def get_report_document(self, request: Request, document_id: str) -> Response:
        document = self.reports.get_document(document_id, self._documents_url(request))
        if document is None:
            return error(404, "NotFound", f"Report document {document_id} was not found.")
        if request.args.get("enableContentEncodingUrlHeader") == "true" and document.get(
            "compressionAlgorithm"
        ):
            document["url"] += "?contentEncoding=gzip"
        return json_response(200, document)

    def report_document(self, request: Request, document_id: str) -> Response:
        """A report document's pre-signed URL: GET downloads it, compressed when it is."""
        document = self.reports.download(document_id)
        if document is None:
            return Response("NoSuchKey", status=404)
        self.stats.count("reportDocument", downloads=1)
        response = Response(document.content, status=200, content_type="text/plain")
        if document.compressed:
            response.content_type = "application/octet-stream"
            if request.args.get("contentEncoding") == "gzip":  # enableContentEncodingUrlHeader
                response.headers["Content-Encoding"] = "gzip"
        else:
            response.content_type = f"text/plain; charset={self.config.report_encoding}"
        return response

    def _documents_url(self, request: Request) -> str:
        return request.host_url.rstrip("/") + self.documents_path

    def lost_versions(self) -> list[tuple[str, datetime]]:
        """(order id, lastUpdatedTime) of every version so far that searchOrders never serves
        (the lost-updates fault), oldest first; empty when the fault is off."""
        if not self.faults.losing_updates:
            return []
        lost = self.faults.lost_version
        return [(order_id, at) for order_id, at in self.world.version_times() if lost(order_id, at)]

    def document(self, request: Request, document_id: str) -> Response:
        """The pre-signed URL: PUT uploads a feed, GET downloads a document (as S3 would)."""
        if request.method == "PUT":
            if not self.feeds.upload(document_id, request.get_data()):
                return Response("NoSuchKey", status=404)
            return Response(status=200)
        document = self.feeds.download(document_id)
        if document is None or document.content is None:
            return Response("NoSuchKey", status=404)
        return Response(document.content, status=200, content_type=document.content_type)


def _answer_200(handle: Callable[..., Any], request: Request, **values: Any) -> Response:
    return json_response(200, handle(request, **values))


def _reset_connection(environ: dict) -> None:
    """Cut the connection without an answer: a zero linger makes the close a TCP reset."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    # werkzeug's server treats a ConnectionError from the app as a dropped client: no answer.
    raise ConnectionResetError("emulator fault: connection dropped")
