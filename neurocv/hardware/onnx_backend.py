"""onnxruntime session for the ANN partition: load once, check feeds by name and shape, run on the CPU.

A missing, truncated or corrupt ``.onnx`` file raises :class:`~neurocv.errors.DeploymentError` naming the file
(onnxruntime's own message is a multi-line protobuf error); a feed with the wrong name or shape raises
``ValueError`` saying what was expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DeploymentError

__all__ = ["OnnxSession"]


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class OnnxSession:
    """``OnnxSession(path, threads=None)``; ``run({name: array}) -> {name: array}`` (float32).

    ``inputs`` / ``outputs`` map each name to its shape as onnxruntime reports it (``"batch"`` or another string
    for a symbolic axis). ``threads`` sets onnxruntime's intra-op threads (default: its own choice).
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise DeploymentError(f"{self.path}: ONNX file not found")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # idle onnxruntime threads otherwise spin for a while after each run and starve the torch / decode work
        # that follows in the same process
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = int(threads)
        try:
            self._sess = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # InvalidProtobuf, Fail, InvalidGraph, NoSuchFile ...
            raise DeploymentError(f"{self.path}: not a loadable ONNX model (corrupt or truncated?): "
                                  f"{type(e).__name__}: {_first_line(e)[:200]}") from None
        self.inputs = {i.name: list(i.shape) for i in self._sess.get_inputs()}
        self.outputs = {o.name: list(o.shape) for o in self._sess.get_outputs()}

    def _check(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if set(feeds) != set(self.inputs):
            raise ValueError(f"{self.path.name}: expected inputs {sorted(self.inputs)}, got {sorted(feeds)}")
        out = {}
        for name, arr in feeds.items():
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            want = self.inputs[name]
            if arr.ndim != len(want) or any(isinstance(d, int) and d != n for d, n in zip(want, arr.shape)):
                raise ValueError(f"{self.path.name}: input {name} expects shape {want}, got {list(arr.shape)}")
            out[name] = arr
        return out

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model once; returns every output by name."""
        feeds = self._check(feeds)
        try:
            values = self._sess.run(None, feeds)
        except Exception as e:
            raise DeploymentError(f"{self.path}: onnxruntime failed: {_first_line(e)[:300]}") from None
        return dict(zip(self.outputs, values))
