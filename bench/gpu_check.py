"""GPU check: every stage's throughput on the GPU beside the CPU in one run, and the GPU's results against the CPU's.

    SALSCOPE_DATA=../shared/data python bench/gpu_check.py [--device cuda] [--cpu-images 16] [--budget 300]

Sections (each prints CPU and GPU side by side and the largest difference on the images both scored):

1. predict images/s — the built-in model at OSIE's size; VGG-16 (random weights, seed 0) + the paper's
   decoder at 224×224 and 448×448.
2. evaluate seconds — the built-in model on all 700 OSIE images (7 metrics) on the GPU; the CPU on the
   first ``--cpu-images`` (its rate scaled to 700 is printed as such, not as a measurement of 700).
3. dissect seconds — VGG-16 (random weights) conv4_3, conv5_1, conv5_3 on the 150 annotated images on
   the GPU; the CPU on the first ``--cpu-images`` of them.
4. one set-up II epoch on OSIE (VGG-16 random weights, fine-tuned from conv5_1, paper decoder) on the GPU;
   the CPU's epoch on ``--cpu-images`` training images.

Tolerances (float32 with TF32 off for the comparisons): saliency maps 1e-4 of the map's range, per-image
metrics 1e-4 absolute, region NSS 1e-3 absolute. The script exits 1 if any GPU result is beyond its
tolerance, 2 if no CUDA device is present (it then says so and measures nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("SALSCOPE_PROGRESS", "0")

MAP_TOL, METRIC_TOL, NSS_TOL = 1e-4, 1e-4, 1e-3


def _timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def _vgg_model(size, seed=0):
    from salscope.models.backbones import get_backbone
    from salscope.models.decoders import build_decoder
    from salscope.models.deep import DeepSaliency, SaliencyNetwork

    torch.manual_seed(seed)
    enc = get_backbone("vgg16", weights=None)
    dec = build_decoder("paper", {i.name: i.channels for i in enc.feature_info}, ["conv5_3"])
    return DeepSaliency(SaliencyNetwork(enc, dec, size).eval(), name=f"vgg16@{size[0]}")


def check_predict(images, device, n_cpu, report):
    from salscope.models import saliency_model

    rows = []
    makers = [("builtin (OSIE size)", lambda: saliency_model("builtin")),
              ("vgg16 224", lambda: _vgg_model((224, 224))), ("vgg16 448", lambda: _vgg_model((448, 448)))]
    for name, make in makers:
        cpu = make()
        cpu_maps, t_cpu = _timed(lambda: cpu.predict(images[:n_cpu]))
        gpu = make()
        gpu.model.to(device)
        gpu.predict(images[:2])                                         # warm-up (cuDNN autotune)
        gpu_maps, t_gpu = _timed(lambda: gpu.predict(images))
        diff = max(float(np.abs(a - b).max() / max(np.ptp(a), 1e-12)) for a, b in zip(cpu_maps, gpu_maps))
        rows.append({"what": f"predict {name}", "cpu_per_s": n_cpu / t_cpu, "gpu_per_s": len(images) / t_gpu,
                     "max_rel_diff": diff, "ok": diff <= MAP_TOL})
    report.extend(rows)


def check_evaluate(ds, device, n_cpu, report):
    from salscope.analysis.evaluation import evaluate

    metrics = ["auc", "sauc", "auc_judd", "nss", "cc", "kld", "sim"]
    gpu, t_gpu = _timed(lambda: evaluate(["builtin"], ds, metrics=metrics, device=str(device)))
    cpu, t_cpu = _timed(lambda: evaluate(["builtin"], ds, metrics=metrics, device="cpu", max_images=n_cpu))
    diff = max(abs(a[m] - b[m]) for a, b in zip(cpu.rows, gpu.rows) for m in metrics
               if np.isfinite(a[m]) and np.isfinite(b[m]))
    report.append({"what": f"evaluate builtin, {len(ds)} OSIE images (s)", "cpu_s": t_cpu, "cpu_images": n_cpu,
                   "cpu_s_scaled": t_cpu * len(ds) / n_cpu, "gpu_s": t_gpu, "max_abs_diff": diff,
                   "ok": diff <= METRIC_TOL})


def check_dissect(ds, regions, device, n_cpu, report, max_images=None):
    from salscope.analysis.neurons.analysis import analyse_neurons
    from salscope.models.backbones import get_backbone

    layers = ["conv4_3", "conv5_1", "conv5_3"]
    torch.manual_seed(0)
    enc = get_backbone("vgg16", weights=None)
    gpu, t_gpu = _timed(lambda: analyse_neurons(enc, ds, regions, layers, device=device, max_images=max_images))
    enc.cpu()
    cpu, t_cpu = _timed(lambda: analyse_neurons(enc, ds, regions, layers, max_images=n_cpu, device="cpu"))
    n = len(cpu.regions)
    diff = 0.0
    for l in layers:
        a, b = cpu.layer(l).region_scores, gpu.layer(l).region_scores[:n]
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            diff = float("inf")                       # a channel undefined on one side only
            break
        both = ~np.isnan(a)
        diff = max(diff, float(np.abs(a[both] - b[both]).max(initial=0.0)))
    report.append({"what": f"dissect vgg16 x3 layers, {len(gpu.regions)} regions (s)", "cpu_s": t_cpu,
                   "cpu_images": n_cpu, "gpu_s": t_gpu, "max_abs_diff": diff, "ok": diff <= NSS_TOL})


def check_train(device, n_cpu, report, max_images=None):
    from salscope.devices import lightning_devices
    from salscope.train import TrainConfig, train

    def run(dev, max_images, out):
        acc, devs = lightning_devices(dev)
        cfg = TrainConfig.from_preset(None, setup="saliency", backbone="vgg16", weights=None, decoder="paper",
                                      finetune_from="conv5_1", input_size="224x224", epochs=1, batch_size=10,
                                      max_images=max_images, out_dir=out, accelerator=acc, devices=devs,
                                      progress=False, cache=False, val_split="val")
        cfg.weights = None
        return _timed(lambda: train(cfg))

    with tempfile.TemporaryDirectory() as tmp:
        gpu, t_gpu = run(str(device), max_images, Path(tmp) / "gpu")
        cpu, t_cpu = run("cpu", n_cpu, Path(tmp) / "cpu")
    report.append({"what": "set-up II epoch, vgg16 224 (s)", "cpu_s": t_cpu, "cpu_images": n_cpu, "gpu_s": t_gpu,
                   "gpu_val_nss": gpu.metrics.get("val_nss"), "ok": np.isfinite(gpu.metrics.get("val_nss", np.nan))})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cpu-images", type=int, default=16)
    ap.add_argument("--only", default="predict,evaluate,dissect,train")
    ap.add_argument("--json", default=None, help="Also write the rows to this JSON file.")
    ap.add_argument("--dry-run", action="store_true",
                    help="Check the script itself on the CPU: tiny sizes, both sides the CPU (measures nothing).")
    args = ap.parse_args(argv)
    if args.dry_run:
        args.device, args.cpu_images = "cpu", 2
    elif not torch.cuda.is_available():
        print("no CUDA device: nothing measured (this script needs a GPU)")
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    from salscope.data import load_osie
    from salscope.data.regions import load_regions
    from salscope.devices import resolve_device
    from salscope.settings import data_dir

    device = resolve_device(args.device)
    gpu_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "none (dry run)"
    print(f"GPU: {gpu_name}; CPU threads: {torch.get_num_threads()}; torch {torch.__version__}")
    full = load_osie()
    ds = full.subset(range(4)) if args.dry_run else full
    only = set(args.only.split(","))
    report: list[dict] = []
    t0 = time.perf_counter()
    if "predict" in only:
        check_predict([ds.stimuli[i] for i in range(min(64, len(ds)))], device, args.cpu_images, report)
    if "evaluate" in only:
        check_evaluate(ds, device, args.cpu_images, report)
    if "dissect" in only:
        check_dissect(full, load_regions(data_dir() / "osie-regions", full.stimuli), device, args.cpu_images, report,
                      max_images=4 if args.dry_run else None)
    if "train" in only:
        check_train(device, args.cpu_images, report, max_images=4 if args.dry_run else None)
    for row in report:
        print(json.dumps({k: (round(float(v), 6) if isinstance(v, (float, np.floating)) else
                              bool(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in row.items()}))
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=lambda v: v.item()))
    bad = [r["what"] for r in report if not r["ok"]]
    if bad:
        print("GPU results beyond tolerance: " + "; ".join(bad))
        return 1
    print("all GPU results within tolerance of the CPU's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
