"""The Selling Partner API client: orders in, shipment confirmations out.

One `requests.Session` per client (connection reuse is most of the speed), one token bucket per
operation seeded with Amazon's usage plan and re-rated from `x-amzn-RateLimit-Limit`, so the
client waits for a token instead of provoking a 429. What still goes wrong is retried within
bounds by tenacity: 429s (after draining the bucket: Amazon's is empty whatever ours believed)
and 500/503, resets and timeouts, with jittered exponential backoff. Everything else becomes a
typed error from `ordertools.errors` whose text a person can act on and which never holds a
secret.

Amazon's JSON becomes typed structs here (`type_orders`, `parse_order`); nothing past the
client touches raw dicts. Order reports (the Reports API, for reconciliation) come out as typed
rows too (`order_report`, parsed by `ordertools.amazon.reports` as the document downloads).

The Notifications API's destinations act for the app, not a seller: those calls carry the
app's grantless token (`AccessTokens(scope=...)`, cached per scope), the others the store's.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import chain
from threading import Event, Semaphore
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from ordertools import stops
from ordertools.amazon.auth import NOTIFICATIONS_SCOPE, AccessTokens, Credentials, scrub
from ordertools.amazon.errors import (
    AccessDenied,
    AmazonError,
    ClientClosed,
    Conflict,
    InvalidInput,
    MalformedOrder,
    NotFound,
    ReportFailed,
    ReportTimedOut,
    ServerFailure,
    SubscriptionExists,
    Throttled,
)
from ordertools.amazon.feeds import (
    CONTENT_TYPE,
    ORDER_ACKNOWLEDGEMENT,
    Cancellation,
    ProcessingReport,
    acknowledgement_feed,
    canonical_reason,
    read_processing_report,
)
from ordertools.amazon.models import (
    KNOWN_STATUSES,
    AmazonOrder,
    SearchPage,
    parse_order,
    split_search_page,
    type_orders,
    utc_iso,
)
from ordertools.amazon.notifications import (
    ORDER_CHANGE_PAYLOAD_VERSION,
    Destination,
    Subscription,
    destination_from,
    parse_queue_arn,
    subscription_from,
)
from ordertools.amazon.ratelimit import DEFAULT_PLANS, TokenBucket
from ordertools.amazon.regions import LWA_TOKEN_URL, endpoint_for
from ordertools.amazon.reports import (
    MAX_ORDER_REPORT_WINDOW,
    ORDER_REPORT,
    ORDER_REPORTS,
    Report,
    ReportRow,
    parse_order_report,
)

log = logging.getLogger(__name__)

SEARCH_ORDERS_PATH = "/orders/2026-01-01/orders"
GET_ORDER_PATH = "/orders/2026-01-01/orders/{order_id}"
CONFIRM_SHIPMENT_PATH = "/orders/v0/orders/{order_id}/shipmentConfirmation"
FEED_DOCUMENTS_PATH = "/feeds/2021-06-30/documents"
FEEDS_PATH = "/feeds/2021-06-30/feeds"
REPORTS_PATH = "/reports/2021-06-30/reports"
REPORT_DOCUMENTS_PATH = "/reports/2021-06-30/documents"
DESTINATIONS_PATH = "/notifications/v1/destinations"
SUBSCRIPTIONS_PATH = "/notifications/v1/subscriptions"

# The datasets a sync needs: who bought, where it goes, what it's worth, how it ships.
DEFAULT_INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES")
INCLUDED_DATA = frozenset(
    DEFAULT_INCLUDED_DATA
    + ("EXPENSE", "PROMOTION", "CANCELLATION", "TAX", "PAYMENT", "FULFILLMENT_ORDERS")
)
MAX_MARKETPLACES = 50
MAX_REPORT_MARKETPLACES = 25  # CreateReportSpecification.marketplaceIds maxItems
REPORT_DONE_FAILED = frozenset({"FATAL", "CANCELLED"})
DOWNLOAD_CHUNK = 64 * 1024  # bytes read at a time from a report document's URL
_GZIP = zlib.MAX_WBITS | 16  # zlib's window bits for a gzip header and trailer
MAX_DESTINATION_NAME = 256  # Destination.name maxLength
MAX_QUEUE_ARN = 1000  # SqsResource.arn maxLength
# EventFilter.eventFilterType: the notification types whose subscriptions take an eventFilter.
EVENT_FILTER_TYPES = frozenset({"ANY_OFFER_CHANGED", "ORDER_CHANGE"})
_NOTIFICATION_TYPE = re.compile(r"[A-Z][A-Z0-9_]*")
# Amazon's subscription ids are UUIDs; a 409's details may name the existing one.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

USER_AGENT = "ordertools/0.1 (Language=Python)"
# searchOrders pages fetched ahead of the caller at most (see `_fetch_ahead`): about 4 MB, which
# a sync writes in about a third of a second, so one slow answer from Amazon does not stall it,
# and a window of any size is never held in memory whole. (2 and 10 measured the same here.)
PAGES_AHEAD = 10
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
PACING_SLACK = 0.05  # seconds added to each wait for a token (see _wait_for_token)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying. Attempts = 1 + retries; waits double from `initial` to `max`."""

    throttle_retries: int = 5  # 429s retried before `Throttled`
    failure_retries: int = 3  # 5xx, resets and timeouts retried before `ServerFailure`
    initial: float = 1.0
    max: float = 60.0
    jitter: float = 1.0
    timeout: tuple[float, float] = (10.0, 60.0)  # (connect, read) seconds for every request
    # getReport polls while a report is made: the first wait, doubling up to the second.
    report_poll: tuple[float, float] = (2.0, 60.0)


# For tests and benchmarks: the same shape of policy, over in milliseconds.
FAST_RETRIES = RetryPolicy(
    initial=0.01, max=0.05, jitter=0.01, timeout=(2.0, 5.0), report_poll=(0.02, 0.2)
)


@dataclass
class OperationStats:
    """What one operation cost: the sync report and the benchmark print these."""

    requests: int = 0
    throttled: int = 0  # 429 answers
    failures: int = 0  # 5xx answers, resets and timeouts
    retries: int = 0
    token_wait: float = 0.0  # seconds spent waiting for the local token bucket
    backoff: float = 0.0  # seconds spent backing off before retries


@dataclass
class _Budget:
    """Retries left in one call, per kind of trouble; a tenacity stop condition."""

    throttled: int
    failed: int
    attempts: int = field(default=0)

    def __call__(self, state: RetryCallState) -> bool:
        self.attempts = state.attempt_number
        if isinstance(state.outcome.exception(), Throttled):
            if state.outcome.exception().waits_for_next_round:
                return True
            self.throttled -= 1
            return self.throttled < 0
        self.failed -= 1
        return self.failed < 0


# How long closing waits for a prefetching request in flight before leaving it to its thread.
CLOSE_GRACE = 0.5
# How often a wait (or the caller waiting for a prefetched page) looks for Ctrl-C/SIGTERM.
STOP_POLL = 0.2


