"""Finding 1's evidence from neuron results: per layer and category, is a category encoded?

:func:`encoding_table` runs the tests of :mod:`salscope.analysis.neurons.stats`
on the :class:`~salscope.analysis.neurons.NeuronResults` of a pretrained
encoder and of random-initialisation references analysed on the same regions:
a label-permutation null of the top-k mean and the count above T, Holm's
correction over all categories × layers, the excess over the null compared with
every random encoder's, and beside them the cross-fitted top-k mean and the
selective channels. ``salscope study`` (and any caller with neuron results)
uses it; ``docs/study.md`` explains each test.

References
----------
Phipson & Smyth 2010; Holm 1979; Kriegeskorte et al. 2009; Bykov et al. 2023
(see :mod:`salscope.analysis.neurons.stats`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope.analysis.neurons import stats as ns
from salscope.io import finite_or_none as _num


def encoding_table(pretrained: Any, randoms: Sequence[Any], layers: Sequence[str], *, top_k: int = 10,
                   threshold: float = 1.5, n_perm: int = 1000, alpha: float = 0.05,
                   seed: int = 0) -> tuple[list[dict[str, Any]], dict[str, ns.PermutationNull]]:
    """One row per (layer, category): the permutation test, Holm-adjusted p, random reference, ``encoded``.

    ``encoded`` = Holm-adjusted p of the top-k mean < ``alpha`` **and** the
    top-k mean's excess over its null (observed − null mean) above every
    random encoder's excess (no random encoders: the first condition alone)
    **and** the category has annotated instances. Random encoders get
    ``max(100, n_perm // 5)`` permutations (only their null mean is needed).
    Returns the rows and the pretrained encoder's nulls per layer (for figures).
    """
    cats = list(pretrained.categories)
    region_cat = [r["category"] for r in pretrained.regions]
    region_img = [r["image_id"] for r in pretrained.regions]
    rows: list[dict[str, Any]] = []
    nulls: dict[str, ns.PermutationNull] = {}
    for layer in layers:
        ln = pretrained.layer(layer)
        null = ns.permutation_null(ln.region_scores, region_cat, cats, channels=ln.fires, top_k=top_k,
                                   threshold=threshold, n_perm=n_perm, seed=seed)
        nulls[layer] = null
        cross = ns.cross_fitted(ln.region_scores, region_cat, region_img, cats, channels=ln.fires, top_k=top_k,
                                threshold=threshold, seed=seed)
        sel = ns.selectivity(ln.region_scores, region_cat, region_img, cats, channels=ln.fires,
                             threshold=threshold, alpha=alpha)
        rand_excess = []
        for res in randoms:
            rl = res.layer(layer)
            rn = ns.permutation_null(rl.region_scores, region_cat, cats, channels=rl.fires, top_k=top_k,
                                     threshold=threshold, n_perm=max(100, n_perm // 5), seed=seed)
            rand_excess.append(rn.observed_top_k - rn.null_top_k_mean)
        excess = null.observed_top_k - null.null_top_k_mean
        for k, cat in enumerate(cats):
            rmax = max((float(r[k]) for r in rand_excess if np.isfinite(r[k])), default=None)
            rows.append({
                "layer": layer, "category": cat, "instances": int(null.n_instances[k]),
                "top_k_mean": _num(null.observed_top_k[k]), "null_top_k_mean": _num(null.null_top_k_mean[k]),
                "top_k_excess": _num(excess[k]), "p_top_k": _num(null.p_top_k[k]),
                "count_above": int(null.observed_count[k]), "null_count_mean": _num(null.null_count_mean[k]),
                "count_excess": _num(null.count_excess[k]), "p_count": _num(null.p_count[k]),
                "random_excess_max": rmax, "cross_top_k": _num(cross.cross_top_k[k]),
                "cross_count": _num(cross.cross_count[k]), "selective_channels": int(sel.selective_count[k]),
            })
    adjusted = ns.holm(np.asarray([r["p_top_k"] if r["p_top_k"] is not None else np.nan for r in rows]))
    for row, p_adj in zip(rows, adjusted):
        row["p_holm"] = _num(p_adj)
        beats_random = row["random_excess_max"] is None or (
            row["top_k_excess"] is not None and row["top_k_excess"] > row["random_excess_max"])
        row["encoded"] = bool(row["p_holm"] is not None and row["p_holm"] < alpha and beats_random
                              and row["instances"] > 0)
    return rows, nulls
