"""Status words: what is shown for each Amazon code, and what `--status` accepts."""

from __future__ import annotations

import pytest

from ordertools.amazon.models import KNOWN_STATUSES
from ordertools.domain.statuses import (
    HIDDEN_FROM_RECENT_ORDERS,
    STATUS_WORDS,
    StatusFilter,
    display_status,
    parse_status_filter,
)

LOCAL_STATUSES = (None, "pending", "processing", "awaiting_pick", "complete", "canceled")


@pytest.mark.parametrize(
    ("amazon_status", "local_status", "shown"),
    [
        ("PENDING", None, "Pending"),
        ("PENDING_AVAILABILITY", None, "Pending Availability"),
        ("UNSHIPPED", None, "Unshipped"),
        ("UNSHIPPED", "pending", "Unshipped"),
        ("UNSHIPPED", "complete", "Unshipped"),  # shipped here, not yet confirmed on Amazon
        ("PARTIALLY_SHIPPED", "processing", "Partially Shipped"),
        ("SHIPPED", None, "Shipped"),  # e.g. shipped while import was disabled: no local order
        ("SHIPPED", "pending", "Shipped"),
        ("SHIPPED", "canceled", "Shipped"),
        ("SHIPPED", "complete", "Completed"),
        ("CANCELLED", None, "Canceled"),
        ("CANCELLED", "canceled", "Canceled"),
        ("UNFULFILLABLE", None, "Unfulfillable"),
        ("FOO_BAR", None, "Foo Bar"),  # a status Amazon added later is shown, not hidden
        ("ON-HOLD", "pending", "On Hold"),
        ("FOO", "complete", "Foo"),
        (None, None, "Unknown"),
    ],
)
def test_display_status(amazon_status, local_status, shown):
    assert display_status(amazon_status, local_status) == shown


def test_status_words_in_life_order():
    assert STATUS_WORDS == (
        "Pending",
        "Pending Availability",
        "Unshipped",
        "Partially Shipped",
        "Shipped",
        "Canceled",
        "Unfulfillable",
        "Completed",
    )


def test_every_known_code_has_a_word():
    assert {display_status(code) for code in KNOWN_STATUSES} == set(STATUS_WORDS) - {"Completed"}


def test_hidden_from_recent_orders():
    assert HIDDEN_FROM_RECENT_ORDERS == {"PENDING", "PENDING_AVAILABILITY"}


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["Pending"], StatusFilter(frozenset({"PENDING"}))),
        (["pending availability"], StatusFilter(frozenset({"PENDING_AVAILABILITY"}))),
        (["PENDING_AVAILABILITY"], StatusFilter(frozenset({"PENDING_AVAILABILITY"}))),
        (["Pending-Availability"], StatusFilter(frozenset({"PENDING_AVAILABILITY"}))),
        (["unshipped"], StatusFilter(frozenset({"UNSHIPPED"}))),
        (["partially shipped"], StatusFilter(frozenset({"PARTIALLY_SHIPPED"}))),
        (["PARTIALLY_SHIPPED"], StatusFilter(frozenset({"PARTIALLY_SHIPPED"}))),
        (["  Partially  Shipped "], StatusFilter(frozenset({"PARTIALLY_SHIPPED"}))),
        (["partially-shipped"], StatusFilter(frozenset({"PARTIALLY_SHIPPED"}))),
        (["Canceled"], StatusFilter(frozenset({"CANCELLED"}))),
        (["Cancelled"], StatusFilter(frozenset({"CANCELLED"}))),
        (["CANCELLED"], StatusFilter(frozenset({"CANCELLED"}))),
        (["canceled", "CANCELLED"], StatusFilter(frozenset({"CANCELLED"}))),
        (["Unfulfillable"], StatusFilter(frozenset({"UNFULFILLABLE"}))),
        (["shipped"], StatusFilter(shipped=True)),
        (["SHIPPED"], StatusFilter(shipped=True)),
        (["Completed"], StatusFilter(completed=True)),
        (["complete"], StatusFilter(completed=True)),
        (["shipped", "completed"], StatusFilter(shipped=True, completed=True)),
        (
            ["unshipped", "Partially Shipped", "completed"],
            StatusFilter(frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED"}), completed=True),
        ),
    ],
)
def test_parse_status_filter(words, expected):
    assert parse_status_filter(words) == expected


def test_no_words_means_no_filter():
    assert parse_status_filter([]) is None
    assert parse_status_filter(()) is None


def test_parse_accepts_any_iterable():
    assert parse_status_filter(word for word in ["pending"]) == StatusFilter(frozenset({"PENDING"}))


@pytest.mark.parametrize("bad", ["foo", "", "ship", "pendingavailability", "FOO_BAR"])
def test_unknown_word_lists_the_valid_ones(bad):
    with pytest.raises(ValueError) as caught:
        parse_status_filter(["pending", bad])
    message = str(caught.value)
    assert repr(bad) in message
    for word in STATUS_WORDS:
        assert word in message
    assert "\n" not in message


def test_every_unknown_word_is_named():
    with pytest.raises(ValueError, match="'foo', 'bar'"):
        parse_status_filter(["foo", "Shipped", "bar"])


@pytest.mark.parametrize("word", STATUS_WORDS)
def test_a_filter_selects_exactly_the_rows_showing_its_word(word):
    """`matches` is the query layer's test; it must agree with what the row shows."""
    status_filter = parse_status_filter([word])
    for amazon_status in (*KNOWN_STATUSES, "FOO", None):
        for local_status in LOCAL_STATUSES:
            shown = display_status(amazon_status, local_status)
            assert status_filter.matches(amazon_status, local_status) == (shown == word), (
                amazon_status,
                local_status,
            )


def test_shipped_and_completed_split_amazon_shipped():
    shipped, completed = parse_status_filter(["shipped"]), parse_status_filter(["completed"])
    assert shipped.matches("SHIPPED", None)
    assert shipped.matches("SHIPPED", "canceled")
    assert not shipped.matches("SHIPPED", "complete")
    assert completed.matches("SHIPPED", "complete")
    assert not completed.matches("SHIPPED", None)
    both = parse_status_filter(["Shipped", "Completed"])
    assert all(both.matches("SHIPPED", local) for local in LOCAL_STATUSES)


@pytest.mark.parametrize(
    "words",
    [["pending"], ["shipped", "completed"], ["Canceled", "unfulfillable"], list(STATUS_WORDS)],
)
def test_words_round_trip(words):
    status_filter = parse_status_filter(words)
    assert parse_status_filter(status_filter.words) == status_filter
    assert set(status_filter.words) == {parse_status_filter([w]).words[0] for w in words}


def test_words_come_in_display_order():
    assert parse_status_filter(["completed", "pending", "shipped"]).words == (
        "Pending",
        "Shipped",
        "Completed",
    )


@pytest.mark.parametrize(
    ("words", "hidden"),
    [
        (["pending"], True),
        (["pending availability", "shipped"], True),
        (["unshipped"], False),
        (["completed"], False),
    ],
)
def test_includes_hidden(words, hidden):
    assert parse_status_filter(words).includes_hidden is hidden
