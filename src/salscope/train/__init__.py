"""Training on Lightning: set-ups I (``fixed``), II (``saliency``), III (``scene``), feature cache, resume.

``train(TrainConfig(...))`` is what ``salscope train`` runs; see
:mod:`salscope.train.run` for the output folder, exact resume and DDP flags.
"""

from salscope.train.config import PRESETS, SETUPS, TrainConfig
from salscope.train.run import TrainResult, build_model, train

__all__ = ["PRESETS", "SETUPS", "TrainConfig", "TrainResult", "build_model", "train"]
