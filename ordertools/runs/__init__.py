"""Scheduled notebook runs: papermill execution, the archive of executed notebooks, schedules.

`execute.run_notebook` runs a notebook in this environment's kernel, archives the executed copy
and records the run; `archive` decides where runs go and how long they stay; `parameters` refuses
anything that looks like a secret; `schedule` turns intervals into cron and systemd timers;
`notebooks` finds the notebooks that ship with ordertools.

May import: `ordertools.queries` (links), `ordertools.db`, `ordertools.errors`. Imported by the
notebooks and the CLI. `ordertools.runs.run_notebook` is the entry point scripts use.
"""

from ordertools.runs.execute import RunFailed, run_notebook

__all__ = ["RunFailed", "run_notebook"]
