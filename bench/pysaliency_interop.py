"""OSIE scored by salscope and by pysaliency 0.2.22: the half-pixel convention and the 0.5 shift of ``to_pysaliency``.

The model is the registry's ``center_bias`` (one 600×800 map for every image,
held in memory on both sides). Scored on all 700 OSIE images, every fixation
(AUC against uniform non-fixations, NSS), averaged over fixations:

1. salscope: ``salscope.metrics.auc``/``nss`` per image on ``load_osie()``'s
   fixations (``x = fix_x − 1``; pixel ``floor(x + 0.5)``);
2. pysaliency, given the same numbers (``x = fix_x − 1``), whose pixel is ``int(x)``;
3. pysaliency, given ``Fixations.to_pysaliency()`` (``x + 0.5``: the same pixels as 1).

Prints the three pairs of scores, the largest per-fixation difference of 3 to 1
and the seconds each route took. Needs a Python with pysaliency and salscope
importable (see the module docstring of ``bench/metrics_speed.py`` for the
virtualenv: ``setuptools<81``, ``--no-build-isolation``).

Usage: PYTHONPATH=src python bench/pysaliency_interop.py [--data-dir DIR] [--max-images N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def salscope_scores(ds, smap, n_images):
    from salscope import metrics as M

    f = ds.fixations
    auc, nss = np.empty(len(f)), np.empty(len(f))
    sorted_map = np.sort(smap.ravel())
    for i in range(n_images):
        sel = np.flatnonzero(f.n == i)
        auc[sel] = M.auc(smap, f.x[sel], f.y[sel], per_fixation=True, sorted_map=sorted_map)
        nss[sel] = M.nss(smap, f.x[sel], f.y[sel], per_fixation=True)
    return auc, nss


def pysaliency_scores(pysaliency, smap, fixations, n_images):
    class Fixed(pysaliency.SaliencyMapModel):
        def _saliency_map(self, stimulus):
            return smap

    stimuli = pysaliency.Stimuli([np.zeros(smap.shape, np.uint8) for _ in range(n_images)])
    model = Fixed(caching=False)
    return np.asarray(model.AUCs(stimuli, fixations, nonfixations="uniform")), np.asarray(model.NSSs(stimuli, fixations))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--max-images", type=int, default=None)
    args = ap.parse_args()

    import pysaliency

    from salscope.data import load_osie
    from salscope.models import get_model

    ds = load_osie(args.data_dir)
    if args.max_images is not None:
        ds = ds.subset(np.arange(min(args.max_images, len(ds))))
    n_images = len(ds)
    shape = ds.stimuli.sizes[0]
    smap = get_model("center_bias").saliency_map(np.zeros(shape + (3,), np.uint8))
    f = ds.fixations

    t0 = time.perf_counter()
    ours = salscope_scores(ds, smap, n_images)
    t1 = time.perf_counter()
    naive = pysaliency_scores(pysaliency, smap, pysaliency.Fixations.create_without_history(f.x, f.y, f.n), n_images)
    t2 = time.perf_counter()
    shifted = pysaliency_scores(pysaliency, smap, f.to_pysaliency(), n_images)
    t3 = time.perf_counter()

    print(f"OSIE, {n_images} images, {len(f)} fixations, center_bias map {shape[1]}x{shape[0]}; mean over fixations")
    print(f"{'route':52s} {'AUC':>9s} {'NSS':>9s} {'seconds':>8s}")
    for label, (auc, nss), sec in (("salscope (x = value - 1, pixel floor(x + 0.5))", ours, t1 - t0),
                                   ("pysaliency, x = value - 1 (pixel int(x))", naive, t2 - t1),
                                   ("pysaliency, Fixations.to_pysaliency() (x + 0.5)", shifted, t3 - t2)):
        print(f"{label:52s} {auc.mean():9.6f} {nss.mean():9.6f} {sec:8.2f}")
    print(f"largest per-fixation |difference|, to_pysaliency route vs salscope: AUC {np.abs(shifted[0] - ours[0]).max():.2e}, "
          f"NSS {np.abs(shifted[1] - ours[1]).max():.2e}")
    print(f"pixels that differ without the shift: x {int((f.col != np.asarray(f.x, int)).sum())}, "
          f"y {int((f.row != np.asarray(f.y, int)).sum())} of {len(f)}")


if __name__ == "__main__":
    main()
