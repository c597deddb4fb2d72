"""Time loading OSIE (target < 2 s) and reading image sizes from headers vs decoding every image.

Baseline: the sizes of all 700 stimuli obtained by decoding each JPEG fully
(what a loader that does not read headers would do), measured in the same run.
Usage: SALSCOPE_DATA=../shared/data python bench/data_osie_load.py
"""

from __future__ import annotations

import time

import numpy as np

from salscope.data import Stimuli, load_image
from salscope.data.loaders import load_osie


def main() -> None:
    t0 = time.perf_counter()
    ds = load_osie()
    t_load = time.perf_counter() - t0
    print(f"load_osie: {t_load:.3f} s ({len(ds)} images, {len(ds.fixations)} fixations; includes header sizes)")

    fresh = Stimuli(ds.stimuli.paths)
    t0 = time.perf_counter()
    sizes = fresh.sizes
    t_head = time.perf_counter() - t0
    t0 = time.perf_counter()
    decoded = [load_image(p).shape[:2] for p in ds.stimuli.paths]
    t_dec = time.perf_counter() - t0
    assert sizes == [tuple(s) for s in decoded]
    print(f"sizes from headers: {t_head:.3f} s; baseline (decode every image): {t_dec:.3f} s; "
          f"speed-up x{t_dec / t_head:.1f}")

    t0 = time.perf_counter()
    for i in range(50):
        ds.fixations.density(i, (600, 800), sigma_deg=1.0, ppd=ds.meta["ppd"])
    t_den = (time.perf_counter() - t0) / 50
    print(f"density (800x600, sigma 24 px): {t_den * 1000:.1f} ms per image")
    print(f"target load < 2 s: {'met' if t_load < 2 else 'NOT met'}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
