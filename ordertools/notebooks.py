"""Where the toolkit's notebooks are, and the parameters a notebook was opened with.

`notebooks/` at the repository root is the source of truth. At run time (`ordertools demo
--open`, `ordertools run`) they are found, in order: `ORDERTOOLS_NOTEBOOKS`, the checkout's
`notebooks/` beside the package (an editable install), then `./notebooks`.

Under Voila a notebook's parameters come from the page's query string (`?store=acme-us`), which
Voila hands the kernel as `QUERY_STRING`; papermill and JupyterLab set them in the cell tagged
`parameters`. `parameters()` merges the two so a notebook needs one line for both.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs

from .errors import ConfigurationError

ENV_VAR = "ORDERTOOLS_NOTEBOOKS"


def notebooks_dir() -> Path:
    candidates = []
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    candidates.append(Path(__file__).resolve().parent.parent / "notebooks")
    candidates.append(Path.cwd() / "notebooks")
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise ConfigurationError(
        f"cannot find the ordertools notebooks (looked in {', '.join(map(str, candidates))}): "
        f"set {ENV_VAR} to the folder holding store_dashboard.ipynb"
    )


def notebook_path(name: str) -> Path:
    """The notebook `name` ("store_dashboard" or "store_dashboard.ipynb")."""
    filename = name if name.endswith(".ipynb") else f"{name}.ipynb"
    path = notebooks_dir() / filename
    if not path.is_file():
        raise ConfigurationError(f"no notebook {filename} in {path.parent}")
    return path


def parameters(**defaults: str | None) -> dict[str, str | None]:
    """The notebook's parameters: the cell's values, overridden by Voila's query string."""
    query = parse_qs(os.environ.get("QUERY_STRING", ""))
    return {name: query[name][0] if query.get(name) else value for name, value in defaults.items()}
