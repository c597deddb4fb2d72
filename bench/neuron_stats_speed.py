"""Speed of the neuron statistics on a study-sized table: R = 500 regions, C = 512 channels, K = 12 categories.

Baseline, measured in the same run: the permutation null written the obvious
way, one ``aggregate_categories`` call per permutation (timed on ``--baseline``
permutations and scaled to B). Then ``permutation_null`` (B permutations,
chunked matrix products), ``bootstrap_gain`` (B image resamples, two models),
``cross_fitted`` (20 splits) and ``selectivity``. Prints seconds and the ratio
baseline / ``permutation_null``.

    python bench/neuron_stats_speed.py                    # R=500, C=512, K=12, B=1000
    python bench/neuron_stats_speed.py --regions 2000 --perm 5000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from salscope.analysis.neurons.stats import bootstrap_gain, cross_fitted, permutation_null, selectivity
from salscope.analysis.neurons.region_nss import aggregate_categories


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regions", type=int, default=500)
    ap.add_argument("--channels", type=int, default=512)
    ap.add_argument("--categories", type=int, default=12)
    ap.add_argument("--images", type=int, default=150)
    ap.add_argument("--perm", type=int, default=1000, help="permutations and bootstrap resamples (B)")
    ap.add_argument("--baseline", type=int, default=20, help="permutations timed for the loop baseline")
    ap.add_argument("--chunk", type=int, default=64)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    cats = [f"cat{k:02d}" for k in range(args.categories)]
    s = rng.normal(size=(args.regions, args.channels))
    s[rng.random(args.regions) < 0.05] = np.nan          # regions without fixations
    s[:, rng.random(args.channels) < 0.05] = np.nan      # skipped channels
    cat = rng.choice(cats, args.regions)
    img = rng.integers(0, args.images, args.regions)
    after = s + 0.3 * rng.normal(size=s.shape)
    print(f"table: R={args.regions} C={args.channels} K={args.categories} images={args.images} B={args.perm}")

    t0 = time.perf_counter()
    for _ in range(args.baseline):
        aggregate_categories(s, list(rng.permutation(cat)), cats)
    base = (time.perf_counter() - t0) / args.baseline * args.perm
    print(f"baseline (aggregate_categories per permutation, scaled to B): {base:8.2f} s")

    timings = {}
    t0 = time.perf_counter()
    permutation_null(s, cat, cats, n_perm=args.perm, chunk=args.chunk)
    timings["permutation_null"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    bootstrap_gain(s, after, cat, img, cats, n_boot=args.perm, chunk=args.chunk, contrast=(cats[0], cats[1]))
    timings["bootstrap_gain"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cross_fitted(s, cat, img, cats, n_repeats=20)
    timings["cross_fitted (20 splits)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    selectivity(s, cat, img, cats)
    timings["selectivity"] = time.perf_counter() - t0
    for name, sec in timings.items():
        print(f"{name:40s} {sec:8.2f} s")
    print(f"ratio baseline / permutation_null: {base / timings['permutation_null']:.1f}x")


if __name__ == "__main__":
    main()
