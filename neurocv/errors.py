"""One family of errors. Every message says what was expected, what was found and what to do.

The CLI turns any :class:`NeuroCVError` into a one-line message on stderr and a non-zero exit, without a traceback.
"""

from __future__ import annotations


class NeuroCVError(Exception):
    """Base class of every error neurocv raises on purpose."""

    exit_code = 2


class VideoDecodeError(NeuroCVError):
    """A file is missing, is not a video, is truncated, or decodes to something unusable."""


class UnsupportedCodecError(VideoDecodeError):
    """The codec decodes but exports no motion vectors (or the GOP layout is one the reader cannot trace)."""


class BFramesError(UnsupportedCodecError):
    """The stream holds B-frames, which the reader does not trace; `neurocv transcode` removes them."""


class DatasetError(NeuroCVError):
    """A dataset folder, split file or CSV list is malformed."""


class CheckpointError(NeuroCVError):
    """A checkpoint is missing, corrupt, or not a neurocv checkpoint."""


class ConfigError(NeuroCVError):
    """An unknown model name, an invalid option or an inconsistent configuration."""


class UnsupportedLayerError(NeuroCVError):
    """A layer has no exporter or no counterpart on the target backend."""


class ExportError(NeuroCVError):
    """An export failed or wrote a file that does not read back."""


class EquivalenceError(ExportError):
    """Two implementations that must agree differ by more than their named tolerance."""


class EnvironmentSetupError(NeuroCVError):
    """A required environment (e.g. `.venv-lava`) or tool is missing or broken."""


class DeploymentError(NeuroCVError):
    """A deployment folder is incomplete, corrupt, or does not match its manifest (versions, shapes, checksums)."""


class HardwareProfileError(ConfigError):
    """A hardware profile (energy per operation) is unknown or its file is malformed."""


class WorkerError(NeuroCVError):
    """A worker process (e.g. the Lava worker in `.venv-lava`) died, timed out or reported a failure."""
