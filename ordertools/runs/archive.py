"""Where executed notebooks go, how long they stay, and the record of each run."""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import platformdirs
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ordertools import db
from ordertools.db import NotebookRun, utcnow
from ordertools.errors import ConfigurationError
from ordertools.queries.links import anchor

log = logging.getLogger(__name__)

ARCHIVE_ENV = "ORDERTOOLS_RUNS_DIR"
KEEP_RUNS_ENV = "ORDERTOOLS_RUNS_KEEP"
KEEP_DAYS_ENV = "ORDERTOOLS_RUNS_KEEP_DAYS"
DEFAULT_KEEP_RUNS = 2000  # 15-minute runs of a few stores: about a week each
DEFAULT_KEEP_DAYS = 30.0


@dataclass(frozen=True)
class Retention:
    """Archived runs kept: the newest `runs`, and none older than `days` (None: no limit)."""

    runs: int | None = DEFAULT_KEEP_RUNS
    days: float | None = DEFAULT_KEEP_DAYS

    @classmethod
    def from_env(cls) -> Retention:
        def number(var: str, kind, default):
            raw = os.environ.get(var, "").strip()
            try:
                return kind(raw) if raw else default
            except ValueError:
                raise ConfigurationError(f"{var}={raw!r} is not a number") from None

        return cls(
            number(KEEP_RUNS_ENV, int, DEFAULT_KEEP_RUNS),
            number(KEEP_DAYS_ENV, float, DEFAULT_KEEP_DAYS),
        )


def default_archive_root() -> str:
    """`ORDERTOOLS_RUNS_DIR` (a directory or any URL papermill can write), else `runs/` in the
    user data directory, beside the default order book."""
    return os.environ.get(ARCHIVE_ENV, "").strip() or str(
        Path(platformdirs.user_data_dir("ordertools")) / "runs"
    )


def _is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def archive_path(root: str, notebook: str, store: str | None, started: datetime) -> str:
    """`<root>/YYYY/MM/DD/<notebook>-<UTC time>-<store>.ipynb`; local directories are created.

    Milliseconds in the name keep two runs started in the same second apart."""
    started = started.astimezone(UTC)
    stamp = f"{started:%Y%m%dT%H%M%S}.{started.microsecond // 1000:03d}Z"
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", store or "all")
    relative = f"{started:%Y/%m/%d}/{Path(notebook).stem}-{stamp}-{label}.ipynb"
    if _is_url(root):
        return f"{root.rstrip('/')}/{relative}"
    path = Path(root.removeprefix("file://")).expanduser() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


def recent_runs(
    session: Session, store: str | Sequence[str] | None = None, limit: int = 10
) -> list[NotebookRun]:
    """The newest runs first: of one store (its `store` parameter), of several, or of all."""
    query = select(NotebookRun).order_by(NotebookRun.started_at.desc(), NotebookRun.id.desc())
    if store is not None:
        stores = [store] if isinstance(store, str) else list(store)
        query = query.where(NotebookRun.store.in_(stores))
    return list(session.scalars(query.limit(limit)))


def prune_runs(engine: Engine, retention: Retention, *, now: datetime | None = None) -> int:
    """Delete finished runs beyond the retention limit, archived notebook first, then the
    record; returns how many went. A file that cannot be deleted keeps its record, so the
    next prune tries again. Remote archives (URLs): only the records go, the store's own
    lifecycle rules should expire the files."""
    now = now or utcnow()
    with db.session(engine) as session:
        finished = session.execute(
            select(NotebookRun.id, NotebookRun.started_at, NotebookRun.output_path)
            .where(NotebookRun.outcome != "running")
            .order_by(NotebookRun.started_at.desc(), NotebookRun.id.desc())
        ).all()
    cutoff = now - timedelta(days=retention.days) if retention.days is not None else None
    doomed = [
        (run_id, path)
        for position, (run_id, started, path) in enumerate(finished)
        if (retention.runs is not None and position >= retention.runs)
        or (cutoff is not None and started < cutoff)
    ]
    deleted = [run_id for run_id, path in doomed if _delete_archived(path)]
    if deleted:
        with db.session(engine) as session:
            for start in range(0, len(deleted), 500):
                chunk = deleted[start : start + 500]
                session.query(NotebookRun).filter(NotebookRun.id.in_(chunk)).delete()
    return len(deleted)


def _delete_archived(location: str) -> bool:
    if _is_url(location):
        return True
    path = Path(location.removeprefix("file://"))
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not delete archived run %s: %s", path, exc)
        return False
    # Drop the day's (month's, year's) directory once it is empty; rmdir refuses otherwise.
    for parent in list(path.parents)[:3]:
        try:
            parent.rmdir()
        except OSError:
            break
    return True


def run_history_html(
    runs: list[NotebookRun], link: Callable[[str], str | None] | None = None
) -> str:
    """The dashboard's Run history: a small escaped table, newest first as given.

    `link` turns an output path into an href (e.g. a JupyterLab URL); by default https URLs
    link as they are and local files as file:// URIs; anything else shows as text."""
    link = link or _default_link
    rows = []
    for run in runs:
        duration = (
            f"{(run.finished_at - run.started_at).total_seconds():.1f} s" if run.finished_at else ""
        )
        href = link(run.output_path)
        name = html.escape(Path(run.output_path).name)
        output = anchor(name, href) if href else name
        error = run.error or ""
        cells = [
            html.escape(f"{run.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"),
            html.escape(run.notebook),
            html.escape(run.store or ""),
            f'<span class="outcome-{html.escape(run.outcome)}">{html.escape(run.outcome)}</span>',
            html.escape(duration),
            output,
            html.escape(error if len(error) <= 160 else error[:159] + "…"),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    if not rows:
        return '<p class="ordertools-runs">No runs yet.</p>\n'
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Started", "Notebook", "Store", "Outcome", "Duration", "Output", "Error")
    )
    return (
        '<table class="ordertools-runs ordertools-orders">\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
    )


def _default_link(location: str) -> str | None:
    if location.startswith("https://"):
        return location
    if _is_url(location):
        return None
    path = Path(location.removeprefix("file://"))
    return path.as_uri() if path.is_absolute() else None
