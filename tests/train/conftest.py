"""Tiny training runs: a randomly initialised efficientnet_lite0, 4 OSIE images at 64×48, 1–2 epochs."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def tiny(tmp_path, data_root):
    """``tiny(name, **overrides) -> TrainConfig`` writing under ``tmp_path/name``."""
    from salscope.train import TrainConfig

    torch.set_num_threads(1)

    def make(name: str = "run", **overrides):
        kw = dict(setup="fixed", weights=None, input_size=(48, 64), epochs=1, batch_size=2, max_images=4,
                  max_val_images=2, out_dir=str(tmp_path / name), data_dir=str(data_root), threads=1,
                  progress=False)
        kw.update(overrides)
        return TrainConfig(**kw)

    return make


def state(path):
    """The model state dict stored in a checkpoint."""
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
