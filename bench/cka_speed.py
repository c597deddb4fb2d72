"""Cost of CKA next to the forward passes it needs: 5 layers × 3 models over the OSIE probe images.

Baseline: the forward passes alone (3 encoders, each up to its deepest of the 5
layers, batch by batch). Then, in the same run, the CKA work on the very same
activations: spatial pooling + exact streaming linear CKA (all 15×15 set
pairs) + the layer × layer matrices, and the minibatch (flattened) variant.
Prints seconds and the ratio (forward + CKA) / forward.

    python bench/cka_speed.py                       # 700 images, 224×224, efficientnet_lite0
    python bench/cka_speed.py --images 140 --size 160 --backbone vgg16

The three models are the ImageNet backbone and two copies whose last layers
are perturbed (stand-ins for set-ups II and III: CKA cost does not depend on
the weights).
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import torch

from salscope.analysis.representation.similarity import MinibatchCKA, StreamingLinearCKA, feature_vectors
from salscope.data.loaders import load_dataset
from salscope.models.backbones import get_backbone

LAYERS = {
    "efficientnet_lite0": ["block2", "block4", "block7", "block14", "head"],
    "vgg16": ["conv2_2", "conv3_3", "conv4_3", "conv5_1", "conv5_3"],
    "resnet18": ["conv1", "layer1", "layer2", "layer3", "layer4"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=700)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--backbone", default="efficientnet_lite0", choices=sorted(LAYERS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--flatten", action="store_true", help="also time minibatch CKA on flattened activations")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    layers = LAYERS[args.backbone]

    ds = load_dataset("osie", os.environ.get("SALSCOPE_DATA"))
    n = min(args.images, len(ds.stimuli))
    weights = "imagenet" if args.backbone == "efficientnet_lite0" else None
    torch.manual_seed(0)
    pre = get_backbone(args.backbone, weights=weights)
    models = {"pre": pre}
    for k, name in enumerate(("saliency", "scene")):
        m = copy.deepcopy(pre)
        g = torch.Generator().manual_seed(k + 1)
        with torch.no_grad():
            for p in m.layer_parameters(layers[-1]).values():
                p.add_(0.1 * p.abs().mean() * torch.randn(p.shape, generator=g))
        models[name] = m.eval()

    # load + resize the probe images once (not timed: identical for any analysis)
    t0 = time.perf_counter()
    batches = []
    for start in range(0, n, args.batch_size):
        x = torch.cat([pre.preprocess(ds.stimuli[i]) for i in range(start, min(n, start + args.batch_size))])
        batches.append(torch.nn.functional.interpolate(x, size=(args.size, args.size), mode="bilinear", antialias=True, align_corners=False))
    t_load = time.perf_counter() - t0

    t_fwd = t_pool = t_stream = t_mini = 0.0
    acc = None
    mini = MinibatchCKA([f"{m}/{l}" for m in models for l in layers]) if args.flatten else None
    for x in batches:
        feats = {}
        for label, m in models.items():
            t0 = time.perf_counter()
            with torch.no_grad():
                out = m(x, layers)
            t_fwd += time.perf_counter() - t0
            for l in layers:
                feats[f"{label}/{l}"] = out[l]
        t0 = time.perf_counter()
        pooled = {k: feature_vectors(v, "pool") for k, v in feats.items()}
        t_pool += time.perf_counter() - t0
        t0 = time.perf_counter()
        if acc is None:
            acc = StreamingLinearCKA({k: v.shape[1] for k, v in pooled.items()})
        acc.update(pooled)
        t_stream += time.perf_counter() - t0
        if mini is not None:
            t0 = time.perf_counter()
            mini.update(feats)
            t_mini += time.perf_counter() - t0
    t0 = time.perf_counter()
    names = list(acc.names)
    mat = acc.matrix(names, names, debiased=True)
    t_final = time.perf_counter() - t0

    cka = t_pool + t_stream + t_final
    print(f"backbone {args.backbone}, {len(layers)} layers × {len(models)} models, {n} OSIE images at {args.size}×{args.size}, "
          f"batch {args.batch_size}, {args.threads} thread(s); D = {acc.zz.shape[0]} pooled dims")
    print(f"image loading+resize (not counted): {t_load:.2f} s")
    print(f"forward passes (baseline):        {t_fwd:.2f} s  ({1000 * t_fwd / (n * len(models)):.1f} ms per image per model)")
    print(f"pooling:                          {t_pool:.3f} s")
    print(f"streaming accumulation:           {t_stream:.3f} s")
    print(f"all {len(names)}×{len(names)} debiased CKA values:  {t_final:.3f} s")
    print(f"CKA total:                        {cka:.3f} s  -> CKA / forward = {cka / t_fwd:.3f}; (forward + CKA) / forward = {(t_fwd + cka) / t_fwd:.3f}")
    if mini is not None:
        print(f"minibatch CKA (flattened):        {t_mini:.3f} s  -> / forward = {t_mini / t_fwd:.3f}")
    diag = [mat[names.index(f"pre/{l}"), names.index(f"saliency/{l}")] for l in layers]
    print("check: CKA(pre, saliency) per layer:", " ".join(f"{l}={c:.3f}" for l, c in zip(layers, diag)))


if __name__ == "__main__":
    main()