def _result_unless_stopped(future: Future):
    """The prefetched page; meanwhile a safe point for Ctrl-C/SIGTERM (no transaction is open
    here), so a stop is answered even while a request is in flight."""
    while True:
        try:
            return future.result(timeout=STOP_POLL)
        except FutureTimeout:
            stops.raise_if_requested()


class _DaemonThreads:
    """Runs prefetch tasks on daemon threads; `submit` gives the task's Future.

    Not a ThreadPoolExecutor: the interpreter joins those workers when it exits, so a request
    in flight (up to the read timeout, a minute) would hold a process that Ctrl-C or SIGTERM
    asked to end. A daemon thread's request is abandoned instead, and nothing is lost: a page
    read but not written is read again by the next sync. Prefetch chains its tasks (each page
    submits the next), so no more than two are ever at work for one client.

    The threads are the process's, shared by every client (`_idle_threads`): a round of
    `sync --all` makes a client per store, and starting a thread for each cost 0.12 ms of CPU
    apiece (measured alone; more among 16 workers), its start waiting for the new thread to
    run.
    """

    def __init__(self, name: str):
        self._name = name
        self._running: set[Future] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                future.cancel()
                return future
            self._running.add(future)
        future.add_done_callback(self._done)
        _idle_threads.run(future, fn, args)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._running.discard(future)

    def shutdown(self, grace: float) -> None:
        """No new tasks; wait up to `grace` seconds in all for the running ones."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        if running:
            futures_wait(running, timeout=grace)


class _IdleThreads:
    """The process's prefetch threads: a task goes to an idle one, or to a new one when none
    is idle; a thread idle for `IDLE_SECONDS` ends."""

    IDLE_SECONDS = 30.0

    def __init__(self, name: str):
        self._name = name
        self._forget_threads()
        # A forked child has none of its parent's threads (a task handed to one would wait
        # forever): it starts with none.
        if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
            os.register_at_fork(after_in_child=self._forget_threads)

    def _forget_threads(self) -> None:
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def run(self, future: Future, fn: Callable[..., Any], args: tuple) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1  # taken by this task: the next one finds one fewer
        self._tasks.put((future, fn, args))
        if start:
            threading.Thread(target=self._serve, name=self._name, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                future, fn, args = self._tasks.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0 and self._tasks.empty():
                        self._idle -= 1
                        return
                continue  # a task is on its way to this thread, counted as idle
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - the caller's result() raises it
                    future.set_exception(exc)
            del future, fn, args  # the finished page is the caller's, not this thread's
            with self._lock:
                self._idle += 1


_idle_threads = _IdleThreads("sp-api-next-page")


def new_session(connections: int | None = None) -> requests.Session:
    """An HTTP session as the clients use it; `connections`: how many may be open at once to
    one host (clients sharing the session from that many threads)."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    # requests reads the whole environment on every request, for proxy settings (and netrc, and
    # a CA bundle): with a refresh token per store in it, 1,000 stores made that most of a
    # round's CPU. Without a proxy configured, read what matters once, here.
    if not urllib.request.getproxies():
        session.trust_env = False
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
            "CURL_CA_BUNDLE", True
        )
    if connections:
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=connections)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return session


def send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """`session.request(method, url, **kwargs)`, for less CPU when the session reads nothing
    from the environment (`new_session` without a proxy).

    `Session.request` merges the session's settings into every request and then the
    environment's; with nothing to read there, preparing the request directly and handing it
    to `Session.send` gives the same exchange for a third less CPU per call (0.8 against
    1.2 ms, two calls per quiet store in a round of `sync --all`). The session's headers and
    cookies still go with it, and its answer's cookies still come back into the session.
    """
    if session.trust_env or session.auth or session.params:
        return session.request(method, url, **kwargs)
    sending = {
        "timeout": kwargs.pop("timeout", None),
        "stream": kwargs.pop("stream", False),
        "allow_redirects": kwargs.pop("allow_redirects", True),
        "verify": kwargs.pop("verify", session.verify),
        "cert": kwargs.pop("cert", session.cert),
        "proxies": kwargs.pop("proxies", session.proxies),
    }
    request = requests.PreparedRequest()
    request.prepare(
        method=method,
        url=url,
        headers=_merged(session.headers, kwargs.pop("headers", None)),
        cookies=session.cookies,
        hooks=session.hooks,
        **kwargs,
    )
    return session.send(request, **sending)


def _merged(session_headers, headers: dict | None) -> requests.structures.CaseInsensitiveDict:
    merged = requests.structures.CaseInsensitiveDict(session_headers)
    merged.update(headers or {})
    return merged


