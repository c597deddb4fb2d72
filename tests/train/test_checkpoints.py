"""Checkpoints are never lost or silently replaced: resume keeps the best epoch, a finished run keeps its metrics,
writes are atomic and a damaged checkpoint is refused by name."""

from __future__ import annotations

import json

import pytest
import torch

from salscope.errors import TrainError
from salscope.train import train

from .conftest import state


class PlantedScore:
    """Logs a planted validation score per epoch, so the best epoch is known in advance."""

    def __new__(cls, scores):
        from lightning.pytorch.callbacks import Callback

        class _Planted(Callback):
            def on_validation_epoch_end(self, trainer, pl_module):
                pl_module.log("planted", float(scores[trainer.current_epoch]))

        return _Planted()


def _best(path):
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    score = next(v["best_model_score"] for k, v in ckpt["callbacks"].items() if "planted" in k)
    return ckpt["epoch"], ckpt["global_step"], float(score), ckpt["state_dict"]


def _equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_keeps_the_same_best_checkpoint(tiny):
    # Scores 1, 3, 2: the best epoch is the second (0-based epoch 1). An interrupted run resumed after two epochs
    # used to replace best.ckpt with the third epoch (score 2), because last.ckpt held the best score of epoch 0.
    scores = [1.0, 3.0, 2.0]
    straight = train(tiny("straight", epochs=3, monitor="planted"), callbacks=[PlantedScore(scores)])
    train(tiny("resumed", epochs=2, monitor="planted"), callbacks=[PlantedScore(scores)])
    resumed = train(tiny("resumed", epochs=3, monitor="planted", resume=True), callbacks=[PlantedScore(scores)])
    e1, g1, s1, sd1 = _best(straight.best_checkpoint)
    e2, g2, s2, sd2 = _best(resumed.best_checkpoint)
    assert (e1, s1) == (1, 3.0)
    assert (e2, g2, s2) == (e1, g1, s1)
    assert _equal(sd1, sd2)
    assert _equal(state(straight.last_checkpoint), state(resumed.last_checkpoint))


def test_resuming_a_finished_run_returns_its_metrics(tiny):
    first = train(tiny("done", epochs=2))
    assert "val_nss" in first.metrics
    again = train(tiny("done", epochs=2, resume=True))
    assert again.metrics == first.metrics
    assert again.epochs_run == first.epochs_run == 2
    assert again.best_checkpoint == first.best_checkpoint
    stored = json.loads((first.out_dir / "result.json").read_text())
    assert stored["metrics"] == first.metrics and stored["epochs_run"] == 2


@pytest.fixture
def file_size_limit():
    """``limit(n)``: writes past ``n`` bytes fail with EFBIG, as on a full disk (restored after the test)."""
    import resource
    import signal

    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # fail the write instead of killing the process

    def limit(n: int) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, old_limit[1]))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
    signal.signal(signal.SIGXFSZ, old_handler)


def test_a_failed_checkpoint_write_keeps_the_old_file(tiny, file_size_limit):
    first = train(tiny("full", epochs=1))
    ckpts = first.out_dir / "checkpoints"
    before = {p.name: p.read_bytes() for p in ckpts.iterdir()}
    assert sorted(before) == ["best.ckpt", "last.ckpt"]
    file_size_limit(min(len(b) for b in before.values()) // 2)      # the disk fills half-way through the next save
    with pytest.raises(TrainError, match=r"could not write checkpoint .*(best|last)\.ckpt.*previous one is kept"):
        train(tiny("full", epochs=2, resume=True))
    file_size_limit(2**62)
    after = {p.name: p.read_bytes() for p in ckpts.iterdir()}
    assert after == before                                          # no truncated file, no temp file left
    assert train(tiny("full", epochs=2, resume=True)).epochs_run == 2   # and the run resumes from the intact files


@pytest.mark.parametrize("name", ["best.ckpt", "last.ckpt"])
def test_a_truncated_checkpoint_is_refused_by_name(tiny, name):
    first = train(tiny("cut", epochs=1))
    path = first.out_dir / "checkpoints" / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TrainError, match=rf"checkpoint .*{name} is truncated or unreadable.*not used"):
        train(tiny("cut", epochs=2, resume=True))
    assert path.read_bytes() == data[: len(data) // 2]                   # refused before anything was written


def test_a_write_cut_half_way_leaves_the_old_checkpoint(tiny, monkeypatch):
    import salscope.train.checkpoints as ck

    first = train(tiny("cut_write", epochs=1))
    ckpts = first.out_dir / "checkpoints"
    before = {p.name: p.read_bytes() for p in ckpts.iterdir()}

    def half_then_fail(checkpoint, path):
        import io
        import errno

        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck, "_write", half_then_fail)
    with pytest.raises(TrainError, match=r"could not write checkpoint .*\.ckpt \(.*No space left.*previous one is kept"):
        train(tiny("cut_write", epochs=2, resume=True))
    assert {p.name: p.read_bytes() for p in ckpts.iterdir()} == before


@pytest.mark.parametrize("field, value, message", [
    ("lr", float("inf"), "--lr must be a finite number"),
    ("max_images", -5, "--max-images: must be >= 1"),
    ("max_val_images", 0, "--max-val-images: must be >= 1"),
    ("threads", -2, "--threads: must be >= 1"),
    ("batch_size", 0, "--batch-size: must be >= 1"),
    ("input_size", (16, 1000000), "at most 4096 pixels"),
    ("weight_decay", float("nan"), "--weight-decay: must be a finite number"),
])
def test_train_config_refuses_bad_numbers(field, value, message):
    from salscope.errors import ConfigError
    from salscope.train.config import TrainConfig

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})
