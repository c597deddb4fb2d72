"""The tiny study, run once per session and shared by the end-to-end, report and browser tests."""

from __future__ import annotations

import copy

import pytest

from salscope.study import pipeline
from salscope.study.config import build_config

TINY = {
    "train": {"epochs": 1, "batch_size": 4, "input_size": [64, 96], "max_train_images": 8, "max_val_images": 4,
              "threads": 2},
    "evaluate": {"max_images": 4, "classical": ["spectral_residual", "signature"], "metrics": ["auc_judd", "sauc", "nss", "cc"],
                 "bootstrap": 50, "gallery": 2},
    "popout": {"preset": "quick", "spread_images": 6, "classical": ["spectral_residual"], "bootstrap": 50},
    # two thumbnails per channel and encoder keep the browser's 704 channels (block13–15) cheap
    "neurons": {"max_images": 3, "random_seeds": 1, "permutations": 20, "bootstrap": 20, "browser_images": 2},
    "compare": {"max_images": 8, "bootstrap": 10},
}


@pytest.fixture()
def tiny() -> dict:
    """A fresh copy of the tiny study configuration (a dict of TOML tables)."""
    return copy.deepcopy(TINY)


@pytest.fixture(scope="session")
def study(tmp_path_factory, data_root):
    """Run the tiny study once with the compare stage failing, then resume it."""
    out = tmp_path_factory.mktemp("study")
    config = build_config(copy.deepcopy(TINY))
    real_compare = pipeline.stage_compare

    def broken(ctx):
        raise RuntimeError("killed in compare")

    pipeline.stage_compare = broken
    try:
        with pytest.raises(RuntimeError, match="killed in compare"):
            pipeline.run_study(config, out, data_dir=data_root, log=lambda m: None)
    finally:
        pipeline.stage_compare = real_compare
    logs: list[str] = []
    index = pipeline.run_study(config, out, data_dir=data_root, log=logs.append)
    return {"out": out, "index": index, "logs": logs, "config": config}
