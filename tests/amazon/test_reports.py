"""Amazon's order reports: the flat-file parser, the client's Reports API calls, the emulator's.

End-to-end tests run the client against the emulator on a free port with sped-up usage plans,
a report delay of a fraction of a second and millisecond polls (`FAST_RETRIES`), so the file
runs in seconds. The emulator's answers are held against Amazon's Reports API model.
"""

from __future__ import annotations

import gzip
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from spapi_spec import assert_response_valid, assert_valid, response_headers

from ordertools.amazon.auth import Credentials
from ordertools.amazon.client import FAST_RETRIES, AmazonClient, RetryPolicy
from ordertools.amazon.emulator import EmulatorConfig
from ordertools.amazon.emulator.config import fault_options
from ordertools.amazon.errors import (
    ClientClosed,
    InvalidInput,
    ReportFailed,
    ReportTimedOut,
    ServerFailure,
)
from ordertools.amazon.models import KNOWN_STATUSES
from ordertools.amazon.ratelimit import DEFAULT_PLANS
from ordertools.amazon.reports import (
    ORDER_REPORT,
    ORDER_REPORT_COLUMNS,
    ReportRow,
    orders_in_report,
    parse_order_report,
    status_code,
    status_word,
)

REPORTS = "reports_2021-06-30"
MARKETPLACE = "ATVPDKIKX0DER"
REPORT_OPS = ("createReport", "getReport", "getReportDocument")
UNBOUND = {op: (1000.0, 1000) for op in ("searchOrders", "getOrder", *REPORT_OPS)}
# A report takes 0.2 s (emulator clock, ticking in real time); nothing lags unless a test says.
QUICK = dict(plans=UNBOUND, visibility_delay=0.0, min_before_age=0.0)
QUICK_REPORTS = dict(report_delay=0.2, report_lag=0.0)


@pytest.fixture
def emu(emulator_factory):
    return emulator_factory(**QUICK, **QUICK_REPORTS)


def make_client(emu, **kwargs) -> AmazonClient:
    kwargs.setdefault("plans", UNBOUND)
    kwargs.setdefault("retry", FAST_RETRIES)
    return AmazonClient(
        Credentials(**emu.credentials),
        endpoint=emu.base_url,
        token_url=emu.token_url,
        store_name="acme",
        **kwargs,
    )


def window(emu, days: float = 10) -> tuple[datetime, datetime]:
    now = emu.clock()
    return now - timedelta(days=days), now


class Api:
    """Just enough of a Reports client: a session holding a valid access token."""

    def __init__(self, emu):
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["x-amz-access-token"] = emu.access_token()

    def create(self, **body):
        start, end = window(self.emu)
        body = {
            "reportType": ORDER_REPORT,
            "marketplaceIds": [MARKETPLACE],
            "dataStartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "dataEndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            **body,
        }
        url = f"{self.emu.base_url}/reports/2021-06-30/reports"
        return self.session.post(url, json=body, timeout=10)

    def report(self, report_id):
        url = f"{self.emu.base_url}/reports/2021-06-30/reports/{report_id}"
        return self.session.get(url, timeout=10)

    def document(self, document_id, **params):
        url = f"{self.emu.base_url}/reports/2021-06-30/documents/{document_id}"
        return self.session.get(url, params=params, timeout=10)

    def done(self, report_id) -> dict:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            report = self.report(report_id).json()
            if report["processingStatus"] not in ("IN_QUEUE", "IN_PROGRESS"):
                return report
            time.sleep(0.02)
        raise AssertionError(f"report {report_id} never finished")


def flat_file(*rows: dict[str, str], columns=ORDER_REPORT_COLUMNS) -> list[str]:
    """An order report's lines: the header, then each row's cells by column name."""
    return ["\t".join(columns)] + ["\t".join(row.get(c, "") for c in columns) for row in rows]


