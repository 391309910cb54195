"""The error tree: a miss in the local order book is ours, not Amazon's (nothing asked Amazon)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ordertools import db
from ordertools.amazon.errors import AmazonError
from ordertools.errors import NotInOrderBook
from ordertools.queries.detail import order_detail
from ordertools.queries.views import delete_view
from ordertools.sync.importing import import_order


def test_an_order_never_received_is_not_in_the_order_book_and_not_an_amazon_error(engine, store):
    with db.session(engine) as session:
        stored = session.scalars(select(db.Store)).one()
        with pytest.raises(NotInOrderBook, match="never received") as shown:
            order_detail(session, stored, "999-0000000-0000000")
        with pytest.raises(NotInOrderBook, match="no saved view") as view:
            delete_view(session, stored, "Nobody's")
        stored_name = stored.name
    with pytest.raises(NotInOrderBook, match="never received") as imported:
        import_order(engine, stored_name, "999-0000000-0000000")
    for raised in (shown, view, imported):
        assert not isinstance(raised.value, AmazonError)
        assert raised.value.exit_code == 1
