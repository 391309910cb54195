"""The project installs the way the README and environment.yml say it does."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_environment_installs_the_package_with_every_extra():
    extras = set(_pyproject()["project"]["optional-dependencies"])
    pip_lines = [
        line
        for dep in _environment()["dependencies"]
        if isinstance(dep, dict)
        for line in dep.get("pip", [])
    ]
    installs = [re.match(r"(?:-e\s+)?\.\[(.*)\]$", line.strip()) for line in pip_lines]
    named = {extra.strip() for m in installs if m for extra in m.group(1).split(",")}
    assert named == extras, f"environment.yml installs extras {named}, pyproject has {extras}"


def test_environment_python_matches_requires_python():
    requires = _pyproject()["project"]["requires-python"]  # e.g. ">=3.10"
    floor = re.search(r">=\s*([\d.]+)", requires).group(1)
    conda_python = next(
        d for d in _environment()["dependencies"] if isinstance(d, str) and d.startswith("python")
    )
    assert f">={floor}" in conda_python, f"{conda_python!r} does not match {requires!r}"


def test_conda_packages_are_also_project_dependencies():
    """Anything conda installs itself must also be a declared dependency (or Python/pip)."""
    declared = {
        re.split(r"[<>=!\[; ]", dep, maxsplit=1)[0].lower()
        for dep in _pyproject()["project"]["dependencies"]
    }
    for dep in _environment()["dependencies"]:
        if isinstance(dep, str):
            name = re.split(r"[<>=! ]", dep, maxsplit=1)[0].lower()
            assert name in {"python", "pip"} | declared, f"{name} is in environment.yml only"