class AmazonClient:
    """An SP-API client for one store (one seller account in one region)."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        region: str = "na",
        endpoint: str | None = None,
        token_url: str = LWA_TOKEN_URL,
        store_name: str | None = None,
        plans: dict[str, tuple[float, int]] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        prefetch: bool = True,
        prefetch_first: bool = True,
        throttled_wait_limit: float | None = None,
    ):
        self.endpoint = (endpoint or endpoint_for(region)).rstrip("/")
        self.store_name = store_name
        self._for_store = f" for store {store_name}" if store_name else ""
        self._retry = retry
        # `sync --all`: a store Amazon throttles (its quota spent elsewhere) gives up when its
        # usage plan's next call is further off than this, instead of holding a worker for
        # minutes of retries; the next round reads it.
        self._throttled_wait_limit = throttled_wait_limit
        self._clock = clock
        # Waits (for a token, before a retry) end the moment the client closes: a worker
        # waiting minutes for Amazon's rate limit must not hold a Ctrl-C'd process.
        self._closing = Event()
        self._sleep = sleep or self._wait_unless_closed
        # Told of every wait before it starts: (operation, seconds, why). The sync shows it.
        self.on_wait: Callable[[str, float, str], None] | None = None
        # A session given (`sync --all` shares one pool of connections among its stores'
        # clients) is the giver's to close.
        self._owns_session = session is None
        if session is None:
            session = new_session()
        self._session = session
        # Two workers: one types a searchOrders page while the other fetches the next, and the
        # caller handles the one before (one request in flight at a time, as the pacing wants).
        self._prefetch = _DaemonThreads("sp-api-next-page") if prefetch else None
        # False: the first page is fetched on the caller's thread, prefetch starting with the
        # second. A round of `sync --all` has most stores on one page and its own thread per
        # store already; handing each first page to a prefetch thread cost 0.5 ms of CPU a
        # store (1.85 against 1.37 ms for a token and a page, measured alone). A stop then
        # waits for that one request to be answered (bounded by the read timeout).
        self._prefetch_first = prefetch_first
        self.buckets = {
            op: TokenBucket(rate, burst, clock)
            for op, (rate, burst) in {**DEFAULT_PLANS, **(plans or {})}.items()
        }
        self.stats: dict[str, OperationStats] = {op: OperationStats() for op in self.buckets}
        self.tokens = AccessTokens(
            credentials, token_url, self._send, store=store_name or "", clock=clock
        )
        # Grantless tokens, one per scope, made on first use (most clients never need one).
        self.grantless_tokens: dict[str, AccessTokens] = {}
        self._grantless_lock = threading.Lock()
        self._credentials, self._token_url = credentials, token_url

    def __repr__(self) -> str:
        return f"AmazonClient(store={self.store_name!r}, endpoint={self.endpoint!r})"

    def close(self) -> None:
        self._closing.set()
        if self._prefetch is not None:
            self._prefetch.shutdown(grace=CLOSE_GRACE)
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> AmazonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- operations ---------------------------------------------------------------------------

    def search_orders(
        self,
        *,
        marketplace_ids: Sequence[str],
        last_updated_after: datetime | None = None,
        last_updated_before: datetime | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        fulfillment_statuses: Iterable[str] | None = None,
        max_results_per_page: int = 100,
        included_data: Iterable[str] = DEFAULT_INCLUDED_DATA,
    ) -> Iterator[SearchPage]:
        """Every page of orders matching the filters, fetched as the caller iterates.

        The arguments are checked here, before anything is sent, so a mistake raises
        `InvalidInput` at the call rather than at the first page.
        """
        query = _search_query(
            marketplace_ids=marketplace_ids,
            last_updated_after=last_updated_after,
            last_updated_before=last_updated_before,
            created_after=created_after,
            created_before=created_before,
            fulfillment_statuses=fulfillment_statuses,
            max_results_per_page=max_results_per_page,
            included_data=included_data,
        )
        return self._pages(query)

    def check_access(self, marketplace_id: str, *, before: datetime) -> None:
        """One searchOrders call for at most one order created in the day before `before`:
        proves the credentials work and the API answers, or raises the typed error that says
        why. For a sync with nothing to read yet, which must not report success unasked.
        One request, no prefetch: at Amazon's pace every searchOrders call counts."""
        query = _search_query(
            marketplace_ids=[marketplace_id],
            last_updated_after=None,
            last_updated_before=None,
            created_after=before - timedelta(days=1),
            created_before=before,
            fulfillment_statuses=None,
            max_results_per_page=1,
            included_data=DEFAULT_INCLUDED_DATA,
        )
        self._fetch(query, None)

    def _pages(self, query: dict[str, str]) -> Iterator[SearchPage]:
        seen: set[str] = set()
        for page in self._typed_pages(query):
            # Amazon may serve an order again at the top of the next page: yield it once.
            fresh = [order for order in page.orders if order.order_id not in seen]
            if len(fresh) < len(page.orders):
                log.debug("searchOrders: dropped %d repeats", len(page.orders) - len(fresh))
                page = replace(page, orders=fresh)
            seen.update(order.order_id for order in fresh)
            yield page

    def _typed_pages(self, query: dict[str, str]) -> Iterator[SearchPage]:
        """The pages in order; with prefetch, fetched and typed ahead on the worker threads."""
        if self._prefetch is None:
            token: str | None = None
            while True:
                page = self._fetch_and_type(query, token)
                yield page
                if (token := page.next_token) is None:
                    return
        stop = Event()
        window = Semaphore(PAGES_AHEAD)
        ahead: Future | None = None
        try:
            if self._prefetch_first:
                ahead = self._prefetch.submit(self._fetch_ahead, query, None, stop, window)
            else:  # the first page here, the next one asked for before it is typed
                raw_orders, token = self._fetch(query, None)
                if token:
                    ahead = self._prefetch.submit(self._fetch_ahead, query, token, stop, window)
                yield type_orders(raw_orders, token)
            while ahead is not None:
                page, ahead = _result_unless_stopped(ahead)
                window.release()  # the caller has this page: one more may be fetched
                yield page
        finally:
            stop.set()  # the caller stopped early: no further page is asked for
            if ahead is not None:
                ahead.cancel()

    def _fetch_ahead(
        self, query: dict[str, str], token: str | None, stop: Event, window: Semaphore
    ) -> tuple[SearchPage, Future | None] | None:
        """Fetch one page, ask for the next one on the other worker as soon as its token is
        known, then type this one: the caller's thread (a sync writing the previous page)
        gets typed pages, and the next request travels meanwhile.

        At most `PAGES_AHEAD` pages wait for the caller (`window`): a client faster than its
        caller would otherwise hold the whole window's orders in memory (a first sync of 40,000
        orders from the emulator peaked at 182 MB that way, 101 MB with the window)."""
        while not window.acquire(timeout=0.1):
            if stop.is_set():
                return None  # the caller stopped; nobody reads this
        raw_orders, next_token = self._fetch(query, token)
        ahead = None
        if next_token and not stop.is_set():
            ahead = self._prefetch.submit(self._fetch_ahead, query, next_token, stop, window)
        return type_orders(raw_orders, next_token), ahead

    def _fetch_and_type(self, query: dict[str, str], token: str | None) -> SearchPage:
        raw_orders, next_token = self._fetch(query, token)
        return type_orders(raw_orders, next_token)

    def _fetch(self, query: dict[str, str], token: str | None):
        """One searchOrders page, split into raw orders and the next token (see _call).
        Amazon wants every filter repeated with the same values beside the token."""
        params = query if token is None else {**query, "paginationToken": token}
        return self._call(
            "searchOrders", "GET", SEARCH_ORDERS_PATH, params, decode=split_search_page
        )

    def get_order(
        self, order_id: str, included_data: Iterable[str] = DEFAULT_INCLUDED_DATA
    ) -> AmazonOrder:
        """One order by its Amazon id; `NotFound` when this seller has no such order."""
        params = {"includedData": _included(included_data, "getOrder")}
        path = GET_ORDER_PATH.format(order_id=quote(_order_id(order_id, "getOrder"), safe=""))
        body = self._call("getOrder", "GET", path, params)
        return parse_order(body.get("order") if isinstance(body, dict) else None)

    def confirm_shipment(
        self,
        order_id: str,
        *,
        marketplace_id: str,
        package_reference_id: str,
        carrier_code: str,
        tracking_number: str,
        ship_date: datetime,
        items: list[tuple[str, int]],
        carrier_name: str | None = None,
        shipping_method: str | None = None,
    ) -> None:
        """Tell Amazon a package left (v0 confirmShipment); returns when Amazon accepted it."""
        body = _shipment_confirmation(
            marketplace_id=marketplace_id,
            package_reference_id=package_reference_id,
            carrier_code=carrier_code,
            tracking_number=tracking_number,
            ship_date=ship_date,
            items=items,
            carrier_name=carrier_name,
            shipping_method=shipping_method,
        )
        order = quote(_order_id(order_id, "confirmShipment"), safe="")
        path = CONFIRM_SHIPMENT_PATH.format(order_id=order)
        self._call("confirmShipment", "POST", path, body=body)

    def cancel_order(
        self, order_id: str, *, marketplace_id: str, reason: str, item_ids: Sequence[str]
    ) -> str:
        """Ask Amazon to cancel an unshipped order; returns the feed id to follow up with.

        The Orders API has no cancel operation: a seller submits an order-acknowledgement feed
        (see `amazon/feeds.py`). Amazon accepting the feed is not the order canceled: follow
        `feed_result(feed_id)`, then the order's status.
        """
        op = "createFeed"
        known = canonical_reason(reason or "")
        if known is None:
            raise _invalid(op, f"unknown cancel reason {reason!r}")
        if not item_ids:
            raise _invalid(op, "item_ids: give the order's order item ids")
        cancel = Cancellation(_order_id(order_id, op), tuple(item_ids), known)
        document = self._call(
            "createFeedDocument", "POST", FEED_DOCUMENTS_PATH, body={"contentType": CONTENT_TYPE}
        )
        # MerchantIdentifier only labels the document: the access token names the seller.
        feed_document = acknowledgement_feed(self.store_name or "ordertools", [cancel])
        self._upload(document["url"], feed_document)
        feed = self._call(
            op,
            "POST",
            FEEDS_PATH,
            body={
                "feedType": ORDER_ACKNOWLEDGEMENT,
                "marketplaceIds": [marketplace_id],
                "inputFeedDocumentId": document["feedDocumentId"],
            },
        )
        return str(feed["feedId"])

    def feed_result(self, feed_id: str) -> tuple[str, ProcessingReport | None]:
        """A feed's processingStatus, and its processing report once it is DONE."""
        path = f"{FEEDS_PATH}/{quote(feed_id, safe='')}"
        feed = self._call("getFeed", "GET", path)
        status = feed.get("processingStatus", "IN_QUEUE")
        result_id = feed.get("resultFeedDocumentId")
        if status != "DONE" or not result_id:
            return status, None
        path = f"{FEED_DOCUMENTS_PATH}/{quote(result_id, safe='')}"
        document = self._call("getFeedDocument", "GET", path)
        response = self._send("getFeedDocument", "GET", document["url"])
        if response.status_code >= 300:
            raise ServerFailure(
                f"could not download the result of feed {feed_id}{self._for_store} "
                f"(HTTP {response.status_code}); try again later",
                operation="getFeedDocument",
                status=response.status_code,
            )
        try:
            return status, read_processing_report(response.content)
        except ValueError as exc:
            raise ServerFailure(
                f"Amazon's result for feed {feed_id} is unreadable: {exc}",
                operation="getFeedDocument",
            ) from None

    def _upload(self, url: str, content: bytes) -> None:
        """PUT a feed document to its pre-signed URL (S3: no access token)."""
        headers = {"Content-Type": CONTENT_TYPE}
        response = self._send("createFeedDocument", "PUT", url, data=content, headers=headers)
        if response.status_code >= 300:
            raise ServerFailure(
                f"could not upload a feed document{self._for_store} (HTTP "
                f"{response.status_code}); try again later",
                operation="createFeedDocument",
                status=response.status_code,
            )

    # -- order reports (Reports API 2021-06-30) -------------------------------------------------

    def create_report(
        self,
        report_type: str,
        marketplace_ids: Sequence[str],
        data_start: datetime,
        data_end: datetime,
    ) -> str:
        """Ask Amazon for a report of `data_start`..`data_end`; returns its report id.

        Amazon makes it asynchronously: follow it with `wait_for_report`. The order reports
        (`ORDER_REPORT`) cover at most 30 days a request.
        """
        return self._create_report(
            _report_specification(report_type, marketplace_ids, data_start, data_end)
        )

    def _create_report(self, specification: dict[str, Any]) -> str:
        answer = self._call("createReport", "POST", REPORTS_PATH, body=specification)
        report_id = answer.get("reportId") if isinstance(answer, dict) else None
        if not isinstance(report_id, str) or not report_id:
            raise ServerFailure(
                f"Amazon accepted createReport{self._for_store} without a reportId; try again "
                "later",
                operation="createReport",
            )
        return report_id

    def get_report(self, report_id: str) -> Report:
        """The report's processingStatus, and its document id once it is DONE."""
        op = "getReport"
        path = f"{REPORTS_PATH}/{quote(_identifier(report_id, op, 'report id'), safe='')}"
        body = self._call(op, "GET", path)
        status = body.get("processingStatus") if isinstance(body, dict) else None
        if not isinstance(status, str):
            raise ServerFailure(
                f"Amazon described report {report_id}{self._for_store} without a "
                "processingStatus; try again later",
                operation=op,
            )
        document_id = body.get("reportDocumentId")
        return Report(
            report_id=str(body.get("reportId") or report_id),
            processing_status=status,
            document_id=document_id if isinstance(document_id, str) and document_id else None,
            report_type=body.get("reportType") if isinstance(body.get("reportType"), str) else None,
        )

    def wait_for_report(self, report_id: str, *, timeout: float = 3600) -> str:
        """Poll getReport until the report is DONE; returns its document id.

        The polls back off (`RetryPolicy.report_poll`: 2 s doubling to 60 s), each wait
        announced through `on_wait` as ("getReport", seconds, "report <id> is IN_PROGRESS"),
        and a closed client or Ctrl-C/SIGTERM ends the wait (`ClientClosed`). FATAL and
        CANCELLED raise `ReportFailed`; still not DONE after `timeout` seconds,
        `ReportTimedOut`.
        """
        op = "getReport"
        _identifier(report_id, op, "report id")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise _invalid(op, f"timeout must be a number of seconds above 0, got {timeout!r}")
        pause, longest = self._retry.report_poll
        started = self._clock()
        while True:
            report = self.get_report(report_id)
            status = report.processing_status
            if status == "DONE":
                if report.document_id:
                    return report.document_id
                raise ReportFailed(
                    f"Amazon finished report {report_id}{self._for_store} without a document: "
                    "request the report again",
                    report_id=report_id,
                    processing_status=status,
                    operation=op,
                )
            if status in REPORT_DONE_FAILED:
                raise ReportFailed(
                    _report_failure(report, self._for_store),
                    report_id=report_id,
                    processing_status=status,
                    operation=op,
                )
            waited = self._clock() - started
            if waited >= timeout:
                raise ReportTimedOut(
                    f"report {report_id}{self._for_store} is still {status} after "
                    f"{timeout:g} s: Amazon is slow today; wait for the same report id again "
                    "later",
                    report_id=report_id,
                    processing_status=status,
                    operation=op,
                )
            wait = min(pause, timeout - waited)
            self._announce_wait(op, wait, f"report {report_id} is {status}")
            self._sleep(wait)
            pause = min(pause * 2, longest)

    def report_lines(self, document_id: str) -> Iterator[str]:
        """The report document's lines (without line endings) as they download.

        getReportDocument names a pre-signed URL (valid for five minutes), fetched here as a
        stream without the access token (it is S3's, not the SP-API's), gunzipped on the fly
        when Amazon compressed it. Lines are UTF-8; a line that is not (Amazon writes some
        marketplaces' flat files in Windows-1252) is read as Windows-1252. A download cut
        short raises `ServerFailure` (transient) at that point of the stream.
        """
        op = "getReportDocument"
        document_id = _identifier(document_id, op, "report document id")
        return self._document_lines(document_id)

    def _document_lines(self, document_id: str) -> Iterator[str]:
        op = "getReportDocument"
        path = f"{REPORT_DOCUMENTS_PATH}/{quote(document_id, safe='')}"
        document = self._call(op, "GET", path)
        url = document.get("url") if isinstance(document, dict) else None
        if not isinstance(url, str) or not url:
            raise ServerFailure(
                f"Amazon described report document {document_id}{self._for_store} without "
                "a URL; try again later",
                operation=op,
            )
        gzipped = document.get("compressionAlgorithm") == "GZIP"
        cut_short = ServerFailure(
            f"the download of report document {document_id}{self._for_store} was cut short; "
            "request the report again",
            operation=op,
        )
        response = self._send(op, "GET", url, stream=True)
        try:
            if response.status_code >= 300:
                raise ServerFailure(
                    f"could not download report document {document_id}{self._for_store} "
                    f"(HTTP {response.status_code}); request the report again",
                    operation=op,
                    status=response.status_code,
                )
            chunks = response.iter_content(DOWNLOAD_CHUNK)
            yield from _text_lines(_gunzipped(chunks, cut_short) if gzipped else chunks)
        except (requests.RequestException, zlib.error) as exc:
            self.stats[op].failures += 1
            raise cut_short from exc
        finally:
            response.close()

    def order_report(
        self, marketplace_id: str, start: datetime, end: datetime, *, timeout: float = 3600
    ) -> Iterator[ReportRow]:
        """Every row of the order report of orders updated in `start`..`end` (at most 30
        days): createReport, wait for it, then the document parsed as it downloads.

        The arguments are checked at the call (`InvalidInput`); the requests go out as the
        caller iterates. See `reports.parse_order_report` for the rows and
        `reports.orders_in_report` to fold them per order.
        """
        specification = _report_specification(ORDER_REPORT, [marketplace_id], start, end)
        return self._report_rows(specification, timeout)

    def _report_rows(self, specification: dict[str, Any], timeout: float) -> Iterator[ReportRow]:
        report_id = self._create_report(specification)
        document_id = self.wait_for_report(report_id, timeout=timeout)
        try:
            yield from parse_order_report(self.report_lines(document_id))
        except ReportFailed as exc:  # the header: not an order report
            raise ReportFailed(
                f"report {report_id}{self._for_store}: {exc}",
                report_id=report_id,
                processing_status="DONE",
                operation="getReportDocument",
            ) from None

    # -- notifications (Notifications API v1) ------------------------------------------------

    def create_destination(self, name: str, queue_arn: str) -> Destination:
        """Register the app's SQS queue as a destination (grantless); returns it.

        Amazon keeps one destination per queue: a second one for the same ARN raises
        `Conflict` (find the first in `destinations()`).
        """
        op = "createDestination"
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_DESTINATION_NAME:
            raise _invalid(op, f"name must be 1 to {MAX_DESTINATION_NAME} characters")
        _queue_arn(queue_arn, op)
        body = {"name": name, "resourceSpecification": {"sqs": {"arn": queue_arn}}}
        answer = self._call(op, "POST", DESTINATIONS_PATH, body=body, scope=NOTIFICATIONS_SCOPE)
        return self._typed(op, destination_from, _payload(answer))

    def destinations(self) -> list[Destination]:
        """Every destination of the app (grantless)."""
        op = "getDestinations"
        answer = self._call(op, "GET", DESTINATIONS_PATH, scope=NOTIFICATIONS_SCOPE)
        payload = _payload(answer)
        if not isinstance(payload, list):
            raise self._unreadable(op)
        return [self._typed(op, destination_from, entry) for entry in payload]

    def delete_destination(self, destination_id: str) -> None:
        """Delete a destination (grantless); `NotFound` when there is none with that id.

        Amazon refuses while a subscription still sends there: that raises `Conflict`."""
        op = "deleteDestination"
        destination = quote(_identifier(destination_id, op, "destination id"), safe="")
        path = f"{DESTINATIONS_PATH}/{destination}"
        try:
            self._call(op, "DELETE", path, scope=NOTIFICATIONS_SCOPE)
        except AccessDenied as refused:
            if "has subscriptions" not in str(refused).lower():
                raise
            raise Conflict(
                f"Amazon keeps destination {destination_id}{self._for_store}: subscriptions "
                "still send there; delete them first (delete_subscription)",
                operation=op,
                status=refused.status,
                code=refused.code,
            ) from None

    def create_subscription(
        self,
        notification_type: str,
        destination_id: str,
        marketplace_ids: Sequence[str] | None = None,
        *,
        payload_version: str = ORDER_CHANGE_PAYLOAD_VERSION,
    ) -> Subscription:
        """Subscribe the store's seller to `notification_type` (ORDER_CHANGE), sent to the
        destination; only for `marketplace_ids` when given (an eventFilter), else for all.

        One subscription per notification type and seller: when one exists Amazon answers 409
        and this raises `SubscriptionExists`, with the existing id when Amazon names it.
        """
        op = "createSubscription"
        kind = _notification_type(notification_type, op)
        body: dict[str, Any] = {
            "payloadVersion": _identifier(payload_version, op, "payload version"),
            "destinationId": _identifier(destination_id, op, "destination id"),
        }
        if marketplace_ids is not None:
            wanted = (
                [marketplace_ids] if isinstance(marketplace_ids, str) else list(marketplace_ids)
            )
            if not wanted or not all(isinstance(m, str) and m for m in wanted):
                raise _invalid(op, "marketplace_ids: give marketplace ids, or None for all")
            if kind not in EVENT_FILTER_TYPES:
                raise _invalid(op, f"{kind} subscriptions take no marketplace filter")
            body["processingDirective"] = {
                "eventFilter": {"eventFilterType": kind, "marketplaceIds": wanted}
            }
        path = f"{SUBSCRIPTIONS_PATH}/{quote(kind, safe='')}"
        try:
            answer = self._call(op, "POST", path, body=body)
        except Conflict as exc:
            raise _subscription_exists(exc, kind, self._for_store) from None
        return self._typed(op, subscription_from, _payload(answer))

    def subscription(self, notification_type: str) -> Subscription | None:
        """The seller's subscription to `notification_type`, or None when there is none."""
        op = "getSubscription"
        path = f"{SUBSCRIPTIONS_PATH}/{quote(_notification_type(notification_type, op), safe='')}"
        try:
            answer = self._call(op, "GET", path)
        except NotFound:
            return None
        return self._typed(op, subscription_from, _payload(answer))

    def delete_subscription(self, notification_type: str, subscription_id: str) -> None:
        """Delete a subscription by id (grantless, as the model says); `NotFound` when there is
        none. Amazon stops sending its notifications."""
        op = "deleteSubscriptionById"
        kind = quote(_notification_type(notification_type, op), safe="")
        subscription = quote(_identifier(subscription_id, op, "subscription id"), safe="")
        path = f"{SUBSCRIPTIONS_PATH}/{kind}/{subscription}"
        self._call(op, "DELETE", path, scope=NOTIFICATIONS_SCOPE)

    def _typed(self, operation: str, parse: Callable[[Any], Any], payload: Any) -> Any:
        try:
            return parse(payload)
        except ValueError:
            raise self._unreadable(operation) from None

    def _unreadable(self, operation: str) -> ServerFailure:
        return ServerFailure(
            f"Amazon answered {operation}{self._for_store} without the payload the model "
            "describes; try again later",
            operation=operation,
        )

    def _token_source(self, scope: str | None) -> AccessTokens:
        """The store's tokens, or the app's grantless ones for `scope` (made once)."""
        if scope is None:
            return self.tokens
        with self._grantless_lock:
            if scope not in self.grantless_tokens:
                self.grantless_tokens[scope] = AccessTokens(
                    self._credentials,
                    self._token_url,
                    self._send,
                    store=self.store_name or "",
                    clock=self._clock,
                    scope=scope,
                )
            return self.grantless_tokens[scope]

    def _secrets(self) -> tuple[str, ...]:
        grantless = tuple(self.grantless_tokens.values())
        return tuple(s for tokens in (self.tokens, *grantless) for s in tokens.secrets())

    # -- one operation call: pacing, retries, errors ------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        *,
        body: dict[str, Any] | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
        scope: str | None = None,
    ) -> Any:
        """The decoded answer (None for an empty one), after bounded retries.

        `decode` turns the response bytes into the result; a body it cannot read (cut short in
        transit) is retried like a server failure. `scope` names a grantless operation's scope:
        its token is the app's for that scope, not the store's.
        """
        tokens = self._token_source(scope)
        budget = _Budget(self._retry.throttle_retries, self._retry.failure_retries)
        uncertain: list[ServerFailure] = []  # attempts that may have taken effect unanswered
        retrying = Retrying(
            retry=retry_if_exception_type((Throttled, ServerFailure)),
            stop=budget,
            wait=wait_exponential_jitter(
                multiplier=self._retry.initial, max=self._retry.max, jitter=self._retry.jitter
            ),
            sleep=self._sleep,
            before_sleep=lambda state: self._before_retry(operation, state, uncertain),
            reraise=True,
        )
        try:
            return retrying(
                self._attempt, operation, method, self.endpoint + path, params, body, decode, tokens
            )
        except (Throttled, ServerFailure) as exc:
            if budget.attempts <= 1:
                raise
            raise type(exc)(
                f"{exc} (gave up after {budget.attempts} attempts)",
                operation=exc.operation,
                status=exc.status,
                code=exc.code,
            ) from exc
        except AmazonError as exc:
            exc.after_uncertain_attempt = bool(uncertain)
            raise

    def _before_retry(
        self, operation: str, state: RetryCallState, uncertain: list[ServerFailure]
    ) -> None:
        if isinstance(state.outcome.exception(), ServerFailure):
            uncertain.append(state.outcome.exception())
        stats = self.stats[operation]
        stats.retries += 1
        wait = state.next_action.sleep if state.next_action else 0.0
        stats.backoff += wait
        self._announce_wait(operation, wait, f"retry after: {state.outcome.exception()}")
        log.info(
            "%s: %s; retry %d in %.2f s",
            operation,
            state.outcome.exception(),
            state.attempt_number,
            wait,
        )

    def _attempt(
        self,
        operation: str,
        method: str,
        url: str,
        params: dict | None,
        body: dict | None,
        decode: Callable[[bytes], Any],
        tokens: AccessTokens,
    ) -> Any:
        bucket = self.buckets[operation]
        stats = self.stats[operation]
        for renewed in (False, True):
            stats.token_wait += self._wait_for_token(operation, bucket)
            headers = {"x-amz-access-token": tokens.current()}
            stats.requests += 1
            response = self._send(operation, method, url, params=params, json=body, headers=headers)
            if response.status_code == 403 and not renewed and _token_expired(response):
                # The one refresh-and-retry: Amazon expired the token before our cache did.
                tokens.invalidate()
                continue
            if response.status_code < 300:
                _learn_rate(bucket, response)
                return self._decode(operation, response, decode)
            raise self._error(operation, response)
        raise AssertionError("unreachable")

    def _wait_unless_closed(self, seconds: float) -> None:
        """Sleep; end at once (ClientClosed) when the client closes or Ctrl-C/SIGTERM came."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._closing.wait(min(left, STOP_POLL)) or stops.requested():
                raise ClientClosed(
                    f"the SP-API client{self._for_store} was stopped while it waited"
                )

    def _announce_wait(self, operation: str, seconds: float, why: str) -> None:
        if self.on_wait is not None and seconds > 0:
            self.on_wait(operation, seconds, why)

    def _wait_for_token(self, operation: str, bucket: TokenBucket) -> float:
        """Wait until the bucket has a token and spend it; returns the seconds waited.

        Each wait is stretched by a little slack: requests reach Amazon after a varying
        latency, and a request that travels faster than the one before it finds Amazon's
        bucket a fraction short. The slack carries over as a fraction of a token, so it
        shifts the schedule once rather than slowing every request.
        """
        waited = 0.0
        while (wait := bucket.try_take()) > 0:
            pause = wait + min(PACING_SLACK + 0.02 / bucket.rate, 5.0)
            self._announce_wait(operation, pause, "rate limit")
            self._sleep(pause)
            waited += pause
        return waited

    def _decode(
        self, operation: str, response: requests.Response, decode: Callable[[bytes], Any]
    ) -> Any:
        if not response.content:
            return None
        try:
            return decode(response.content)
        except ValueError:
            # A body cut short in transit; asking again is the cure.
            self.stats[operation].failures += 1
            raise ServerFailure(
                f"Amazon sent unreadable JSON for {operation}{self._for_store}",
                operation=operation,
                status=response.status_code,
            ) from None
        except MalformedOrder:
            # JSON, but not the page the model describes (no orders list): the whole answer
            # is unusable, unlike one bad order in a page, which the page's typing keeps aside.
            self.stats[operation].failures += 1
            raise self._unreadable(operation) from None

    def _send(self, operation: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange with a timeout; transport trouble becomes a retryable failure."""
        started = time.perf_counter()
        try:
            response = send(self._session, method, url, timeout=self._retry.timeout, **kwargs)
        except requests.RequestException as exc:
            if operation in self.stats:
                self.stats[operation].failures += 1
            # An endpoint on this machine is the emulator (Amazon never is): when it does not
            # answer, the emulator is not running (or on another port), not the network.
            hostname = (urlsplit(url).hostname or "").lower()
            on_this_machine = hostname in ("localhost", "::1") or hostname.startswith("127.")
            advice = (
                "is `ordertools emulator` running?"
                if on_this_machine
                else "check the network, or try again later"
            )
            raise ServerFailure(
                f"could not reach {_host(url)} for {operation}{self._for_store} "
                f"({_transport_problem(exc)}): {advice}",
                operation=operation,
            ) from None  # requests' exception text would bring the URL's noise, not a secret
        log.debug(
            "%s %s %s -> %d in %.3f s",
            operation,
            method,
            _path(url),
            response.status_code,
            time.perf_counter() - started,
        )
        return response

    def _error(self, operation: str, response: requests.Response) -> AmazonError:
        """The typed error for a non-success answer (and the bucket drained after a 429)."""
        status = response.status_code
        code, message = self._amazon_reason(response)
        what = f"{operation}{self._for_store}"
        kwargs = {"operation": operation, "status": status, "code": code}
        if status == 429:
            bucket = self.buckets[operation]
            bucket.drain()
            self.stats[operation].throttled += 1
            error = Throttled(f"Amazon throttled {what} (429 {code or 'QuotaExceeded'})", **kwargs)
            limit, next_call = self._throttled_wait_limit, 1.0 / bucket.rate
            if limit is not None and next_call > limit:
                minutes, seconds = divmod(round(next_call), 60)
                error = Throttled(
                    f"{error}: its usage plan allows the next call in {minutes}:{seconds:02d}, "
                    "so the store waits for the next round",
                    **kwargs,
                )
                error.waits_for_next_round = True
            return error
        if status in RETRYABLE_STATUSES:
            self.stats[operation].failures += 1
            return ServerFailure(f"Amazon failed {what} (HTTP {status}): {message}", **kwargs)
        if status == 400:
            return InvalidInput(f"Amazon rejected {what} (400 {code}): {message}", **kwargs)
        if status in (401, 403):
            return AccessDenied(
                f"Amazon denied {what} ({status} {code}): {message}; check the app's roles and "
                "that the store authorized it",
                **kwargs,
            )
        if status == 404:
            return NotFound(f"Amazon found nothing for {what} (404): {message}", **kwargs)
        if status == 409:
            return Conflict(f"Amazon refused {what} (409 {code}): {message}", **kwargs)
        return AmazonError(f"Amazon answered HTTP {status} to {what}: {message}", **kwargs)

    def _amazon_reason(self, response: requests.Response) -> tuple[str | None, str]:
        """Amazon's first error code and its message (+ details), scrubbed of secrets."""
        try:
            errors = response.json().get("errors") or []
            first = errors[0]
            code = first.get("code")
            text = ": ".join(str(t) for t in (first.get("message"), first.get("details")) if t)
        except (ValueError, AttributeError, IndexError, TypeError):
            code, text = None, response.reason or ""
        return code, scrub(text or "no reason given", self._secrets())


