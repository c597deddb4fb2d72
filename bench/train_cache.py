"""Set-up I epoch time with the encoder-feature cache vs recomputing the frozen encoder (target ≥ 5×).

Baseline: ``salscope.train.train`` with ``cache=False`` (each epoch decodes the
JPEGs, resizes, runs efficientnet_lite0 and the readout). Candidate: the same
run with ``cache=True`` after the cache is filled (each epoch reads ``.npy``
features and runs the readout only). Both train the same readout on the same
OSIE images (no validation) for ``--epochs`` epochs; the figure is the median
training-epoch time measured by a Lightning callback. The one-off cache fill is
reported too.

Usage: ``SALSCOPE_DATA=... python bench/train_cache.py [--images 60] [--epochs 3] [--threads 1]``
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--input-size", default="320x240")
    parser.add_argument("--accelerator", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("SALSCOPE_PROGRESS", "0")
    from salscope.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SALSCOPE_CACHE"] = os.path.join(tmp, "cache")  # a cold cache, measured below

        def run(name: str, cache: bool, epochs: int):
            timer = EpochTimer()
            cfg = TrainConfig(setup="fixed", input_size=args.input_size, epochs=epochs, batch_size=10,
                              max_images=args.images, val_split=None, cache=cache, out_dir=os.path.join(tmp, name),
                              threads=args.threads, progress=False, accelerator=args.accelerator)
            t0 = time.perf_counter()
            res = train(cfg, callbacks=[timer])
            return res, timer.times, time.perf_counter() - t0

        fill, _, fill_total = run("fill", True, 1)
        _, cached, _ = run("cached", True, args.epochs)
        _, plain, _ = run("plain", False, args.epochs)
    device = "cuda" if args.accelerator == "gpu" else "cpu"
    t_cached, t_plain = statistics.median(cached), statistics.median(plain)
    print(f"device: {device} ({torch.get_num_threads()} thread(s)), {args.images} OSIE train images at {args.input_size}, "
          f"batch 10, efficientnet_lite0 + readout")
    print(f"cache fill (first run, {fill.cached_images} images, incl. 1 epoch + start-up): {fill_total:.2f} s")
    print(f"epoch without cache (encoder each epoch): {t_plain:.3f} s  (epochs: {', '.join(f'{t:.3f}' for t in plain)})")
    print(f"epoch with cache (features from disk):    {t_cached:.3f} s  (epochs: {', '.join(f'{t:.3f}' for t in cached)})")
    print(f"speed-up (no cache / cache): {t_plain / t_cached:.1f}x  (target >= 5x)")


if __name__ == "__main__":
    main()
