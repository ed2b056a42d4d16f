"""`neurocv doctor`: both environments, their versions and the Lava worker checked (:mod:`neurocv.doctor`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import out


def doctor(as_json: bool = typer.Option(False, "--json", help="Print the checks as one JSON list."),
           lava_python: Optional[Path] = typer.Option(None, "--lava-python", help="The Lava environment's Python "
                                                      "(default: $NEUROCV_LAVA_PYTHON, else .venv-lava)."),
           no_worker: bool = typer.Option(False, "--no-worker", help="Do not start the Lava worker.")):
    """Check both environments, their versions and the Lava worker; one line each, with the command that fixes
    what is missing. Exit 1 if anything is."""
    from ..doctor import as_json as checks_json, run_checks

    checks = run_checks(lava_python, worker=not no_worker)
    if as_json:
        print(checks_json(checks))
    else:
        for c in checks:
            out.print(c.line(), markup=False, highlight=False)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


#: this stage's commands, by name, in the order ``neurocv --help`` lists them
COMMANDS = {"doctor": doctor}