def cells(order_id="111-0000001-0000001", sku="MUG-1", **overrides) -> dict[str, str]:
    row = {
        "amazon-order-id": order_id,
        "purchase-date": "2026-01-02T10:00:00+00:00",
        "last-updated-date": "2026-01-03T11:30:00+00:00",
        "order-status": "Unshipped",
        "fulfillment-channel": "Merchant",
        "sku": sku,
        "quantity": "2",
        "currency": "USD",
        "item-price": "29.98",
    }
    return {**row, **overrides}


# -- the parser ---------------------------------------------------------------------------------


def test_a_row_reads_as_typed_fields():
    [row] = parse_order_report(flat_file(cells()))
    assert row == ReportRow(
        order_id="111-0000001-0000001",
        purchase_date=datetime(2026, 1, 2, 10, tzinfo=UTC),
        last_updated=datetime(2026, 1, 3, 11, 30, tzinfo=UTC),
        status="UNSHIPPED",
        report_status="Unshipped",
        fulfilled_by="MERCHANT",
        sku="MUG-1",
        quantity=2,
        currency="USD",
        item_price=Decimal("29.98"),
        error=None,
    )
    assert row.purchase_date.tzinfo is UTC


def test_columns_are_found_by_the_header_whatever_their_order_and_extras():
    columns = ("sku", "brand-new-column", *reversed(ORDER_REPORT_COLUMNS[:5]), "quantity")
    row = cells(**{"brand-new-column": "whatever", "last-updated-date": "2026-01-03T12:00:00Z"})
    [parsed] = parse_order_report(flat_file(row, columns=columns))
    assert (parsed.order_id, parsed.sku, parsed.quantity) == ("111-0000001-0000001", "MUG-1", 2)
    assert parsed.last_updated == datetime(2026, 1, 3, 12, tzinfo=UTC)
    # Columns left out read as empty cells.
    assert parsed.fulfilled_by is None and parsed.item_price is None and parsed.error is None


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("Pending", "PENDING"),
        ("PendingAvailability", "PENDING_AVAILABILITY"),
        ("Unshipped", "UNSHIPPED"),
        ("PartiallyShipped", "PARTIALLY_SHIPPED"),
        ("Shipped", "SHIPPED"),
        ("Canceled", "CANCELLED"),
        ("Unfulfillable", "UNFULFILLABLE"),
        ("InvoiceUnconfirmed", "INVOICE_UNCONFIRMED"),  # not documented: kept, same style
    ],
)
def test_statuses_become_the_orders_api_codes_and_unknown_ones_are_kept(word, code):
    [row] = parse_order_report(flat_file(cells(**{"order-status": word})))
    assert (row.status, row.report_status, row.error) == (code, word, None)


def test_the_status_words_round_trip_for_every_documented_code():
    assert {status_code(status_word(code)) for code in KNOWN_STATUSES} == KNOWN_STATUSES
    assert status_word("INVOICE_UNCONFIRMED") == "InvoiceUnconfirmed"


def test_empty_optional_cells_are_none():
    row = cells(**{"fulfillment-channel": "", "sku": "", "quantity": "", "item-price": ""})
    [parsed] = parse_order_report(flat_file({**row, "currency": " "}))
    assert parsed.error is None
    assert parsed.fulfilled_by is parsed.sku is parsed.quantity is parsed.currency is None
    assert parsed.item_price is None
    [amazon] = parse_order_report(flat_file(cells(**{"fulfillment-channel": "Amazon"})))
    [other] = parse_order_report(flat_file(cells(**{"fulfillment-channel": "Seller Flex"})))
    assert (amazon.fulfilled_by, other.fulfilled_by) == ("AMAZON", None)


def test_a_malformed_row_is_reported_and_the_stream_goes_on():
    lines = flat_file(
        cells("111-0000001-0000001"),
        cells("111-0000002-0000002", **{"purchase-date": "yesterday"}),
        cells("111-0000003-0000003", quantity="two", **{"item-price": "1,5"}),
        cells("111-0000004-0000004", **{"last-updated-date": "2026-01-03T11:30:00"}),
        cells("111-0000005-0000005"),
    )

    def stream():  # a generator: the parser must not need the whole document
        yield from lines

    rows = list(parse_order_report(stream()))
    assert [r.order_id for r in rows] == [f"111-000000{n}-000000{n}" for n in range(1, 6)]
    assert [r.error is None for r in rows] == [True, False, False, False, True]
    assert "line 3" in rows[1].error and "purchase-date 'yesterday'" in rows[1].error
    assert rows[1].purchase_date is None and rows[1].quantity == 2  # the rest is still read
    assert "quantity 'two'" in rows[2].error and "item-price '1,5'" in rows[2].error
    assert "has no time zone" in rows[3].error


