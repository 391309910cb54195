"""Where the toolkit's notebooks are.

`notebooks/` at the repository root is the source of truth; the wheel carries a copy inside the
package. At run time (`ordertools demo --open`, `ordertools run`) they are found, in order:
`ORDERTOOLS_NOTEBOOKS`, the installed package's own copy (a regular install), then the checkout's
`notebooks/` beside the package (an editable install), from any working directory.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ordertools.errors import ConfigurationError

ENV_VAR = "ORDERTOOLS_NOTEBOOKS"


def notebooks_dir() -> Path:
    chosen = os.environ.get(ENV_VAR)
    if chosen and Path(chosen).is_dir():
        return Path(chosen)
    candidates = [Path(chosen)] if chosen else []
    # A regular install carries its own copy (setup.py puts it into the wheel); an editable one
    # reads the checkout's notebooks/, beside the package.
    candidates.append(Path(str(resources.files("ordertools"))) / "notebooks")
    candidates.append(Path(__file__).resolve().parents[2] / "notebooks")
    for folder in candidates:
        if (folder / "sync.ipynb").is_file():
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