# -- request building and local validation ------------------------------------------------------


def _search_query(
    *,
    marketplace_ids: Sequence[str],
    last_updated_after: datetime | None,
    last_updated_before: datetime | None,
    created_after: datetime | None,
    created_before: datetime | None,
    fulfillment_statuses: Iterable[str] | None,
    max_results_per_page: int,
    included_data: Iterable[str],
) -> dict[str, str]:
    """searchOrders' query string, after the checks Amazon would otherwise answer 400 to."""
    op = "searchOrders"
    if isinstance(marketplace_ids, str):
        marketplace_ids = [marketplace_ids]
    if not marketplace_ids or len(marketplace_ids) > MAX_MARKETPLACES:
        raise _invalid(op, f"marketplace_ids: give 1 to {MAX_MARKETPLACES} marketplace ids")
    if (created_after is None) == (last_updated_after is None):
        raise _invalid(op, "give exactly one of created_after and last_updated_after")
    if created_after is not None and last_updated_before is not None:
        raise _invalid(op, "last_updated_before goes with last_updated_after, not created_after")
    if last_updated_after is not None and created_before is not None:
        raise _invalid(op, "created_before goes with created_after, not last_updated_after")
    if isinstance(max_results_per_page, bool) or not 1 <= max_results_per_page <= 100:
        raise _invalid(op, f"max_results_per_page must be 1 to 100, got {max_results_per_page}")

    query = {"marketplaceIds": ",".join(marketplace_ids)}
    for name, after, before in (
        ("created", created_after, created_before),
        ("lastUpdated", last_updated_after, last_updated_before),
    ):
        if after is None:
            continue
        query[f"{name}After"] = _instant(op, f"{name}After", after)
        if before is not None:
            query[f"{name}Before"] = _instant(op, f"{name}Before", before)
            if before < after:
                raise _invalid(op, f"{name}Before ({before}) is earlier than {name}After ({after})")
    if fulfillment_statuses is not None:
        statuses = list(fulfillment_statuses)
        unknown = sorted(set(statuses) - KNOWN_STATUSES)
        if unknown or not statuses:
            known = ", ".join(sorted(KNOWN_STATUSES))
            raise _invalid(op, f"fulfillment_statuses: unknown {unknown}; use some of {known}")
        query["fulfillmentStatuses"] = ",".join(statuses)
    query["maxResultsPerPage"] = str(max_results_per_page)
    query["includedData"] = _included(included_data, op)
    return query


