"""The package's layout holds: every module imports on its own, no import cycles, and the sync
engine loads without the emulator or its web server (the layers themselves: `lint-imports`)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grimp
import pytest

import ordertools

PACKAGE = Path(ordertools.__file__).resolve().parent
# Scripts, not modules: `__main__`s start a program, Alembic runs env.py, migrations/versions
# are loaded by Alembic from their files.
SCRIPTS = ("__main__", "ordertools.migrations.env", "ordertools.migrations.versions")


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["ordertools", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if not any(name.endswith(s) or name.startswith(s) for s in SCRIPTS):
            names.append(name)
    return names


def _import_alone(module: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
    )
    return module, done.stderr.strip().splitlines()[-1] if done.returncode else ""


def test_every_module_imports_first_in_a_fresh_interpreter():
    """Whichever module a user, a kernel or a test imports first, it loads (no partial-init
    ImportError from a cycle)."""
    modules = _modules()
    assert len(modules) > 60  # the walk found the package
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f"{m}: {error}" for m, error in pool.map(_import_alone, modules) if error]
    assert failures == []


def test_no_module_imports_itself_back():
    """No import cycle between any two modules of the package, however long."""
    graph = grimp.build_graph("ordertools")
    modules = {m for m in graph.modules if not m.startswith("ordertools.migrations.")}
    cycles = []
    for module in sorted(modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in modules or imported == module:
                continue
            path = graph.find_shortest_chain(importer=imported, imported=module)
            if path is not None:
                cycles.append(" -> ".join([module, *path]))
    assert cycles == []


FORBIDDEN = ("werkzeug", "ordertools.amazon.emulator")


@pytest.mark.parametrize("module", ["ordertools.sync", "ordertools.fulfillment", "ordertools.cli"])
def test_production_code_loads_neither_the_emulator_nor_werkzeug(module):
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {module}; print([m for m in sys.modules if m.startswith({FORBIDDEN!r})])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"


def test_the_public_api_is_one_import():
    """What the README's Python example uses is reachable as `ordertools.<name>`."""
    for name in ordertools.__all__:
        assert callable(getattr(ordertools, name)) or name == "__version__", name
