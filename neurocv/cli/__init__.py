"""The ``neurocv`` command line: thin typer commands over library functions.

Results go to stdout, diagnostics to stderr; every :class:`~neurocv.errors.NeuroCVError` becomes one line
``error: <message>`` and a non-zero exit, without a traceback.

This module assembles the app: it registers the commands of the stage modules in the order ``neurocv --help`` lists
them. The layers, top to bottom (checked by the import-linter contracts in ``pyproject.toml``)::

    neurocv.cli            the app and main(); the only module that imports the stage modules
    video | datasets | training | doctor | deploy | energy
                           one module per stage, each with its COMMANDS; none imports another, nor this one
    _common                consoles, path checks, --size, the Ctrl-C line, errors -> one line and an exit code
"""

from __future__ import annotations

from typing import List, Optional

import typer

from . import datasets, deploy, doctor, energy, training, video
from ._common import run

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compressed-domain video action recognition, from the bitstream to neuromorphic hardware.")


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"neurocv {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    """Compressed-domain video action recognition, from the bitstream to neuromorphic hardware."""


#: the stage modules, in the order their commands appear in ``neurocv --help``
STAGES = (video, datasets, training, doctor, deploy, energy)
for _stage in STAGES:
    for _name, _command in _stage.COMMANDS.items():
        app.command(_name)(_command)


def main(argv: Optional[List[str]] = None) -> None:
    """The ``neurocv`` console script (``argv``: the arguments, default ``sys.argv[1:]``); exits with the command's
    status (see :func:`neurocv.cli._common.run`)."""
    run(app, argv)


__all__ = ["app", "main"]
