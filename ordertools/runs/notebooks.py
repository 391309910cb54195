"""Where the toolkit's notebooks are.

`notebooks/` at the repository root is the source of truth. At run time (`ordertools demo
--open`, `ordertools run`) they are found, in order: `ORDERTOOLS_NOTEBOOKS`, the checkout's
`notebooks/` beside the package (an editable install), then `./notebooks`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ordertools.errors import ConfigurationError

ENV_VAR = "ORDERTOOLS_NOTEBOOKS"


def notebooks_dir() -> Path:
    candidates = []
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    candidates.append(Path(__file__).resolve().parents[2] / "notebooks")  # the checkout
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