def test_a_byte_order_mark_crlf_and_blank_lines_are_tolerated():
    lines = [line + "\r\n" for line in flat_file(cells(), cells("111-0000009-0000009"))]
    lines[0] = "\ufeff" + lines[0]
    rows = list(parse_order_report([lines[0], "\n", lines[1], "   \r\n", lines[2]]))
    assert [(r.order_id, r.sku, r.error) for r in rows] == [
        ("111-0000001-0000001", "MUG-1", None),
        ("111-0000009-0000009", "MUG-1", None),
    ]


def test_a_document_that_is_no_order_report_is_refused_before_any_row():
    with pytest.raises(ReportFailed, match="lacks last-updated-date, order-status") as info:
        list(parse_order_report(["amazon-order-id\tpurchase-date\tsku", "1\t2\t3"]))
    assert "\n" not in str(info.value)
    assert list(parse_order_report([])) == []  # an empty document: no rows


def test_rows_fold_into_one_order_each_and_repeated_rows_count_once():
    lines = flat_file(
        cells("111-0000001-0000001", "MUG-1", quantity="2", **{"item-price": "29.98"}),
        cells("111-0000001-0000001", "TEA-1", quantity="1", **{"item-price": "9.49"}),
        cells("111-0000002-0000002", "MUG-1", **{"order-status": "Canceled"}),
        cells("111-0000001-0000001", "MUG-1", quantity="2", **{"item-price": "29.98"}),  # again
        cells("111-0000003-0000003", "MUG-1", **{"item-price": ""}),
        cells("111-0000004-0000004", "MUG-1", quantity="x"),
    )
    report = orders_in_report(parse_order_report(lines))
    assert len(report) == 3 and report.repeated_rows == 1
    first = report["111-0000001-0000001"]
    assert dict(first.items) == {"MUG-1": 2, "TEA-1": 1}
    assert first.item_total == Decimal("39.47") and first.currency == "USD"
    assert first.status == "UNSHIPPED" and first.fulfilled_by == "MERCHANT"
    assert first.last_updated == datetime(2026, 1, 3, 11, 30, tzinfo=UTC)
    assert report["111-0000002-0000002"].status == "CANCELLED"
    assert report["111-0000003-0000003"].item_total is None  # a price unknown: total unknown
    assert "111-0000004-0000004" not in report
    assert len(report.errors) == 1 and "quantity 'x'" in report.errors[0]


# -- the client against the emulator ------------------------------------------------------------


def expected_orders(emu, start, end) -> dict[str, dict]:
    """What the report must show: the world's orders updated in the window, as Amazon holds
    them (no visibility delay), with their items by sku."""
    found = {}
    for body in emu.world.orders():
        updated = datetime.fromisoformat(body["lastUpdatedTime"])
        if not start <= updated <= end:
            continue
        items: dict[str, int] = {}
        total = Decimal(0)
        for item in body["orderItems"]:
            sku = item["product"]["sellerSku"]
            items[sku] = items.get(sku, 0) + item["quantityOrdered"]
            total += Decimal(item["proceeds"]["proceedsTotal"]["amount"])
        found[body["orderId"]] = {
            "status": body["fulfillment"]["fulfillmentStatus"],
            "fulfilled_by": body["fulfillment"]["fulfilledBy"],
            "last_updated": updated,
            "items": items,
            "total": total,
        }
    return found


