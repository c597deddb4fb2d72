"""Neuron analysis cost: full region-NSS + Network Dissection vs a plain forward pass, and memory vs N.

    SALSCOPE_DATA=../shared/data python bench/dissect_speed.py [--model vgg16]
        [--layers conv4_3,conv5_1,conv5_3] [--input-size 224x224] [--threads 1]
        [--memory-model efficientnet_lite0] [--memory-n 100,1000] [--skip-memory] [--skip-accuracy]

1. Speed: over the annotated OSIE images, time (a) a plain forward pass (load,
   resize, encoder up to the deepest layer) and (b) ``analyse_neurons`` on all
   channels of the layers (region NSS + IoU), same batches; print the ratio
   (target <= 1.5).
2. Accuracy: the one-pass IoU against the literal two-pass recipe
   (``dissect_literal``: exact quantile, every map in memory) on the memory model.
3. Memory: peak RSS of a child process analysing N = 100 and 1,000 images (the
   150 annotated images repeated); the score table is the only part that grows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch


def _setup(threads: int):
    torch.set_num_threads(threads)
    os.environ.setdefault("SALSCOPE_PROGRESS", "0")
    from salscope.data import load_osie
    from salscope.data.regions import load_voc_regions
    from salscope.settings import data_dir

    ds = load_osie()
    regions = load_voc_regions(data_dir() / "osie-regions", ds.stimuli)
    return ds, regions


def _size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(h), int(w)


def bench_speed(args) -> dict:
    from salscope.analysis.neurons.capture import iter_batches, layer_activations, to_input
    from salscope.analysis.neurons.analysis import analyse_neurons
    from salscope.models.backbones import get_backbone

    ds, regions = _setup(args.threads)
    model = get_backbone(args.model, weights=None if args.weights == "none" else args.weights)
    layers = args.layers.split(",")
    size = _size(args.input_size)
    chosen = [i for i, image_id in enumerate(ds.ids) if image_id in regions][: args.images]
    # warm-up (allocator, first-call overheads) on one batch, not timed
    layer_activations(model, to_input(model, [ds.stimuli[i] for i in chosen[: args.batch_size]], size), layers)
    t0 = time.perf_counter()
    for batch in iter_batches(chosen, args.batch_size):
        layer_activations(model, to_input(model, [ds.stimuli[i] for i in batch], size), layers)
    t_forward = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = analyse_neurons(model, ds, regions, layers, input_size=size, batch_size=args.batch_size,
                          max_images=len(chosen))
    t_full = time.perf_counter() - t0
    channels = sum(res.layer(k).channels for k in layers)
    out = {"model": args.model, "layers": layers, "channels": channels, "images": len(chosen),
           "regions": len(res.regions), "input_size": args.input_size, "threads": args.threads,
           "forward_s": round(t_forward, 2), "analysis_s": round(t_full, 2), "ratio": round(t_full / t_forward, 2),
           "recounted": res.settings["recounted_layers"]}
    print(f"[speed] {args.model} {','.join(layers)} ({channels} channels), {len(chosen)} images, "
          f"{len(res.regions)} regions, input {args.input_size}, {args.threads} thread(s)")
    print(f"[speed] plain forward pass: {t_forward:.1f} s ({1000 * t_forward / len(chosen):.0f} ms/image)")
    print(f"[speed] full analysis     : {t_full:.1f} s ({1000 * t_full / len(chosen):.0f} ms/image); "
          f"second-pass recount: {res.settings['recounted_layers'] or 'none'}")
    print(f"[speed] ratio analysis / forward = {t_full / t_forward:.2f} (target <= 1.5)")
    return out


def bench_accuracy(args) -> dict:
    from salscope.analysis.neurons.capture import layer_activations, prepare_image, to_input
    from salscope.analysis.neurons.dissection import dissect_literal
    from salscope.analysis.neurons.analysis import analyse_neurons
    from salscope.models.backbones import get_backbone

    ds, regions = _setup(args.threads)
    model = get_backbone(args.memory_model, weights="imagenet")
    layers = args.memory_layers.split(",")
    size = _size(args.memory_input_size)
    res = analyse_neurons(model, ds, regions, layers, input_size=size, batch_size=args.batch_size)
    chosen = [i for i, image_id in enumerate(ds.ids) if image_id in regions]
    feats = {k: [] for k in layers}
    masks = []
    order = np.argsort(ds.fixations.n, kind="stable")
    starts = np.searchsorted(ds.fixations.n[order], np.arange(len(ds) + 1))
    for i in chosen:
        img = ds.stimuli[i]
        f = layer_activations(model, to_input(model, [img], size), layers)
        for k in layers:
            feats[k].append(f[k][0])
        sel = order[starts[i]:starts[i + 1]]
        masks.append(prepare_image(i, ds.ids[i], regions[ds.ids[i]], ds.fixations.x[sel], ds.fixations.y[sel],
                                   res.categories, tuple(res.settings["mask_size"]), "tuebingen").category_masks)
    out = {}
    for k in layers:
        exact = dissect_literal(feats[k], masks, tuple(res.settings["mask_size"]))
        got = res.layer(k).dissection
        fires = res.layer(k).fires
        diff = np.abs(got.iou[fires] - exact.iou[fires])
        det_a, det_b = got.iou[fires] > 0.04, exact.iou[fires] > 0.04
        out[k] = {"max_abs_iou_diff": float(diff.max()), "mean_abs_iou_diff": float(diff.mean()),
                  "detectors_streamed": int(det_a.sum()), "detectors_two_pass": int(det_b.sum()),
                  "detector_disagreements": int((det_a != det_b).sum())}
        print(f"[accuracy] {args.memory_model} {k}: |IoU one-pass - two-pass| max {diff.max():.4f}, "
              f"mean {diff.mean():.5f}; detectors {int(det_a.sum())} vs {int(det_b.sum())}, "
              f"{int((det_a != det_b).sum())} (channel, category) pairs disagree")
    return out


def child_memory(args) -> None:
    """Run in a subprocess: analyse N images (annotated images repeated); print JSON with the peak RSS."""
    from salscope.analysis.neurons.analysis import analyse_neurons
    from salscope.data.dataset import Dataset
    from salscope.data.fixations import Fixations
    from salscope.models.backbones import get_backbone

    ds, regions = _setup(args.threads)
    base = [i for i, image_id in enumerate(ds.ids) if image_id in regions]
    n = args.child_n

    class Repeated:
        def __init__(self):
            self.idx = [base[j % len(base)] for j in range(n)]
            self.ids = [f"{ds.ids[i]}#{j}" for j, i in enumerate(self.idx)]

        def __len__(self):
            return n

        def __getitem__(self, j):
            return ds.stimuli[self.idx[j]]

        def index(self, image_id):
            return self.ids.index(image_id)

    stim = Repeated()
    parts = []
    for j, i in enumerate(stim.idx):
        f = ds.fixations.for_image(i)
        parts.append(Fixations(f.x, f.y, np.full(len(f), j), f.subject, f.order, f.duration))
    rep = Dataset("osie-repeated", stim, Fixations.concatenate(parts), validate=False)
    if args.cached_regions:
        reg = {image_id: regions[ds.ids[i]] for image_id, i in zip(stim.ids, stim.idx)}
    else:
        # salscope.data.regions keeps each image's decoded PNGs once read (~1 MB per image); rebuild the
        # regions with masks read afresh on every access so that only the analysis' own memory is measured.
        reg = {image_id: _uncached(regions[ds.ids[i]]) for image_id, i in zip(stim.ids, stim.idx)}
    model = get_backbone(args.memory_model, weights="imagenet")
    layers = args.memory_layers.split(",")
    import gc
    import threading

    gc.collect()
    # ru_maxrss keeps the peak of data loading (above the analysis' own), so sample the current RSS instead.
    start_rss = _rss_mb()
    peak = [start_rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            stop.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    res = analyse_neurons(model, rep, reg, layers, input_size=_size(args.memory_input_size), batch_size=args.batch_size)
    dt = time.perf_counter() - t0
    stop.set()
    thread.join()
    peak[0] = max(peak[0], _rss_mb())
    table = sum(res.layer(k).region_scores.nbytes for k in layers)
    print(json.dumps({"n": n, "regions": len(res.regions), "rss_start_mb": start_rss, "rss_peak_mb": peak[0],
                      "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "score_tables_mb": table / 2**20, "seconds": dt}))


def _uncached(r):
    from PIL import Image

    from salscope.data.regions import Region, Regions

    path = r.source

    def mask(k: int):
        return np.asarray(Image.open(path)) == k

    return Regions(r.image_id, [Region(x.instance, x.category, x.code, mask_fn=lambda k=x.instance: mask(k))
                                for x in r.instances], r.shape)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_memory(args) -> list[dict]:
    rows = []
    for n in [int(v) for v in args.memory_n.split(",")]:
        cmd = [sys.executable, __file__, "--child-n", str(n), "--memory-model", args.memory_model,
               "--memory-layers", args.memory_layers, "--memory-input-size", args.memory_input_size,
               "--threads", str(args.threads), "--batch-size", str(args.batch_size)]
        if args.cached_regions:
            cmd.append("--cached-regions")
        env = dict(os.environ)
        if not args.default_malloc:
            # Large blocks via mmap, returned to the system when freed: otherwise glibc heap fragmentation from
            # the varying tail sizes makes RSS creep (measured: +86 MB from N=30 to 240) without any live object.
            env["MALLOC_MMAP_THRESHOLD_"] = "65536"
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout.strip().splitlines()[-1]
        row = json.loads(out)
        rows.append(row)
        print(f"[memory] N={n:5d}: {row['regions']} regions, RSS {row['rss_start_mb']:.0f} MB before the analysis, "
              f"peak {row['rss_peak_mb']:.0f} MB during it (+{row['rss_peak_mb'] - row['rss_start_mb']:.0f} MB); "
              f"score tables {row['score_tables_mb']:.2f} MB; {row['seconds']:.0f} s")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        grow = (b["rss_peak_mb"] - b["rss_start_mb"]) - (a["rss_peak_mb"] - a["rss_start_mb"])
        print(f"[memory] growth of the analysis' peak from N={a['n']} to N={b['n']}: {grow:+.1f} MB "
              f"(score tables grow {b['score_tables_mb'] - a['score_tables_mb']:+.2f} MB)")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vgg16")
    p.add_argument("--weights", default="none", help="speed does not depend on weights; 'imagenet' needs the file")
    p.add_argument("--layers", default="conv4_3,conv5_1,conv5_3")
    p.add_argument("--input-size", default="224x224")
    p.add_argument("--images", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--memory-model", default="efficientnet_lite0")
    p.add_argument("--memory-layers", default="block5,block11,block15")
    p.add_argument("--memory-input-size", default="224x224")
    p.add_argument("--memory-n", default="100,1000")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--default-malloc", action="store_true", help="memory: keep glibc's default mmap threshold")
    p.add_argument("--cached-regions", action="store_true", help="memory: use salscope.data.regions as loaded (caches PNGs)")
    p.add_argument("--child-n", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child_n:
        child_memory(args)
        return
    if not args.skip_speed:
        bench_speed(args)
    if not args.skip_accuracy:
        bench_accuracy(args)
    if not args.skip_memory:
        bench_memory(args)


if __name__ == "__main__":
    main()
