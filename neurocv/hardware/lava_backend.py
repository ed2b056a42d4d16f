"""Client of the Lava worker: runs STMs (NIR files) as Lava processes in ``.venv-lava`` from the main environment.

``LavaSTMRunner(nir_paths, mode)`` starts ONE long-lived ``python -m neurocv.hardware.lava_worker`` process with the
``.venv-lava`` interpreter (``$NEUROCV_LAVA_PYTHON``, else ``<repo>/.venv-lava/bin/python``), which loads every
NIR file once and builds its Lava network once; ``run(name, x)`` sends one clip and returns the STM's output (the
last layer's analog membrane, or its 0/1 spikes for a LIF readout), aligned with torch step for step, and the
operation counts. No torch is needed here.

Failure modes, each a one-line :class:`~neurocv.errors.NeuroCVError`:

* interpreter missing, or the worker cannot import Lava -> :class:`EnvironmentSetupError` ("run `make env-lava`");
* worker dies (exit code and stderr tail in the message) or does not answer in ``timeout_s`` (it is killed) ->
  :class:`WorkerError`; the runner is then closed;
* worker reports a failure (bad NIR file, clip of the wrong shape) -> :class:`WorkerError` with its message; the
  worker stays up for the next clip.
"""

from __future__ import annotations

import collections
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import EnvironmentSetupError, WorkerError
from .lava_worker import read_message, write_message

