"""The wheel carries the notebooks: the build copies `notebooks/*.ipynb` into the package.

The notebooks stay in the repository's top-level `notebooks/`, where users, nbval and an
editable install find them; a regular install (`pip install .`, a wheel) finds its own copy in
`ordertools/notebooks/` (`ordertools.runs.notebooks`). Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithNotebooks(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's notebooks/
            return
        target = Path(self.build_lib) / "ordertools" / "notebooks"
        target.mkdir(parents=True, exist_ok=True)
        for notebook in sorted((HERE / "notebooks").glob("*.ipynb")):
            shutil.copy2(notebook, target / notebook.name)


setup(cmdclass={"build_py": BuildWithNotebooks})