def _included(included_data: Iterable[str], op: str) -> str:
    datasets = [included_data] if isinstance(included_data, str) else list(included_data)
    unknown = sorted(set(datasets) - INCLUDED_DATA)
    if unknown:
        raise _invalid(op, f"included_data: unknown {unknown}; use {sorted(INCLUDED_DATA)}")
    return ",".join(datasets)


def _shipment_confirmation(
    *,
    marketplace_id: str,
    package_reference_id: str,
    carrier_code: str,
    tracking_number: str,
    ship_date: datetime,
    items: list[tuple[str, int]],
    carrier_name: str | None,
    shipping_method: str | None,
) -> dict[str, Any]:
    """confirmShipment's body (ConfirmShipmentRequest), after Amazon's stated rules."""
    op = "confirmShipment"
    if not marketplace_id:
        raise _invalid(op, "marketplace_id is required")
    if not (
        isinstance(package_reference_id, str)
        and package_reference_id.isdigit()
        and int(package_reference_id) > 0
    ):
        raise _invalid(
            op,
            f"package_reference_id must be a positive number as a string, "
            f"got {package_reference_id!r}",
        )
    if not carrier_code or not tracking_number:
        raise _invalid(op, "carrier_code and tracking_number are required")
    if carrier_code == "Other" and not carrier_name:
        raise _invalid(op, 'carrier_name is required when carrier_code is "Other"')
    if not items or any(not item_id or quantity < 1 for item_id, quantity in items):
        raise _invalid(op, "items: give at least one (order item id, quantity >= 1)")
    package: dict[str, Any] = {
        "packageReferenceId": package_reference_id,
        "carrierCode": carrier_code,
        "trackingNumber": tracking_number,
        "shipDate": _instant(op, "shipDate", ship_date),
        "orderItems": [{"orderItemId": i, "quantity": int(q)} for i, q in items],
    }
    if carrier_name:
        package["carrierName"] = carrier_name
    if shipping_method:
        package["shippingMethod"] = shipping_method
    return {"marketplaceId": marketplace_id, "packageDetail": package}


