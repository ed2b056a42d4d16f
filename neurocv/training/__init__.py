"""Training (single process or DDP), checkpoints, evaluation and prediction."""

from .checkpoint import load_checkpoint, save_checkpoint
from .evaluate import evaluate, predict_videos
from .loop import TrainConfig, build_model_from_checkpoint, train

__all__ = ["TrainConfig", "build_model_from_checkpoint", "evaluate", "load_checkpoint", "predict_videos",
           "save_checkpoint", "train"]