def folded(report) -> dict[str, dict]:
    return {
        order.order_id: {
            "status": order.status,
            "fulfilled_by": order.fulfilled_by,
            "last_updated": order.last_updated,
            "items": dict(order.items),
            "total": order.item_total,
        }
        for order in report
    }


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "plain"])
def test_an_order_report_end_to_end_shows_the_world(emulator_factory, compressed):
    emu = emulator_factory(**QUICK, **QUICK_REPORTS, report_gzip=compressed)
    emu.world.generate(120, seed=4, days=6, statuses=("UNSHIPPED", "SHIPPED", "CANCELLED"))
    emu.world.add_order(status="PENDING", updated="-1h")
    emu.world.add_order(status="SHIPPED", updated="-40d")  # outside the window
    emu.world.add_order(marketplace_id="A1PA6795UKMFR9")  # another marketplace
    start, end = window(emu, days=10)
    client = make_client(emu)
    report = orders_in_report(client.order_report(MARKETPLACE, start, end))
    expected = expected_orders(emu, start, end)
    expected = {
        i: o
        for i, o in expected.items()
        if emu.world.get(i)["salesChannel"]["marketplaceId"] == MARKETPLACE
    }
    assert len(expected) == 121 and not report.errors and report.repeated_rows == 0
    assert folded(report) == expected
    assert client.stats["createReport"].requests == 1
    assert client.stats["getReportDocument"].requests == 1
    assert client.stats["getReport"].requests >= 2  # it was IN_QUEUE first

    # The document as served: compressed or not as getReportDocument says; no buyer's name.
    report_id = Api(emu).create().json()["reportId"]
    document_id = Api(emu).done(report_id)["reportDocumentId"]
    described = Api(emu).document(document_id).json()
    assert ("compressionAlgorithm" in described) is compressed
    raw = requests.get(described["url"], timeout=10).content  # no access token: S3's URL
    text = (gzip.decompress(raw) if compressed else raw).decode()
    assert text.splitlines()[0].split("\t") == list(ORDER_REPORT_COLUMNS)
    names = {b["buyer"]["buyerName"] for b in emu.world.orders() if b["buyer"].get("buyerName")}
    assert names and not any(name in text for name in names)
    assert "@marketplace.amazon.com" not in text


def test_a_report_in_windows_1252_reads_line_by_line(emulator_factory):
    emu = emulator_factory(**QUICK, **QUICK_REPORTS, report_encoding="cp1252", report_gzip=False)
    emu.world.add_order(items=[{"sku": "CRÈME-BRÛLÉE", "price": "5.00", "quantity": 1}])
    rows = list(make_client(emu).order_report(MARKETPLACE, *window(emu)))
    assert [(r.sku, r.error) for r in rows] == [("CRÈME-BRÛLÉE", None)]


def test_the_poll_announces_growing_waits_and_the_counts_add_up(emulator_factory):
    emu = emulator_factory(**QUICK, **{**QUICK_REPORTS, "report_delay": 0.5})
    emu.world.add_order()
    client = make_client(emu)
    waits = []
    client.on_wait = lambda operation, seconds, why: waits.append((operation, seconds, why))
    report_id = client.create_report(ORDER_REPORT, [MARKETPLACE], *window(emu))
    document_id = client.wait_for_report(report_id)
    assert client.get_report(report_id).document_id == document_id
    assert client.get_report(report_id).processing_status == "DONE"
    assert waits and all(op == "getReport" for op, _, _ in waits)
    assert {why for _, _, why in waits} <= {
        f"report {report_id} is IN_QUEUE",
        f"report {report_id} is IN_PROGRESS",
    }
    seconds = [s for _, s, _ in waits]
    assert seconds[:4] == pytest.approx([0.02, 0.04, 0.08, 0.16])
    assert max(seconds) == pytest.approx(0.2)  # FAST_RETRIES caps the poll at 0.2 s
    assert len(list(client.report_lines(document_id))) == 2  # the header and one row