def _report_specification(
    report_type: str, marketplace_ids: Sequence[str], data_start: datetime, data_end: datetime
) -> dict[str, Any]:
    """createReport's body (CreateReportSpecification), after the rules Amazon states."""
    op = "createReport"
    if not isinstance(report_type, str) or not report_type.strip():
        raise _invalid(op, f"report_type must be a report type name, got {report_type!r}")
    if isinstance(marketplace_ids, str):
        marketplace_ids = [marketplace_ids]
    marketplace_ids = list(marketplace_ids)
    if not 1 <= len(marketplace_ids) <= MAX_REPORT_MARKETPLACES or not all(
        isinstance(m, str) and m for m in marketplace_ids
    ):
        raise _invalid(op, f"marketplace_ids: give 1 to {MAX_REPORT_MARKETPLACES} marketplace ids")
    start = _instant(op, "dataStartTime", data_start)
    end = _instant(op, "dataEndTime", data_end)
    if data_end < data_start:
        raise _invalid(op, f"dataEndTime ({data_end}) is earlier than dataStartTime ({data_start})")
    if report_type in ORDER_REPORTS and data_end - data_start > MAX_ORDER_REPORT_WINDOW:
        raise _invalid(
            op,
            f"an order report covers at most {MAX_ORDER_REPORT_WINDOW.days} days; "
            f"{data_start:%Y-%m-%d} to {data_end:%Y-%m-%d} is longer: split the window",
        )
    return {
        "reportType": report_type,
        "marketplaceIds": marketplace_ids,
        "dataStartTime": start,
        "dataEndTime": end,
    }


