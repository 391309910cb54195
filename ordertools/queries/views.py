"""Saved views of All Orders: a name, the columns shown, the filters and the sort."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ordertools.db import SavedView, Store
from ordertools.errors import ConfigurationError, NotInOrderBook
from ordertools.queries.filters import OrderFilters, filters_to_json

DEFAULT_VIEW = "Default View"


def list_views(session: Session, store: Store) -> list[SavedView]:
    return list(
        session.scalars(
            select(SavedView).where(SavedView.store_id == store.id).order_by(SavedView.name)
        )
    )


def save_view(
    session: Session,
    store: Store,
    name: str,
    *,
    columns: list[str],
    filters: OrderFilters,
    sort: str = "purchase_date",
    descending: bool = True,
) -> SavedView:
    """Create the view `name`, or overwrite it with these columns, filters and sort."""
    name = _view_name(name)
    view = _find_view(session, store, name) or SavedView(store_id=store.id, name=name)
    view.columns = {"columns": list(columns), "sort": sort, "descending": descending}
    view.filters = filters_to_json(filters)
    session.add(view)
    session.flush()
    return view


def rename_view(session: Session, store: Store, old: str, new: str) -> SavedView:
    new = _view_name(new)
    view = _existing_view(session, store, old)
    if new != old and _find_view(session, store, new) is not None:
        raise ConfigurationError(f"a view named {new!r} exists already; pick another name")
    view.name = new
    return view


def delete_view(session: Session, store: Store, name: str) -> None:
    session.delete(_existing_view(session, store, name))


def _view_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ConfigurationError("a view needs a name")
    if name.casefold() == DEFAULT_VIEW.casefold():
        raise ConfigurationError(f"{DEFAULT_VIEW} is built in: it can't be saved over or renamed")
    if len(name) > 100:
        raise ConfigurationError("a view's name is at most 100 characters")
    return name


def _find_view(session: Session, store: Store, name: str) -> SavedView | None:
    return session.scalar(
        select(SavedView).where(SavedView.store_id == store.id, SavedView.name == name)
    )


def _existing_view(session: Session, store: Store, name: str) -> SavedView:
    if name == DEFAULT_VIEW:
        raise ConfigurationError(f"{DEFAULT_VIEW} is built in: it can't be renamed or deleted")
    view = _find_view(session, store, name)
    if view is None:
        raise NotInOrderBook(f"store {store.name} has no saved view {name!r}")
    return view