def test_the_poll_backs_off_from_2_to_60_seconds_and_times_out(emulator_factory):
    emu = emulator_factory(**QUICK, report_delay=3600.0)
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    client = make_client(emu, retry=RetryPolicy(), sleep=sleep, clock=lambda: now[0])
    report_id = client.create_report(ORDER_REPORT, [MARKETPLACE], *window(emu))
    with pytest.raises(ReportTimedOut) as info:
        client.wait_for_report(report_id, timeout=300)
    assert now[0] == pytest.approx(300)  # 2, 4, 8, 16, 32, 60, 60, 60, then the rest: 58
    assert client.stats["getReport"].requests == 10
    message = str(info.value)
    assert "\n" not in message and f"report {report_id} for store acme is still " in message
    assert "after 300 s" in message and info.value.processing_status in ("IN_QUEUE", "IN_PROGRESS")
    assert isinstance(info.value, ReportFailed)


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("FATAL", "Amazon could not make report"),
        ("CANCELLED", "Amazon cancelled report"),
    ],
)
def test_a_failed_report_raises_report_failed_in_one_line(emu, status, said):
    emu.world.add_order()
    emu.faults.fail_next_report(status=status)
    client = make_client(emu)
    with pytest.raises(ReportFailed) as info:
        list(client.order_report(MARKETPLACE, *window(emu)))
    message = str(info.value)
    assert said in message and "for store acme" in message and ORDER_REPORT in message
    assert "\n" not in message and "request it again" in message
    assert info.value.processing_status == status and info.value.report_id
    assert client.stats["getReportDocument"].requests == 0
    # The fault was for the next report only.
    assert len(list(client.order_report(MARKETPLACE, *window(emu)))) == 1


def test_an_empty_report_is_cancelled_when_the_emulator_does_as_amazon_says(emulator_factory):
    emu = emulator_factory(**QUICK, **QUICK_REPORTS, report_cancel_empty=True)
    client = make_client(emu)
    with pytest.raises(ReportFailed, match="no data to report") as info:
        list(client.order_report(MARKETPLACE, *window(emu)))
    assert info.value.processing_status == "CANCELLED"
    quiet = make_client(emulator_factory(**QUICK, **QUICK_REPORTS))  # by default: a header only
    assert list(quiet.order_report(MARKETPLACE, *window(emu))) == []


def test_closing_the_client_ends_a_wait_for_a_report(emulator_factory):
    emu = emulator_factory(**QUICK, report_delay=3600.0)
    client = make_client(emu, retry=RetryPolicy())  # polls every 2 s, then longer
    report_id = client.create_report(ORDER_REPORT, [MARKETPLACE], *window(emu))
    raised: list[BaseException] = []

    def wait():
        try:
            client.wait_for_report(report_id)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    closed = time.monotonic()
    client.close()
    waiter.join(timeout=5)
    assert not waiter.is_alive() and time.monotonic() - closed < 1.0
    assert len(raised) == 1 and isinstance(raised[0], ClientClosed)