__all__ = ["LavaSTMRunner", "find_lava_python", "REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "NEUROCV_LAVA_PYTHON"
#: worker kind -> (module run in .venv-lava, key of the files in its "load" request); both speak the same protocol
WORKERS = {"lava": ("neurocv.hardware.lava_worker", "nir"), "netx": ("neurocv.hardware.netx_worker", "net")}


def find_lava_python(python: str | Path | None = None) -> Path:
    """The ``.venv-lava`` interpreter: ``python`` if given, else ``$NEUROCV_LAVA_PYTHON``, else
    ``<repo>/.venv-lava/bin/python``; :class:`EnvironmentSetupError` if it is not an executable file."""
    cand = Path(python or os.environ.get(ENV_VAR) or REPO_ROOT / ".venv-lava" / "bin" / "python")
    if not (cand.is_file() and os.access(cand, os.X_OK)):
        raise EnvironmentSetupError(f"Lava environment missing: {cand} is not an executable Python; "
                                    f"run `make env-lava` (or set {ENV_VAR})")
    return cand


def worker_pythonpath() -> Path:
    """The folder the worker gets on its PYTHONPATH: it must hold the neurocv package and nothing else of this
    environment (the Lava Python must not import this environment's numpy or torch). In a checkout that is the
    checkout; for neurocv installed into site-packages, a folder in the temp dir with a link to the package."""
    pkg = Path(__file__).resolve().parents[1]
    if (pkg.parent / "pyproject.toml").is_file():
        return pkg.parent
    import hashlib
    import tempfile

    folder = Path(tempfile.gettempdir()) / (f"neurocv-worker-path-{os.getuid()}-"
                                            f"{hashlib.sha256(str(pkg).encode()).hexdigest()[:12]}")
    link = folder / "neurocv"
    if not link.is_symlink():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(pkg, target_is_directory=True)
        except FileExistsError:   # another process made it meanwhile
            pass
    return folder


class LavaSTMRunner:
    """Context manager around one Lava worker. ``nir_paths`` maps an STM name (e.g. ``"mv"``) to its ``.nir`` file
    (its ``.net`` file with ``worker="netx"``: lava-dl netx in :mod:`neurocv.hardware.netx_worker`);
    ``mode`` is ``"float"`` (floating_pt) or ``"fixed"`` (fixed_pt, Loihi-style integers); ``network`` passes options
    to :class:`~neurocv.hardware.lava_worker.LavaSTMNetwork` (default: one fused process per layer)."""

    def __init__(self, nir_paths: dict[str, Path], mode: str = "float", python: Path | None = None,
                 timeout_s: float = 600.0, start_timeout_s: float = 120.0, network: dict | None = None,
                 worker: str = "lava"):
        if mode not in ("float", "fixed"):
            raise ValueError(f"mode must be 'float' or 'fixed', got {mode!r}")
        if worker not in WORKERS:
            raise ValueError(f"worker must be one of {sorted(WORKERS)}, got {worker!r}")
        self.mode, self.worker = mode, worker
        self.network = dict(network or {})   # LavaSTMNetwork options: {"layout": "fused"|"split", "conv": ...}
        self.timeout_s = timeout_s
        self.python = find_lava_python(python)
        self.shapes: dict[str, dict] = {}
        self.last_seconds = float("nan")     # worker-side seconds of the last run (Lava only, no transfer)
        self.last_compute_s = float("nan")   # of which the layers' own compute (the rest is Lava's overhead)
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        env = dict(os.environ)
        root = worker_pythonpath()
        env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self._proc = subprocess.Popen([str(self.python), "-m", WORKERS[worker][0]],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          cwd=str(root), env=env, start_new_session=True)
        except OSError as e:
            raise EnvironmentSetupError(f"cannot start the Lava worker with {self.python}: {e}; "
                                        f"run `make env-lava`") from e
        self._err_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._err_thread.start()
        try:
            self._receive(start_timeout_s)
        except WorkerError as e:
            self._kill()
            raise EnvironmentSetupError(f"the Lava worker did not start ({e}); run `make env-lava`") from None
        self.load({name: Path(p) for name, p in nir_paths.items()})

    # -- plumbing --------------------------------------------------------------------------------------------------
    def _drain_stderr(self) -> None:
        for line in iter(self._proc.stderr.readline, b""):
            self._stderr.append(line.decode(errors="replace").rstrip())

    def _tail(self) -> str:
        time.sleep(0.05)   # let the stderr thread catch the last lines of a dying worker
        lines = [ln for ln in self._stderr if ln.strip()]
        return " | ".join(lines[-3:]) if lines else "(no stderr)"

    def _kill(self) -> None:
        # The worker leads its own process group (start_new_session): killing the group also ends Lava's
        # child processes, which outlive a worker that died or was killed.
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc.wait(timeout=10)

    def _dead(self, what: str) -> WorkerError:
        try:
            code = self._proc.wait(timeout=2)   # a closed pipe usually means it is exiting: give it a moment
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            self._kill()
            return WorkerError(f"Lava worker {what}; killed it. stderr: {self._tail()}")
        self._kill()
        return WorkerError(f"Lava worker died (exit code {code}) {what}. stderr: {self._tail()}")

    def _receive(self, timeout_s: float) -> tuple[dict, np.ndarray | None]:
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s

        def read(n: int) -> bytes:
            # Poll: Lava's forked children keep the pipe open, so a dead worker gives no end-of-file.
            while not select.select([fd], [], [], 0.2)[0]:
                if self._proc.poll() is not None:
                    raise EOFError("worker exited")
                if time.monotonic() > deadline:
                    raise TimeoutError
            return os.read(fd, n)

        try:
            return read_message(read)
        except TimeoutError:
            raise self._dead(f"did not answer within {timeout_s:g} s") from None
        except (EOFError, ValueError) as e:
            raise self._dead(f"while answering ({e})") from None

    def _request(self, header: dict, array: np.ndarray | None = None, timeout_s: float | None = None):
        if self._proc.poll() is not None:
            raise self._dead("before the request")
        self._busy = True     # stays True if this is interrupted (Ctrl-C): close() then kills at once
        try:
            write_message(self._proc.stdin, header, array)
        except (BrokenPipeError, OSError):
            raise self._dead("while receiving a request") from None
        reply, out = self._receive(self.timeout_s if timeout_s is None else timeout_s)
        self._busy = False
        if not reply.get("ok"):
            who = "netx" if self.worker == "netx" else "Lava"
            raise WorkerError(f"{who} worker: {reply.get('error', 'unknown error')}")
        return reply, out

    # -- API -------------------------------------------------------------------------------------------------------
    def load(self, nir_paths: dict[str, Path]) -> None:
        """(Re)load STMs from NIR files; :class:`WorkerError` names a file that does not load."""
        # absolute: the worker runs in another working folder
        nir = {k: os.path.abspath(v) for k, v in nir_paths.items()}
        req = {"op": "load", WORKERS[self.worker][1]: nir, "mode": self.mode}
        if self.network:
            req["network"] = self.network
        reply, _ = self._request(req)
        self.shapes = reply["shapes"]

    def run(self, name: str, x: np.ndarray) -> tuple[np.ndarray, dict]:
        """One clip from rest: ``x (T, C, H, W)`` float32 -> ``(y (T, C', H', W') float32, counts)``, ``y`` the
        STM's output (membrane, or spikes for a LIF readout)."""
        reply, u = self._request({"op": "run", "name": name}, np.ascontiguousarray(x, dtype=np.float32))
        self.last_seconds = float(reply.get("seconds", float("nan")))
        compute = reply.get("compute_s")
        self.last_compute_s = float("nan") if compute is None else float(compute)
        return u, reply["counts"]

    @property
    def pid(self) -> int:
        return self._proc.pid

    def close(self) -> None:
        """Ask the worker to stop its Lava runtimes and exit; kill it if it does not within 30 s, or at once if a
        request was interrupted (the worker is still busy with it)."""
        if self._proc.poll() is None and not getattr(self, "_busy", False):
            try:
                self._request({"op": "close"}, timeout_s=30)
                self._proc.wait(timeout=30)
            except (WorkerError, subprocess.TimeoutExpired):
                pass
        self._kill()
        for f in (self._proc.stdin, self._proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self) -> "LavaSTMRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            self.close()
