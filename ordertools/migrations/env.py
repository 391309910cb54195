"""Alembic environment for the order book.

`ordertools.db.upgrade()` hands over an open connection (already locked against other
migrators), so normally nothing here connects. For developers running the `alembic` command
(`alembic -c ordertools/migrations/alembic.ini revision --autogenerate -m "..."`), it opens
`-x url=...` or `ORDERTOOLS_DB` instead; `--sql` renders the SQL for a DBA to review.
"""

from alembic import context

from ordertools.db import engine as db_engine
from ordertools.db.schema import Base
from ordertools.migrations import include_name

config = context.config
OPTIONS = {
    "target_metadata": Base.metadata,
    "compare_type": True,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    "render_as_batch": True,
    # The search index (0006) lives beside the models, not in them.
    "include_name": include_name,
}


def run() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url") or db_engine.default_url()
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return

    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = db_engine.connect(url, migrate=False)
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


def _migrate(connection) -> None:
    context.configure(connection=connection, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


run()