def _instant(op: str, name: str, moment: datetime) -> str:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise _invalid(op, f"{name} must be a timezone-aware datetime, got {moment!r}")
    return utc_iso(moment)


def _order_id(order_id: str, op: str) -> str:
    if not isinstance(order_id, str) or not order_id.strip():
        raise _invalid(op, f"order id must be a non-empty string, got {order_id!r}")
    return order_id


def _identifier(value: str, op: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(op, f"{what} must be a non-empty string, got {value!r}")
    return value


def _queue_arn(queue_arn: str, op: str) -> str:
    try:
        parse_queue_arn(queue_arn)
    except ValueError as bad:
        raise _invalid(op, str(bad)) from None
    if len(queue_arn) > MAX_QUEUE_ARN:
        raise _invalid(op, f"queue ARN longer than {MAX_QUEUE_ARN} characters")
    return queue_arn


def _notification_type(notification_type: str, op: str) -> str:
    if not isinstance(notification_type, str) or not _NOTIFICATION_TYPE.fullmatch(
        notification_type
    ):
        raise _invalid(
            op, f"notification type must be a name like ORDER_CHANGE, got {notification_type!r}"
        )
    return notification_type


def _subscription_exists(conflict: Conflict, kind: str, for_store: str) -> SubscriptionExists:
    """createSubscription's 409 as `SubscriptionExists`, with the id Amazon named, if any."""
    found = _UUID.search(str(conflict))
    subscription_id = found.group(0) if found else None
    advice = (
        f"subscription {subscription_id}: reuse it"
        if subscription_id
        else "read it with subscription()"
    )
    exists = SubscriptionExists(
        f"{kind}: the seller{for_store} is subscribed already ({advice})",
        subscription_id=subscription_id,
        operation=conflict.operation,
        status=conflict.status,
        code=conflict.code,
    )
    exists.after_uncertain_attempt = conflict.after_uncertain_attempt
    return exists


def _payload(answer: Any) -> Any:
    """The Notifications API's answers wrap what was asked for in `payload`."""
    return answer.get("payload") if isinstance(answer, dict) else None


def _invalid(op: str, reason: str) -> InvalidInput:
    return InvalidInput(f"{op}: {reason}", operation=op)


# -- reading answers -----------------------------------------------------------------------------


def _token_expired(response: requests.Response) -> bool:
    """Whether a 403 says the access token (not the seller's permissions) is the problem."""
    text = response.text.lower()
    return "expired" in text or "access token" in text


def _learn_rate(bucket: TokenBucket, response: requests.Response) -> None:
    announced = response.headers.get("x-amzn-RateLimit-Limit")
    if announced:
        try:
            bucket.rerate(float(announced))
        except ValueError:
            log.debug("ignoring x-amzn-RateLimit-Limit %r", announced)


def _report_failure(report: Report, for_store: str) -> str:
    what = f"report {report.report_id}{for_store}"
    if report.report_type:
        what += f" ({report.report_type})"
    if report.processing_status == "CANCELLED":
        return (
            f"Amazon cancelled {what}: it does so when there is no data to report (no orders "
            "in the window) or when the report was cancelled; request it again if orders "
            "are expected"
        )
    return (
        f"Amazon could not make {what} (FATAL): request it again later; if it fails again, "
        "check the window and the marketplace"
    )


def _gunzipped(chunks: Iterable[bytes], cut_short: ServerFailure) -> Iterator[bytes]:
    """The gzip stream's content as it arrives (several gzip members are read in turn). When
    the bytes are no gzip stream at all (a transport that decoded them already), as they are."""
    chunks = iter(chunks)
    first = next((chunk for chunk in chunks if chunk), b"")
    if first[:2] != b"\x1f\x8b":
        yield first
        yield from chunks
        return
    decompressor = None
    for chunk in chain([first], chunks):
        while chunk:
            if decompressor is None or decompressor.eof:
                decompressor = zlib.decompressobj(_GZIP)
            yield decompressor.decompress(chunk)
            chunk = decompressor.unused_data if decompressor.eof else b""
    if decompressor is None or not decompressor.eof:
        raise cut_short


def _text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines without their endings, each decoded on its own (see `_decoded`)."""
    pending = b""
    for chunk in chunks:
        if not chunk:
            continue
        pending += chunk
        if b"\n" in chunk:
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield _decoded(line)
    if pending:
        yield _decoded(pending)


def _decoded(line: bytes) -> str:
    """UTF-8 (a byte-order mark dropped), else Windows-1252: Amazon's flat files are one or the
    other by marketplace, and guessing per line keeps a stream of either readable."""
    line = line.removesuffix(b"\r")
    try:
        return line.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors="replace")


def _transport_problem(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.Timeout):
        return "read timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed or was reset"
    return type(exc).__name__


def _host(url: str) -> str:
    return urlsplit(url).netloc


def _path(url: str) -> str:
    return urlsplit(url).path
