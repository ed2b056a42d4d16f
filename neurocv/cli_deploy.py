"""`neurocv` commands for the deploy stage; :func:`register` adds them to the main typer app (see :mod:`neurocv.cli`)."""

from __future__ import annotations


def register(app, out, err) -> None:
    """Add this module's commands to ``app`` (``out``/``err``: rich consoles for stdout/stderr)."""
