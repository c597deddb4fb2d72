"""Epoch time with the feature caches vs recomputing the frozen encoder/trunk: set-up I (target ≥ 5×) and II.

Set-up I (``--setup fixed``). Baseline: ``salscope.train.train`` with
``cache=False`` (each epoch decodes the JPEGs, resizes, runs efficientnet_lite0
and the readout). Candidate: the same run with ``cache=True`` after the cache is
filled (each epoch reads ``.npy`` features and runs the readout only).

Set-up II (``--setup saliency``), at the study's ``--quick`` scale:
efficientnet_lite0 (ImageNet weights) fine-tuned from ``block13`` on under the
readout (block4, block10, block15), 192×256 input, batch 8. Baseline:
``cache=False`` (each epoch runs stem … block15). Candidate: the frozen-trunk
cache (block12, block4, block10 read from disk; blocks 13–15 and the readout
run, forward and backward).

Both train on the same OSIE images (no validation); the figure is the median
training-epoch time measured by a Lightning callback; the one-off cache fill
(first run, including its epoch and start-up) is reported too. Both arms of a
set-up run in the same process, one after the other.

Usage: ``SALSCOPE_DATA=... python bench/train_cache.py [--setup all|fixed|saliency] [--epochs 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import lightning as L
import torch


class EpochTimer(L.Callback):
    def __init__(self):
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._t = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.times.append(time.perf_counter() - self._t)


SETUPS = {
    # setup: (images, input size W×H, threads, batch size, extra TrainConfig fields, target)
    "fixed": (60, "320x240", 1, 10, {}, 5.0),
    "saliency": (64, "256x192", 2, 8, {"finetune_from": "block13"}, None),
}


def bench(setup: str, args) -> None:
    from salscope.train import TrainConfig, train

    images, size, threads, batch, extra, target = SETUPS[setup]
    images = args.images or images
    size = args.input_size or size
    threads = args.threads or threads
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SALSCOPE_CACHE"] = os.path.join(tmp, "cache")  # a cold cache, measured below

        def run(name: str, cache: bool, epochs: int):
            timer = EpochTimer()
            cfg = TrainConfig(setup=setup, input_size=size, epochs=epochs, batch_size=batch, max_images=images,
                              val_split=None, cache=cache, out_dir=os.path.join(tmp, name), threads=threads,
                              progress=False, accelerator=args.accelerator, **extra)
            t0 = time.perf_counter()
            res = train(cfg, callbacks=[timer])
            return res, timer.times, time.perf_counter() - t0

        fill, _, fill_total = run("fill", True, 1)
        _, cached, _ = run("cached", True, args.epochs)
        _, plain, _ = run("plain", False, args.epochs)
    device = "cuda" if args.accelerator == "gpu" else "cpu"
    t_cached, t_plain = statistics.median(cached), statistics.median(plain)
    what = "frozen encoder + readout" if setup == "fixed" else f"fine-tuned from {extra['finetune_from']} + readout"
    print(f"[set-up {'I' if setup == 'fixed' else 'II'}] device: {device} ({threads} thread(s)), {images} OSIE train "
          f"images at {size}, batch {batch}, efficientnet_lite0 {what}; cached layers: {fill.cache_layers}")
    print(f"  cache fill (first run, {fill.cached_images} images, incl. 1 epoch + start-up): {fill_total:.2f} s")
    print(f"  epoch without cache: {t_plain:.3f} s  (epochs: {', '.join(f'{t:.3f}' for t in plain)})")
    print(f"  epoch with cache:    {t_cached:.3f} s  (epochs: {', '.join(f'{t:.3f}' for t in cached)})")
    print(f"  speed-up (no cache / cache): {t_plain / t_cached:.2f}x" + (f"  (target >= {target:g}x)" if target else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=["all", "fixed", "saliency"], default="all")
    parser.add_argument("--images", type=int, default=None, help="default: 60 (I), 64 (II)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="default: 1 (I), 2 (II)")
    parser.add_argument("--input-size", default=None, help="W×H; default: 320x240 (I), 256x192 (II)")
    parser.add_argument("--accelerator", default="cpu")
    args = parser.parse_args()
    os.environ.setdefault("SALSCOPE_PROGRESS", "0")
    for setup in (["fixed", "saliency"] if args.setup == "all" else [args.setup]):
        bench(setup, args)


if __name__ == "__main__":
    main()
