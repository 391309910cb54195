"""Fixtures for the order book on SQLite and PostgreSQL.

`engine` (and `db_url`, for tests that hand a URL to another process) run each test twice: on a
fresh SQLite file and on a fresh PostgreSQL database created for that test alone
(`ordertools_t_<random>`, dropped afterwards), so tests never see each other's rows.

PostgreSQL comes from `ORDERTOOLS_TEST_PG_URL` (default: the local server as `postgres`). When
it does not answer, the PostgreSQL runs are skipped with the reason, or fail when `CI` is set:
CI must never pass by quietly testing one backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from ordertools import db

PG_URL_VAR = "ORDERTOOLS_TEST_PG_URL"
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _admin_url() -> URL:
    url = make_url(os.environ.get(PG_URL_VAR) or PG_DEFAULT_URL)
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


@cache
def _pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None; asked once per test session."""
    url = _admin_url()
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means the same thing here: no server to test on
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return f"PostgreSQL at {url.render_as_string(hide_password=True)} unavailable: {reason}"
    finally:
        engine.dispose()
    return None


def _require_pg() -> None:
    reason = _pg_unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the PostgreSQL tests must run; set {PG_URL_VAR})")
    pytest.skip(f"{reason}; set {PG_URL_VAR} to run the PostgreSQL tests")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a brand-new PostgreSQL database, dropped after the test."""
    _require_pg()
    admin_url = _admin_url()
    name = f"ordertools_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # FORCE: a test that failed mid-way may have left a connection (or a child) behind.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'orders.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """A URL to an empty order book, once per backend."""
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")


@pytest.fixture
def engine(db_url):
    """An engine on a fresh order book with the schema at head, once per backend."""
    engine = db.connect(db_url)
    yield engine
    engine.dispose()


def new_store(name: str = "acme") -> db.Store:
    """A store on amazon.com, integrated at the start of 2026 (not added to any session)."""
    return db.Store(
        name=name,
        marketplace_id="ATVPDKIKX0DER",
        region="na",
        endpoint="https://sellingpartnerapi-na.amazon.com",
        token_url="https://api.amazon.com/auth/o2/token",
        seller_central_domain="sellercentral.amazon.com",
        integrated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def store(engine) -> db.Store:
    """A store "acme" on amazon.com, integrated at the start of 2026, committed."""
    with db.session(engine) as s:
        store = new_store()
        s.add(store)
    return store
