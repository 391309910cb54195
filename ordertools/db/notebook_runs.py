"""The record of each notebook run (`ordertools run`, a schedule): what ran, with which
parameters, how it ended and where its executed notebook was archived."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ordertools.db.schema import Base, _one_of, utcnow

RUN_OUTCOMES = ("running", "success", "failed")


class NotebookRun(Base):
    """One papermill run of a notebook. `store` repeats the `store` parameter, so a store's
    run history is one indexed query; `parameters` never holds a secret (refused before)."""

    __tablename__ = "notebook_runs"
    __table_args__ = (
        _one_of("outcome", RUN_OUTCOMES, "outcome"),
        Index("ix_notebook_runs_started", "started_at"),
        Index("ix_notebook_runs_store_started", "store", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notebook: Mapped[str] = mapped_column(String(255))
    store: Mapped[str | None] = mapped_column(String(255))
    parameters: Mapped[dict[str, Any]]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(String(10), default="running", server_default="running")
    output_path: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]

    def __repr__(self) -> str:
        return f"<NotebookRun {self.id} {self.notebook} {self.store} {self.outcome}>"
