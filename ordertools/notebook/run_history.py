"""Run history in the store dashboard: the last scheduled runs and their output notebooks.

Where an archived output notebook opens, decided for a browser page served by Voila or
JupyterLab (a `file://` link from an http page is blocked by every browser, and a Voila
`/voila/render/` link would execute the archived sync again, so neither is offered):

* **JupyterLab**: when a Jupyter server runs on this machine whose root directory holds the
  archive (`ORDERTOOLS_RUNS_DIR` under the folder JupyterLab was started in, and no hidden folder
  on the way: Jupyter refuses hidden paths), the link is that server's `lab/tree/<path>`, which
  opens the notebook as a document, outputs and all, without running it. Inside JupyterLab the
  link is root-relative (it works behind any proxy); under Voila it is the Lab server's address.
* **Anywhere else** (the default archive in the user data folder is hidden from Jupyter; remote
  archives): the table names the file (its full location in the tooltip), and **Download** saves
  the chosen run's notebook from the page itself, which works under Voila as well.
* `https://` archives link as they are.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import ipywidgets as widgets

from ordertools.notebook import pages
from ordertools.notebook.base import Dashboard, Section, download_link
from ordertools.queries.exports import when
from ordertools.runs.archive import recent_runs, run_history_html

RUNS_SHOWN = 10


def _jupyter_servers() -> list[dict]:
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # a kernel without jupyter_server: no Lab links, Download still works
        return []
    return list(list_running_servers())


def output_href(location: str, servers: list[dict] | None = None) -> str | None:
    """Where a browser opens this archived notebook, or None (see the module's doc)."""
    if location.startswith("https://"):
        return location
    if "://" in location and not location.startswith("file://"):
        return None
    path = Path(location.removeprefix("file://"))
    if not path.is_absolute():
        return None
    in_voila = os.environ.get("SERVER_SOFTWARE", "").startswith("voila")
    for server in _jupyter_servers() if servers is None else servers:
        root = Path(server.get("root_dir") or server.get("notebook_dir") or "/")
        try:
            relative = path.resolve().relative_to(root.resolve())
        except (ValueError, OSError):
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue  # Jupyter won't serve a hidden path
        tail = "lab/tree/" + quote(relative.as_posix())
        base = server["url"] if in_voila else server.get("base_url", "/")
        return base.rstrip("/") + "/" + tail
    return None


class RunHistory(Section):
    """The store's last runs (and runs of `all` stores), newest first."""

    title = "Run history"

    def __init__(self, dash: Dashboard, limit: int = RUNS_SHOWN):
        self.dash, self.limit = dash, limit
        self.runs = []
        self.table = widgets.HTML()
        self.choose = widgets.Dropdown(description="Run")
        self.download_button = widgets.Button(description="Download", icon="download")
        self.download_button.on_click(lambda _: self.download())
        self.download_link = widgets.HTML()
        self.picker = widgets.HBox([self.choose, self.download_button, self.download_link])
        super().__init__([self.table, self.picker])
        self.refresh()

    def refresh(self) -> None:
        with self.dash.session() as session:
            # This store's runs and the runs of every store ("all"), newest first.
            self.runs = recent_runs(session, [self.dash.store_name, "all"], self.limit)
            session.expunge_all()  # plain values from here on
        servers = _jupyter_servers() if self.runs else []
        table = run_history_html(self.runs, link=lambda p: output_href(p, servers))
        self.table.value = pages.CSS + table
        self.choose.options = [
            (f"{when(r.started_at)} · {r.notebook} · {r.outcome}", r.id) for r in self.runs
        ]
        self.picker.layout.display = None if self.runs else "none"
        self.download_link.value = ""

    def download(self) -> bytes | None:
        """A link that saves the chosen run's output notebook; returns its bytes."""
        run = next((r for r in self.runs if r.id == self.choose.value), None)
        if run is None:
            return None
        path = Path(run.output_path.removeprefix("file://"))
        try:
            content = path.read_bytes()
        except OSError as exc:  # pruned, or a remote archive
            self.download_link.value = (
                f'<span style="color:#b00">{pages.e(run.output_path)}: '
                f"{pages.e(exc.strerror or exc)}</span>"
            )
            return None
        self.download_link.value = download_link(
            path.name, path.name, "application/x-ipynb+json", content
        )
        return content

    def snapshot(self) -> str:
        return self.table.value.removeprefix(pages.CSS)
