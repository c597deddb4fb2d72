"""Label-permutation null of each category's top-k mean and count above T (Good 2005; Phipson & Smyth 2010)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from salscope.analysis.neurons.stats._tables import (
    DEFAULT_CHUNK,
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    check_inputs,
    check_positive,
    one_hot,
    top_k_and_count,
    weighted_means,
)
from salscope.analysis.neurons.stats.holm import holm
from salscope.io import finite_or_none as _num


@dataclass
class PermutationNull:
    """Observed per-category top-k mean and count above T against their label-permutation null.

    ``null_*``: ``(B, K)``, one row per permutation; ``p_*``: ``(K,)`` one-sided
    permutation p-values ``(1 + #{null >= observed}) / (B + 1)``; NaN for a
    category without scored instances. ``count_excess = observed_count -
    null_count_mean``: the channels above T beyond what a random set of the same
    number of instances gives (small categories have noisier means, so more
    channels cross T by chance).
    """

    categories: list[str]
    n_instances: np.ndarray
    observed_count: np.ndarray
    observed_top_k: np.ndarray
    null_count: np.ndarray
    null_top_k: np.ndarray
    p_count: np.ndarray
    p_top_k: np.ndarray
    null_count_mean: np.ndarray
    null_count_sd: np.ndarray
    null_top_k_mean: np.ndarray
    count_excess: np.ndarray
    n_perm: int
    top_k: int
    threshold: float
    n_channels: int

    @property
    def p_count_holm(self) -> np.ndarray:
        """``p_count`` adjusted over the categories with :func:`holm`."""
        return holm(self.p_count)

    @property
    def p_top_k_holm(self) -> np.ndarray:
        """``p_top_k`` adjusted over the categories with :func:`holm`."""
        return holm(self.p_top_k)

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per category (NaN written as None)."""
        hc, ht = self.p_count_holm, self.p_top_k_holm
        return [{"category": c, "n_instances": int(self.n_instances[k]),
                 "count_above_t": int(self.observed_count[k]), "null_count_mean": _num(self.null_count_mean[k]),
                 "null_count_sd": _num(self.null_count_sd[k]), "count_excess": _num(self.count_excess[k]),
                 "p_count": _num(self.p_count[k]), "p_count_holm": _num(hc[k]),
                 "top_k_mean": _num(self.observed_top_k[k]), "null_top_k_mean": _num(self.null_top_k_mean[k]),
                 "p_top_k": _num(self.p_top_k[k]), "p_top_k_holm": _num(ht[k]),
                 "n_perm": self.n_perm, "top_k": self.top_k, "threshold": self.threshold}
                for k, c in enumerate(self.categories)]


def _perm_p(null: np.ndarray, observed: np.ndarray) -> np.ndarray:
    # Same kernel for observed and null, but a different matrix shape may round differently: allow 1e-9 relative.
    tol = 1e-9 * np.maximum(1.0, np.abs(observed))
    hits = (null >= (observed - tol)[None, :]).sum(0)
    return (1.0 + hits) / (null.shape[0] + 1.0)


def permutation_null(region_scores: np.ndarray, region_category: Sequence[str], categories: Sequence[str], *,
                     channels: np.ndarray | None = None, top_k: int = DEFAULT_TOP_K,
                     threshold: float = DEFAULT_THRESHOLD, n_perm: int = 1000, seed: int = 0,
                     region_image: Sequence[Any] | None = None, chunk: int = DEFAULT_CHUNK) -> PermutationNull:
    """Label-permutation null of each category's top-k mean and count above ``threshold``.

    The category labels are shuffled across the scored region instances (a
    global shuffle: each region keeps its mask, its fixations and its scores; a
    category keeps its number of instances). For each of ``B = n_perm``
    permutations the instance aggregation, top-k mean and count are recomputed
    for every category; the one-sided p-value is::

        p = (1 + #{b : null_b >= observed}) / (B + 1)

    which is never zero and is valid (``P(p <= a) <= a`` under exchangeable
    labels). Regions of categories not in ``categories`` take part in the
    shuffle (they are salient regions too) but are not reported; regions with no
    finite score (no fixations) are left out. Only the in-sample statistic is
    tested; the channel selection's optimism is measured by :func:`cross_fitted`.

    Parameters
    ----------
    region_scores : (R, C) array
        Region-NSS table of one layer (NaN: skipped channel / region without fixations).
    region_category : sequence of str, length R
    categories : sequence of str
        The K categories to report, in this order.
    channels : (C,) bool, optional
        Channels to use (e.g. ``LayerNeurons.fires``); default: columns with a finite score.
    top_k, threshold : the paper's k = 10 and T = 1.5.
    n_perm : number of permutations B.
    seed : seed of ``numpy.random.default_rng``; same seed, same numbers (whatever ``chunk``).
    region_image : optional, length R
        Only checked for length; the shuffle is global, not within images.
    chunk : permutations computed at once (memory ``O(chunk × K × (R + C))``).

    References
    ----------
    Good, P. I. *Permutation, Parametric and Bootstrap Tests of Hypotheses*, Springer 2005, ch. 3.
    Phipson, B., Smyth, G. K. "Permutation P-values Should Never Be Zero: Calculating Exact P-values
    When Permutations Are Randomly Drawn", Stat. Appl. Genet. Mol. Biol. 9 (2010), eq. (2).
    He et al., CVPR 2019, Sec. 4 (k = 10, T = 1.5).
    """
    inp = check_inputs({"region_scores": region_scores}, region_category, categories, channels=channels,
                       region_image=region_image)
    top_k = check_positive(top_k, "top_k")
    n_perm = check_positive(n_perm, "n_perm")
    chunk = check_positive(chunk, "chunk")
    cats, table, codes = inp.categories, inp.table(), inp.codes()
    n_cat, n = len(cats), inp.rows.size
    n_inst = np.bincount(codes, minlength=n_cat + 1)[:n_cat]

    obs_top, obs_count = top_k_and_count(weighted_means(one_hot(codes, n_cat)[None], table)[0], top_k, threshold)
    rng = np.random.default_rng(seed)
    null_top = np.empty((n_perm, n_cat))
    null_count = np.empty((n_perm, n_cat), dtype=np.int64)
    for start in range(0, n_perm, chunk):
        b = min(chunk, n_perm - start)
        order = rng.random((b, n)).argsort(1)  # uniform random permutations, drawn in order
        means = weighted_means(one_hot(codes[order], n_cat), table)
        null_top[start:start + b], null_count[start:start + b] = top_k_and_count(means, top_k, threshold)

    has = n_inst > 0
    nan = np.full(n_cat, np.nan)
    p_count = np.where(has, _perm_p(null_count.astype(np.float64), obs_count.astype(np.float64)), np.nan)
    p_top = np.where(has, _perm_p(np.where(has, null_top, 0.0), np.where(has, obs_top, 0.0)), np.nan)
    count_mean = np.where(has, null_count.mean(0), nan)
    count_sd = np.where(has, null_count.std(0, ddof=1) if n_perm > 1 else 0.0, nan)
    top_mean = np.where(has, np.where(has, null_top, 0.0).mean(0), nan)
    return PermutationNull(cats, n_inst.astype(np.int64), obs_count.astype(np.int64), obs_top, null_count, null_top,
                           p_count, p_top, count_mean, count_sd, top_mean,
                           np.where(has, obs_count - count_mean, nan), n_perm, top_k, float(threshold), int(inp.cols.size))
