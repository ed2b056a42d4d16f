"""What every ``neurocv`` command shares, below the stage modules (:mod:`neurocv.cli.video`, ``datasets``,
``training``, ``doctor``, ``deploy``, ``energy``) and the app that registers them (:mod:`neurocv.cli`): the stdout and
stderr consoles, the checks of output and checkpoint paths made before any work, ``--size`` parsing, the line printed
after Ctrl-C (:func:`on_interrupt`) and :func:`run`, which turns every known error into one line and an exit code.
Nothing here imports a command module or the app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, List, Optional

from rich.console import Console

from ..errors import ConfigError, NeuroCVError

out = Console(soft_wrap=True)   # long lines (paths) stay whole when piped
err = Console(stderr=True, soft_wrap=True)


def wide(console: Console, width: int) -> Console:
    """``console``, or one ``width`` columns wide where it is narrower (a pipe is 80): tables of many columns stay
    readable in a file instead of being cut to ellipses."""
    return console if console.width >= width else Console(width=width, force_terminal=console.is_terminal)


# What Ctrl-C leaves behind and how to go on: a command sets it when it starts (see on_interrupt), `run` prints it.
_INTERRUPT_HINT = ["every output already finished was kept (each is written whole or not at all); run the same "
                   "command again"]


def on_interrupt(text: str | Callable[[], str]) -> None:
    """Set the line :func:`run` prints after Ctrl-C (``interrupted: <text>``): what was kept, how to resume; a
    callable is asked at the interrupt (for a hint that depends on how far the command got)."""
    _INTERRUPT_HINT[0] = text


def parse_size(text: Optional[str], what: str = "--size", even: bool = False) -> Optional[tuple[int, int]]:
    """``WxH`` as ``(w, h)``; ``None`` for no size or ``native``. :class:`ConfigError` naming ``what`` for a malformed,
    too small, too large or (``even``: for the encoder) odd size."""
    if text is None or text.lower() == "native":
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"{what} expects WxH (e.g. 340x256), got '{text}'") from None
    if w < 2 or h < 2:
        raise ConfigError(f"{what} must be at least 2x2, got '{text}'")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ConfigError(f"{what} {w}x{h} is larger than {MAX_SIDE}x{MAX_SIDE} (arrays that size do not fit in "
                          f"memory); choose a smaller size")
    if even and (w % 2 or h % 2):
        raise ConfigError(f"{what} {w}x{h}: width and height must be even for the encoder (its colour planes are "
                          f"half size); e.g. {w - w % 2}x{h - h % 2}")
    return w, h


MAX_SIDE = 4096


def check_out_file(path: Path, option: str) -> Path:
    """Check an output file path before any work: not an existing folder, no file where a parent folder goes."""
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; {option} expects a file name (e.g. {path / ('out' + _ext(option))})")
    _parents_are_folders(path)
    return path


def check_out_dir(path: Path, option: str) -> Path:
    """Check an output folder path before any work: not an existing file (nor a file where a parent goes)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file; {option} expects a folder (a new or existing one)")
    _parents_are_folders(path)
    return path


_NOT_CHECKPOINTS = {
    ".onnx": "an ONNX model (the ANN partition of a deployment)",
    ".nir": "a NIR graph (a spiking partition of a deployment)",
    ".safetensors": "bare weights without a model config (a deployment's reference weights)",
    ".npz": "an array file (from `neurocv extract` or the cache)",
    ".json": "a JSON file",
}


def check_checkpoint_arg(path: Path) -> None:
    """Name what a file given as CHECKPOINT really is when it is something else neurocv writes (a deployment, an
    ONNX / NIR / safetensors file, a TorchScript archive), instead of calling it corrupt."""
    import zipfile

    from ..errors import CheckpointError

    what = ("a checkpoint (.pt from `neurocv train`, or its run folder)")
    if path.is_dir() and (path / "manifest.json").is_file():
        raise CheckpointError(f"{path}: a deployment folder, not a checkpoint; `neurocv run {path} VIDEO` runs it "
                              f"(this command needs {what})")
    if not path.is_file():
        return
    kind = _NOT_CHECKPOINTS.get(path.suffix.lower())
    if kind:
        raise CheckpointError(f"{path}: {kind}, not a neurocv checkpoint; this command needs {what}")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError):
            return
        if any("/code/" in n or n.endswith("/constants.pkl") for n in names):
            raise CheckpointError(f"{path}: a TorchScript archive (torch.jit.save), not a neurocv checkpoint; this "
                                  f"command needs {what}")


def _ext(option: str) -> str:
    return {"--plot": ".png", "--ops": ".json"}.get(option, ".npz")


def _parents_are_folders(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{parent}: is a file, not a folder (in {path})")
            return


def usage_error(exc) -> int:
    """Print a typer/click usage error the way typer does (usage line, help hint, error panel); its exit code."""
    from typer import rich_utils

    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()                          # the help text, as typer's own entry point prints it
        return exc.exit_code
    try:
        rich_utils.rich_format_error(exc)
    except Exception:  # noqa: BLE001  (plain text if rich formatting is unavailable)
        exc.show()
    return exc.exit_code


def run(app, argv: Optional[List[str]] = None) -> None:
    """Run the typer ``app`` on ``argv`` (default: ``sys.argv``) and exit the way the command line promises: a
    :class:`~neurocv.errors.NeuroCVError` or a path of the wrong kind as one ``error:`` line, a usage error as typer
    prints it (exit 2), Ctrl-C as the ``interrupted:`` line of :func:`on_interrupt` (exit 130)."""
    from typer._click.exceptions import ClickException
    from typer.exceptions import Abort, Exit

    try:
        rc = app(args=argv, standalone_mode=False)
    except NeuroCVError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except ClickException as exc:   # usage errors: typer's usage message, exit 2
        sys.exit(usage_error(exc))
    except Exit as exc:
        rc = exc.exit_code
    except (KeyboardInterrupt, Abort):
        rc = 130
    except (IsADirectoryError, NotADirectoryError, FileExistsError, FileNotFoundError, PermissionError) as exc:
        # a path of the wrong kind that a command did not check first: still one line, naming the file
        what = exc.filename if exc.filename is not None else ""
        err.print(f"error: {what}: {exc.strerror or type(exc).__name__}", markup=False, highlight=False)
        sys.exit(2)
    except MemoryError:
        err.print("error: out of memory (a smaller --size, fewer --segments or a smaller batch may fit)",
                  markup=False, highlight=False)
        sys.exit(2)
    if rc == 130:                   # typer turns Ctrl-C into exit code 130
        hint = _INTERRUPT_HINT[0]
        err.print(f"interrupted: {hint() if callable(hint) else hint}", markup=False, highlight=False, soft_wrap=True)
        if argv is None:            # the console script: leave now, without waiting on (or finalising under)
            import os               # helper threads still inside C code (decoder prefetch, pipes). First run the
            from multiprocessing import util   # finalisers that a normal exit runs for multiprocessing (a stopped
            try:                    # pool's queue locks), or its resource tracker warns of "leaked semaphores"
                util._run_finalizers(0)        # after our line
            except Exception:       # noqa: BLE001 - best effort on the way out
                pass

            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(130)
        sys.exit(130)
    if isinstance(rc, int) and rc:
        sys.exit(rc)
