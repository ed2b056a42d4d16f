"""Checkpoints live in :mod:`neurocv.checkpoint` (export, energy and the runtime read them without the training
package); re-exported here for existing imports."""

from ..checkpoint import FORMAT, VERSION, build_model_from_checkpoint, input_settings, load_checkpoint, save_checkpoint

__all__ = ["FORMAT", "VERSION", "save_checkpoint", "load_checkpoint", "build_model_from_checkpoint", "input_settings"]