def test_a_download_cut_short_is_a_server_failure(emu):
    emu.world.add_order()
    client = make_client(emu)
    report_id = client.create_report(ORDER_REPORT, [MARKETPLACE], *window(emu))
    document_id = client.wait_for_report(report_id)
    document = emu.app.reports.documents[document_id]
    document.content = document.content[: len(document.content) // 2]
    with pytest.raises(ServerFailure, match="was cut short; request the report again"):
        list(client.report_lines(document_id))


def test_repeated_rows_in_a_report_are_counted_once(emu):
    emu.world.generate(30, seed=9, days=3)
    emu.faults.repeat_report_rows(5)
    client = make_client(emu)
    start, end = window(emu)
    rows = list(client.order_report(MARKETPLACE, start, end))
    report = orders_in_report(rows)
    assert report.repeated_rows == 5 and len(rows) == sum(len(o.items) for o in report) + 5
    assert folded(report) == expected_orders(emu, start, end)


# -- inputs -------------------------------------------------------------------------------------


def test_the_inputs_are_checked_before_anything_is_sent(emu):
    client = make_client(emu)
    now = datetime.now(UTC)
    bad_calls = {
        "at most 30 days": lambda: client.order_report(MARKETPLACE, now - timedelta(days=31), now),
        "timezone-aware": lambda: client.order_report(MARKETPLACE, datetime(2026, 1, 1), now),
        "earlier than": lambda: client.order_report(MARKETPLACE, now, now - timedelta(days=1)),
        "1 to 25 marketplace ids": lambda: client.create_report(
            ORDER_REPORT, [f"M{i}" for i in range(26)], now - timedelta(days=1), now
        ),
        "report_type": lambda: client.create_report("", [MARKETPLACE], now, now),
        "report id": lambda: client.wait_for_report(""),
        "timeout": lambda: client.wait_for_report("1", timeout=0),
        "report document id": lambda: client.report_lines(" "),
    }
    for said, call in bad_calls.items():
        with pytest.raises(InvalidInput, match=said):
            call()
    assert all(emu.stats[op]["requests"] == 0 for op in REPORT_OPS)
    # Exactly 30 days is allowed.
    assert client.create_report(ORDER_REPORT, [MARKETPLACE], now - timedelta(days=30), now)


def test_the_request_body_is_the_models_create_report_specification(emu):
    session = requests.Session()
    sent = []
    original = session.request

    def recording(method, url, **kwargs):
        if url.endswith("/reports/2021-06-30/reports"):
            sent.append(kwargs["json"])
        return original(method, url, **kwargs)

    session.request = recording
    client = make_client(emu, session=session)
    client.create_report(ORDER_REPORT, MARKETPLACE, *window(emu, days=2))
    [body] = sent
    assert_valid(REPORTS, "CreateReportSpecification", body)
    assert body["marketplaceIds"] == [MARKETPLACE] and body["reportType"] == ORDER_REPORT


def test_the_emulator_refuses_what_amazon_refuses(emu):
    api = Api(emu)
    future = (emu.clock() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    long_ago = (emu.clock() - timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    refusals = {
        "Invalid reportType": api.create(reportType="GET_MERCHANT_LISTINGS_ALL_DATA"),
        "marketplaceIds must list": api.create(marketplaceIds=[]),
        "reportType is required": api.create(reportType=None),
        "must not exceed 30 days": api.create(dataStartTime=long_ago),
        "prior to or equal to the current": api.create(dataEndTime=future),
        "Invalid dataStartTime": api.create(dataStartTime="2026-01-01 00:00:00"),
    }
    for said, answer in refusals.items():
        assert answer.status_code == 400, said
        assert said in answer.json()["errors"][0]["message"], answer.json()
        assert_response_valid(REPORTS, "createReport", 400, answer.json())
        assert answer.headers["x-amzn-RateLimit-Limit"] == "1000"
    missing = api.report("123")
    assert missing.status_code == 404
    assert_response_valid(REPORTS, "getReport", 404, missing.json())
    assert api.document("amzn1.spdoc.nothing").status_code == 404
    no_token = requests.get(f"{emu.base_url}/reports/2021-06-30/reports/1", timeout=10)
    assert no_token.status_code == 403
    assert_response_valid(REPORTS, "getReport", 403, no_token.json())

    client = make_client(emu)
    with pytest.raises(InvalidInput, match="Invalid reportType"):
        client.create_report("GET_MERCHANT_LISTINGS_ALL_DATA", [MARKETPLACE], *window(emu))


def test_emulator_answers_are_valid_against_the_model(emulator_factory):
    emu = emulator_factory(**QUICK, report_delay=1.0, report_lag=0.0)
    emu.world.add_order()
    api = Api(emu)
    created = api.create()
    assert created.status_code == 202
    assert_response_valid(REPORTS, "createReport", 202, created.json())
    assert "x-amzn-RateLimit-Limit" in response_headers(REPORTS, "createReport", 202)
    assert created.headers["x-amzn-RateLimit-Limit"] and created.headers["x-amzn-RequestId"]
    report_id = created.json()["reportId"]

    queued = api.report(report_id).json()
    assert queued["processingStatus"] == "IN_QUEUE" and "reportDocumentId" not in queued
    assert_response_valid(REPORTS, "getReport", 200, queued)
    emu.clock.advance(0.6)
    running = api.report(report_id).json()
    assert running["processingStatus"] == "IN_PROGRESS" and "processingStartTime" in running
    assert_response_valid(REPORTS, "getReport", 200, running)
    emu.clock.advance(1)
    done = api.report(report_id).json()
    assert done["processingStatus"] == "DONE" and done["processingEndTime"]
    assert_response_valid(REPORTS, "getReport", 200, done)
    assert done["reportType"] == ORDER_REPORT and done["marketplaceIds"] == [MARKETPLACE]

    document = api.document(done["reportDocumentId"])
    assert document.status_code == 200
    assert_response_valid(REPORTS, "getReportDocument", 200, document.json())
    assert document.json()["compressionAlgorithm"] == "GZIP"
    # enableContentEncodingUrlHeader: the URL serves `Content-Encoding: gzip`, which HTTP
    # clients decode themselves (and the client reads whichever it gets).
    decoded = api.document(done["reportDocumentId"], enableContentEncodingUrlHeader="true")
    served = requests.get(decoded.json()["url"], timeout=10)
    assert served.headers["Content-Encoding"] == "gzip"
    assert served.text.startswith("amazon-order-id\t")

    emu.faults.fail_next_report("FATAL")
    failed_id = api.create().json()["reportId"]
    emu.clock.advance(2)
    fatal = api.report(failed_id).json()
    assert fatal["processingStatus"] == "FATAL" and "reportDocumentId" not in fatal
    assert_response_valid(REPORTS, "getReport", 200, fatal)


# -- usage plans --------------------------------------------------------------------------------


def test_reports_follow_amazons_default_usage_plans():
    assert DEFAULT_PLANS["createReport"] == (0.0167, 15)
    assert DEFAULT_PLANS["getReport"] == (2.0, 15)
    assert DEFAULT_PLANS["getReportDocument"] == (0.0167, 15)


def test_the_emulator_answers_429_beyond_a_report_usage_plan(emulator_factory):
    emu = emulator_factory(**{**QUICK, "plans": {**UNBOUND, "createReport": (0.001, 2)}})
    api = Api(emu)
    answers = [api.create() for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].json()["errors"][0]["code"] == "QuotaExceeded"
    assert_response_valid(REPORTS, "createReport", 429, answers[2].json())
    assert "x-amzn-RateLimit-Limit" not in answers[2].headers
    assert emu.stats["createReport"]["throttled"] == 1


def test_a_paced_emulator_is_never_pushed_past_its_report_plans(emulator_factory):
    # Amazon's plans 600 times faster: createReport and getReportDocument 10/s after a burst of
    # 15. The client starts from Amazon's own plans and adopts the announced rates.
    paced = EmulatorConfig.paced("amazon", 600)
    emu = emulator_factory(
        plans=paced.plans,
        visibility_delay=0.0,
        min_before_age=0.0,
        report_delay=0.0,
        report_lag=0.0,
    )
    emu.world.add_order()
    client = make_client(emu, plans=None)
    started = time.monotonic()
    report_ids = [
        client.create_report(ORDER_REPORT, [MARKETPLACE], *window(emu)) for _ in range(20)
    ]
    document_ids = [client.wait_for_report(report_id) for report_id in report_ids]
    creating = time.monotonic() - started
    started = time.monotonic()
    for document_id in document_ids:
        assert len(list(client.report_lines(document_id))) == 2
    reading = time.monotonic() - started
    for op in REPORT_OPS:
        assert emu.stats[op]["throttled"] == 0 and client.stats[op].throttled == 0, op
        assert client.stats[op].requests == 20, op
    assert client.buckets["createReport"].rate == pytest.approx(0.0167 * 600)
    assert client.buckets["getReportDocument"].rate == pytest.approx(0.0167 * 600)
    # 20 calls each, a burst of 15, then one every 0.1 s: the last five took at least 0.5 s
    # (the client waited for tokens; how long depends on how slow its own calls were, so only
    # the pace is asserted, with room for the clock's resolution).
    assert creating >= 0.45 and client.stats["createReport"].token_wait > 0
    assert reading >= 0.45 and client.stats["getReportDocument"].token_wait > 0
    assert client.stats["getReport"].token_wait == 0  # 1200/s: never waits


# -- eventual consistency and lost updates ------------------------------------------------------


def test_an_order_updated_within_the_report_lag_is_missing(emulator_factory):
    emu = emulator_factory(**QUICK, **{**QUICK_REPORTS, "report_lag": 120.0})
    settled = emu.world.add_order(updated="-5m")
    fresh = emu.world.add_order(updated="-30s")
    moved = emu.world.add_order(updated="-1h")
    emu.world.set_status(moved, "SHIPPED")  # just now: its newest version is too recent
    client = make_client(emu)
    report = orders_in_report(client.order_report(MARKETPLACE, *window(emu)))
    assert set(report.orders) == {settled}
    emu.clock.advance(121)
    report = orders_in_report(client.order_report(MARKETPLACE, *window(emu)))
    assert set(report.orders) == {settled, fresh, moved}
    assert report[moved].status == "SHIPPED"


def served_by_search(client) -> dict[str, datetime]:
    pages = client.search_orders(
        marketplace_ids=[MARKETPLACE], last_updated_after=datetime(2000, 1, 1, tzinfo=UTC)
    )
    return {o.order_id: o.last_updated_time for page in pages for o in page.orders}


def test_lost_updates_are_missing_from_search_and_the_report_catches_them(emu):
    ids = emu.world.generate(300, seed=11, days=5)
    for order_id in ids[:150]:  # a second version for half of them
        if emu.world.get(order_id)["fulfillment"]["fulfillmentStatus"] != "SHIPPED":
            emu.world.set_status(order_id, "SHIPPED")
    emu.faults.lose_updates(0.1, seed=3)
    lost = emu.app.lost_versions()
    lost_set = set(lost)
    assert 10 < len(lost) < 80  # about a tenth of ~400 versions

    # What searchOrders must serve: each order's newest version that is not lost.
    expected: dict[str, datetime] = {}
    for order_id, at in emu.world.version_times():
        if (order_id, at) not in lost_set:
            expected[order_id] = at
    client = make_client(emu)
    served = served_by_search(client)
    assert served == expected
    assert served_by_search(client) == served  # the same versions stay lost
    never_served = set(ids) - set(served)
    stale = {
        i for i in served if served[i] < datetime.fromisoformat(emu.world.get(i)["lastUpdatedTime"])
    }
    assert never_served and stale
    lost_newest = {
        i
        for i in ids
        if (i, datetime.fromisoformat(emu.world.get(i)["lastUpdatedTime"])) in lost_set
    }
    assert never_served | stale == lost_newest

    # getOrder and the report still show the truth: reconciliation finds exactly those orders.
    for order_id in sorted(lost_newest)[:5]:
        assert client.get_order(order_id).last_updated_time == max(
            at for i, at in emu.world.version_times() if i == order_id
        )
    report = orders_in_report(client.order_report(MARKETPLACE, *window(emu, days=10)))
    assert set(report.orders) == set(ids)
    behind = {
        order.order_id
        for order in report
        if order.order_id not in served or served[order.order_id] < order.last_updated
    }
    assert behind == lost_newest

    emu.faults.lose_updates(0)
    assert emu.app.lost_versions() == [] and set(served_by_search(client)) == set(ids)


def test_lost_updates_from_the_command_line_option(emulator_factory):
    assert fault_options(["lost-updates=0.05"]) == {"lost_updates": 0.05}
    assert fault_options(["lost-updates=1", "lost-updates-seed=7"]) == {
        "lost_updates": 1.0,
        "lost_updates_seed": 7,
    }
    for bad in ("lost-updates=2", "lost-updates=many", "slow-answers=1", "lost-updates"):
        with pytest.raises(ValueError, match="use lost-updates=SHARE"):
            fault_options([bad])
    emu = emulator_factory(**QUICK, **fault_options(["lost-updates=1"]))
    ids = emu.world.generate(5, seed=2)
    assert {order_id for order_id, _ in emu.app.lost_versions()} == set(ids)
    assert served_by_search(make_client(emu)) == {}
    assert make_client(emu).get_order(ids[0]).order_id == ids[0]
