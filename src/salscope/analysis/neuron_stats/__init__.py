"""Tests that can fail for the neuron findings: permutation nulls, Holm, image bootstrap, cross-fitting, AUC.

The neuron analysis summarises one layer's region-NSS table ``S`` (``R``
region instances × ``C`` channels, NaN for skipped channels and for regions
without fixations) per category ``k`` by the *instance* aggregation::

    A[k, c]   = mean_{r in k, S[r, c] finite} S[r, c]
    top_k[k]  = mean of the k largest A[k, :]           (k = 10)
    count[k]  = #{c : A[k, c] > T}                        (T = 1.5)

This module asks of those numbers what a reader would:

- :func:`permutation_null` — would a random relabelling of the same region
  instances give as much? (category labels shuffled across regions; Good 2005,
  Phipson & Smyth 2010). ``count_excess`` = observed − null mean is fair across
  categories with very different numbers of instances.
- :func:`holm` / :func:`holm_reject` — family-wise error over categories or
  channels (Holm 1979).
- :func:`bootstrap_gain` — finding 2's "gain after fine-tuning" with intervals
  from resampling annotated *images* (Efron & Tibshirani 1993).
- :func:`cross_fitted` — the winner's curse: channels chosen on one half of the
  images, scored on the other (Kriegeskorte et al. 2009).
- :func:`selectivity` — "above T" is not "selective": the AUC of a channel on a
  category's regions against the other salient regions of the same images
  (Bykov et al. 2023).

Every statistic reduces to the same kernel, weighted category means
``(W @ S0) / (W @ valid)`` with ``S0`` the table with NaN set to 0. For a
permutation ``W`` is the ``K × R`` one-hot of the shuffled labels, taken ``chunk``
permutations at a time (memory ``O(chunk × K × (R + C))``). A bootstrap resample
or a cross-fitting half only re-weights whole images, so the table is first
summed per (image, category), ``G`` (``I × K × C``), and a batch of image weights
``M`` (``B × I``: multiplicities, or a 0/1 half) gives every table at once as
``M @ G``. Nothing of size ``B × R × C`` is built. All randomness comes from
``numpy.random.default_rng(seed)`` through uniform doubles drawn in order, so the
numbers do not depend on ``chunk``. ``bench/neuron_stats_speed.py`` times them.

References
----------
He, S. et al. "Understanding and Visualizing Deep Visual Saliency Models", CVPR 2019, Sec. 4.
Good, P. I. *Permutation, Parametric and Bootstrap Tests of Hypotheses*, 3rd ed., Springer 2005.
Phipson, B., Smyth, G. K. "Permutation P-values Should Never Be Zero", Stat. Appl. Genet. Mol. Biol. 9 (2010).
Holm, S. "A Simple Sequentially Rejective Multiple Test Procedure", Scand. J. Statist. 6 (1979).
Efron, B., Tibshirani, R. J. *An Introduction to the Bootstrap*, Chapman & Hall 1993.
Kriegeskorte, N. et al. "Circular analysis in systems neuroscience: the dangers of double dipping",
Nat. Neurosci. 12 (2009).
Bykov, K. et al. "Labeling Neural Representations with Inverse Recognition", NeurIPS 2023.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import mannwhitneyu

from salscope.errors import AnalysisError
from salscope.io import finite_or_none as _num

DEFAULT_TOP_K = 10
DEFAULT_THRESHOLD = 1.5
DEFAULT_CHUNK = 64

__all__ = [
    "CrossFit", "GainBootstrap", "PermutationNull", "Selectivity", "bootstrap_gain", "category_means",
    "cross_fitted", "holm", "holm_reject", "permutation_null", "selectivity", "top_k_and_count",
]


# ---------------------------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class _Table:
    """One model's table restricted to the used channels and the pooled (scored) regions."""

    s0: np.ndarray          # (n, C') scores, NaN -> 0
    valid: np.ndarray | None  # (n, C') 0/1, or None when every pooled cell is finite


def _as_table(scores: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> _Table:
    s = scores[np.ix_(rows, cols)]
    ok = np.isfinite(s)
    if ok.all():
        return _Table(np.ascontiguousarray(s), None)
    return _Table(np.where(ok, s, 0.0), ok.astype(np.float64))


def _check_scores(region_scores: Any, name: str = "region_scores") -> np.ndarray:
    s = np.asarray(region_scores, dtype=np.float64)
    if s.ndim != 2:
        raise AnalysisError(f"{name}: expected an (R regions × C channels) table, got shape {s.shape}")
    return s


def _check_len(values: Any, n: int, name: str) -> np.ndarray:
    if values is None:
        raise AnalysisError(f"{name}: give one entry per region row ({n} rows)")
    arr = np.asarray([str(v) for v in values], dtype=object)
    if arr.shape != (n,):
        raise AnalysisError(f"{name}: {arr.shape[0] if arr.ndim == 1 else arr.shape} entries for {n} region rows; "
                            "give one per row of region_scores")
    return arr


def _check_categories(categories: Sequence[str]) -> list[str]:
    cats = [str(c) for c in categories]
    if not cats:
        raise AnalysisError("categories: give at least one category name")
    if len(set(cats)) != len(cats):
        raise AnalysisError(f"categories: names repeat in {cats}; give each category once")
    return cats


def _check_positive(value: int, name: str) -> int:
    if int(value) != value or value < 1:
        raise AnalysisError(f"{name}={value!r}: use a positive whole number")
    return int(value)


def _channel_mask(channels: Any, tables: Sequence[np.ndarray]) -> np.ndarray:
    n_ch = tables[0].shape[1]
    if channels is None:
        mask = np.ones(n_ch, dtype=bool)
        for t in tables:
            mask &= np.isfinite(t).any(0)
    else:
        mask = np.asarray(channels)
        if mask.dtype != bool or mask.shape != (n_ch,):
            raise AnalysisError(f"channels: expected a bool mask of shape ({n_ch},), got {mask.dtype} {mask.shape}; "
                                "pass e.g. LayerNeurons.fires")
    if not mask.any():
        raise AnalysisError("channels: no channel left to test (all masked out or all NaN)")
    return mask


def _codes(region_category: np.ndarray, categories: list[str]) -> np.ndarray:
    """Category index of each region, ``K`` for regions of categories not in the list."""
    lookup = {c: i for i, c in enumerate(categories)}
    return np.fromiter((lookup.get(c, len(categories)) for c in region_category), dtype=np.int64,
                       count=len(region_category))


def _one_hot(codes: np.ndarray, n_cat: int) -> np.ndarray:
    """``(..., n) -> (..., n_cat, n)`` C-contiguous float one-hot; code ``n_cat`` ("other") gives a zero column."""
    out = np.zeros(codes.shape[:-1] + (n_cat, codes.shape[-1]))
    # one cell per column: the category's row gets 1; an "other" column writes 0 into the last row
    np.put_along_axis(out, np.minimum(codes, n_cat - 1)[..., None, :], (codes < n_cat)[..., None, :].astype(np.float64),
                      axis=-2)
    return out


def _ratio(tot: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, tot / np.where(den > 0, den, 1.0), np.nan)


def _weighted_means(weights: np.ndarray, table: _Table) -> np.ndarray:
    """``(B, K, n)`` weights → ``(B, K, C)`` weighted means over finite cells (NaN where no weight)."""
    b, k, n = weights.shape
    w2 = weights.reshape(b * k, n)
    tot = w2 @ table.s0
    den = w2.sum(1, keepdims=True) if table.valid is None else w2 @ table.valid
    return _ratio(tot, den).reshape(b, k, -1)


@dataclass
class _ImageSums:
    """Per (image, category) sums of a table: any image weighting is then one ``(B, I) @ (I, K·C)`` product."""

    tot: np.ndarray   # (I, K*C)
    den: np.ndarray   # (I, K) when every pooled cell is finite, else (I, K*C)
    n_cat: int

    @classmethod
    def build(cls, table: _Table, codes: np.ndarray, img: np.ndarray, n_img: int, n_cat: int) -> "_ImageSums":
        keep = codes < n_cat                                  # regions of unreported categories add nothing
        group = img[keep] * n_cat + codes[keep]
        tot = np.zeros((n_img * n_cat, table.s0.shape[1]))
        np.add.at(tot, group, table.s0[keep])
        if table.valid is None:
            den = np.bincount(group, minlength=n_img * n_cat).astype(np.float64).reshape(n_img, n_cat)
        else:
            den = np.zeros_like(tot)
            np.add.at(den, group, table.valid[keep])
            den = den.reshape(n_img, -1)
        return cls(tot.reshape(n_img, -1), den, n_cat)

    def means(self, image_weights: np.ndarray) -> np.ndarray:
        """``(B, I)`` image weights → ``(B, K, C)`` weighted category means."""
        b = image_weights.shape[0]
        tot = (image_weights @ self.tot).reshape(b, self.n_cat, -1)
        den = (image_weights @ self.den).reshape(b, self.n_cat, -1)
        return _ratio(tot, den)


def top_k_and_count(table: np.ndarray, top_k: int = DEFAULT_TOP_K,
                    threshold: float = DEFAULT_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Top-k mean and count above ``threshold`` along the last (channel) axis of ``table``.

    ``top_k = mean of the top_k largest finite scores`` (fewer if fewer are
    finite; NaN if none) and ``count = #{finite scores > threshold}``, exactly as
    :func:`salscope.analysis.region_nss.aggregate_categories` defines them.
    Uses ``np.partition``, so ``O(C)`` per row.
    """
    x = np.where(np.isfinite(table), table, -np.inf)
    n_ch = x.shape[-1]
    k = min(int(top_k), n_ch)
    top = np.partition(x, n_ch - k, axis=-1)[..., n_ch - k:]
    ok = np.isfinite(top)
    n_ok = ok.sum(-1)
    mean = np.where(n_ok > 0, np.where(ok, top, 0.0).sum(-1) / np.maximum(n_ok, 1), np.nan)
    return mean, (x > threshold).sum(-1)


def category_means(region_scores: np.ndarray, region_category: Sequence[str], categories: Sequence[str], *,
                   channels: np.ndarray | None = None) -> np.ndarray:
    """The ``"instance"`` aggregation as one matrix product: ``(K, C)`` mean over each category's scored instances.

    ``A = (Y @ S0) / (Y @ V)`` with ``Y`` the ``K × R`` one-hot labels, ``S0`` the
    table with NaN set to 0 and ``V`` its finite mask. Channels outside
    ``channels`` (default: columns with a finite score) are NaN. Equals
    ``aggregate_categories(..., aggregation="instance").scores`` to rounding.
    """
    s = _check_scores(region_scores)
    cats = _check_categories(categories)
    rc = _check_len(region_category, s.shape[0], "region_category")
    mask = _channel_mask(channels, [s])
    rows = np.arange(s.shape[0])
    means = _weighted_means(_one_hot(_codes(rc, cats), len(cats))[None], _as_table(s, rows, np.flatnonzero(mask)))[0]
    out = np.full((len(cats), s.shape[1]), np.nan)
    out[:, mask] = means
    return out


def _level(level: float) -> float:
    if not 0 < level < 1:
        raise AnalysisError(f"level={level!r}: give the interval's coverage as a fraction, e.g. 0.95")
    return float(level)


# ---------------------------------------------------------------------------------------------------------------
# Multiple testing
# ---------------------------------------------------------------------------------------------------------------

def holm(pvalues: Any, axis: int = -1) -> np.ndarray:
    """Holm's step-down adjusted p-values along ``axis`` (NaN entries ignored and kept NaN).

    With the ``m`` finite p-values sorted, ``p_(1) <= ... <= p_(m)``::

        adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))

    Rejecting ``adj < alpha`` controls the family-wise error rate at ``alpha``
    under any dependence between the tests.

    References
    ----------
    Holm, S. "A Simple Sequentially Rejective Multiple Test Procedure",
    Scandinavian Journal of Statistics 6 (1979) 65–70.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim == 0:
        raise AnalysisError("holm: give an array of p-values, not a single number")
    fin = np.isfinite(p)
    if np.any((p[fin] < 0) | (p[fin] > 1)) or np.isinf(p).any():
        raise AnalysisError("holm: p-values must lie in [0, 1] (NaN for tests not made)")
    p = np.moveaxis(p, axis, -1)
    m = np.isfinite(p).sum(-1, keepdims=True)
    order = np.argsort(np.where(np.isfinite(p), p, np.inf), axis=-1, kind="stable")
    ps = np.take_along_axis(p, order, -1)
    rank = np.arange(p.shape[-1])
    scaled = np.where(rank < m, ps * (m - rank), -np.inf)  # NaNs sort last, so rank >= m there
    adj = np.minimum(np.maximum.accumulate(scaled, axis=-1), 1.0)
    out = np.empty_like(p)
    np.put_along_axis(out, order, adj, -1)
    out[~np.isfinite(p)] = np.nan
    return np.moveaxis(out, -1, axis)


def holm_reject(pvalues: Any, alpha: float = 0.05, axis: int = -1) -> np.ndarray:
    """Bool array: which hypotheses Holm's procedure rejects at family-wise level ``alpha`` (NaN: never).

    References
    ----------
    Holm, S. (1979), see :func:`holm`.
    """
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha={alpha!r}: use a level between 0 and 1, e.g. 0.05")
    adj = holm(pvalues, axis=axis)
    return np.where(np.isfinite(adj), adj, np.inf) <= alpha


# ---------------------------------------------------------------------------------------------------------------
# 1. Permutation null of top-k mean and count above T
# ---------------------------------------------------------------------------------------------------------------

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
    s = _check_scores(region_scores)
    cats = _check_categories(categories)
    rc = _check_len(region_category, s.shape[0], "region_category")
    if region_image is not None:
        _check_len(region_image, s.shape[0], "region_image")
    top_k = _check_positive(top_k, "top_k")
    n_perm = _check_positive(n_perm, "n_perm")
    chunk = _check_positive(chunk, "chunk")
    mask = _channel_mask(channels, [s])
    cols = np.flatnonzero(mask)
    rows = np.flatnonzero(np.isfinite(s[:, cols]).any(1))
    table = _as_table(s, rows, cols)
    codes = _codes(rc[rows], cats)
    n_cat, n = len(cats), rows.size
    n_inst = np.bincount(codes, minlength=n_cat + 1)[:n_cat]

    obs_top, obs_count = top_k_and_count(_weighted_means(_one_hot(codes, n_cat)[None], table)[0], top_k, threshold)
    rng = np.random.default_rng(seed)
    null_top = np.empty((n_perm, n_cat))
    null_count = np.empty((n_perm, n_cat), dtype=np.int64)
    for start in range(0, n_perm, chunk):
        b = min(chunk, n_perm - start)
        order = rng.random((b, n)).argsort(1)  # uniform random permutations, drawn in order
        means = _weighted_means(_one_hot(codes[order], n_cat), table)
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
                           np.where(has, obs_count - count_mean, nan), n_perm, top_k, float(threshold), int(cols.size))


# ---------------------------------------------------------------------------------------------------------------
# 2. Image bootstrap of the fine-tuning gain
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class GainBootstrap:
    """Per-category gain of the top-k mean (after − before) with image-bootstrap percentile intervals.

    ``gain``: ``(K,)`` on the full data; ``gain_boot``: ``(B, K)`` resampled gains
    (NaN where a resample holds no instance of the category; ``n_dropped`` counts
    them per category, and they are left out of ``gain_ci``); ``contrast_*``:
    ``gain[a] - gain[b]`` for ``contrast = (a, b)``; ``rank``: categories by
    decreasing gain (NaN last).
    """

    categories: list[str]
    before_top_k: np.ndarray
    after_top_k: np.ndarray
    gain: np.ndarray
    gain_ci: np.ndarray
    gain_boot: np.ndarray
    n_dropped: np.ndarray
    contrast: tuple[str, str] | None
    contrast_diff: float
    contrast_ci: np.ndarray
    contrast_boot: np.ndarray
    contrast_dropped: int
    rank: list[str]
    n_boot: int
    n_images: int
    level: float
    top_k: int

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per category, in the order of ``categories`` (``rank``: 1 = largest gain)."""
        pos = {c: i for i, c in enumerate(self.rank)}
        return [{"category": c, "top_k_before": _num(self.before_top_k[k]), "top_k_after": _num(self.after_top_k[k]),
                 "gain": _num(self.gain[k]), "gain_lo": _num(self.gain_ci[k, 0]), "gain_hi": _num(self.gain_ci[k, 1]),
                 "rank": pos[c] + 1, "n_dropped": int(self.n_dropped[k]), "n_boot": self.n_boot,
                 "level": self.level}
                for k, c in enumerate(self.categories)]


def _percentile_ci(samples: np.ndarray, level: float) -> np.ndarray:
    """``(B, ...) -> (..., 2)`` percentile interval over the finite samples (NaN where none)."""
    q = [50 * (1 - level), 50 * (1 + level)]
    fin = np.isfinite(samples)
    out = np.full(samples.shape[1:] + (2,), np.nan)
    if samples.ndim == 1:
        if fin.any():
            out[:] = np.percentile(samples[fin], q)
        return out
    for idx in np.ndindex(samples.shape[1:]):
        col = samples[(slice(None),) + idx]
        ok = np.isfinite(col)
        if ok.any():
            out[idx] = np.percentile(col[ok], q)
    return out


def _image_codes(region_image: np.ndarray) -> tuple[np.ndarray, int]:
    _, inv = np.unique(region_image, return_inverse=True)
    return inv.astype(np.int64), int(inv.max()) + 1 if inv.size else 0


def bootstrap_gain(before: np.ndarray, after: np.ndarray, region_category: Sequence[str],
                   region_image: Sequence[Any], categories: Sequence[str], *, channels: np.ndarray | None = None,
                   top_k: int = DEFAULT_TOP_K, n_boot: int = 1000, seed: int = 0,
                   contrast: tuple[str, str] | None = ("person head", "text"), level: float = 0.95,
                   chunk: int = DEFAULT_CHUNK, selection: str = "in_sample", n_splits: int = 10) -> GainBootstrap:
    """Gain of each category's top-k mean from ``before`` to ``after``, with an image bootstrap.

    ``selection="cross_fitted"`` removes the winner's curse from both top-k
    means: the images (of the data, and of each resample) are split at random
    into halves, each model's top-k channels are chosen on one half and scored on
    the other (both ways, averaged; the point estimate averages ``n_splits``
    splits, each resample uses one). ``"in_sample"`` chooses and scores on the
    same images.

    ``gain_k = topk(A_after[k]) - topk(A_before[k])``: each model ranks its own
    top-k channels, both restricted to ``channels`` (default: the channels with a
    finite score in both tables). The sampling unit is the annotated image: a
    resample draws the images with a finite region score with replacement, every
    region of a drawn image comes along (twice if drawn twice), and the whole
    statistic is recomputed. ``gain_ci`` and ``contrast_ci`` are percentile
    intervals at ``level``.

    Parameters
    ----------
    before, after : (R, C) arrays
        Region-NSS tables of the same layer and the same region rows in the two models.
    region_category, region_image : sequences of length R
    categories : the K categories to report.
    contrast : (a, b) or None
        Finding 2's contrast ``gain[a] - gain[b]`` (default person head vs text).
    n_boot, seed, level, chunk : resamples, seed, interval coverage, resamples at once.

    References
    ----------
    Efron, B., Tibshirani, R. J. *An Introduction to the Bootstrap*, Chapman & Hall 1993,
    ch. 6 (bootstrap of a statistic) and ch. 13 (percentile intervals).
    He et al., CVPR 2019, Sec. 5 (change of category scores after fine-tuning).
    """
    s_b, s_a = _check_scores(before, "before"), _check_scores(after, "after")
    if s_b.shape != s_a.shape:
        raise AnalysisError(f"bootstrap_gain: before {s_b.shape} and after {s_a.shape} must score the same regions "
                            "and channels")
    cats = _check_categories(categories)
    rc = _check_len(region_category, s_b.shape[0], "region_category")
    ri = _check_len(region_image, s_b.shape[0], "region_image")
    top_k = _check_positive(top_k, "top_k")
    n_boot = _check_positive(n_boot, "n_boot")
    chunk = _check_positive(chunk, "chunk")
    level = _level(level)
    if contrast is not None:
        contrast = (str(contrast[0]), str(contrast[1]))
        missing = [c for c in contrast if c not in cats]
        if missing:
            raise AnalysisError(f"contrast={contrast}: {missing} not among categories {cats}; "
                                "name two of them, or pass contrast=None")
    mask = _channel_mask(channels, [s_b, s_a])
    cols = np.flatnonzero(mask)
    rows = np.flatnonzero(np.isfinite(s_b[:, cols]).any(1) | np.isfinite(s_a[:, cols]).any(1))
    tb, ta = _as_table(s_b, rows, cols), _as_table(s_a, rows, cols)
    n_cat = len(cats)
    codes = _codes(rc[rows], cats)
    img, n_img = _image_codes(ri[rows])
    if n_img == 0:
        raise AnalysisError("bootstrap_gain: no region has a finite score; nothing to resample")

    if selection not in ("in_sample", "cross_fitted"):
        raise AnalysisError(f"selection={selection!r}: use 'in_sample' or 'cross_fitted'")
    n_splits = _check_positive(n_splits, "n_splits")
    sums_b = _ImageSums.build(tb, codes, img, n_img, n_cat)
    sums_a = _ImageSums.build(ta, codes, img, n_img, n_cat)
    rng = np.random.default_rng(seed)

    def in_sample(image_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        top_b, _ = top_k_and_count(sums_b.means(image_weights), top_k)
        top_a, _ = top_k_and_count(sums_a.means(image_weights), top_k)
        return top_b, top_a, top_a - top_b

    def crossed(image_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        half = rng.random(image_weights.shape) < 0.5          # split by image: a drawn twice image stays on one side
        w1, w2 = image_weights * half, image_weights * ~half
        top_b = _cross_top(sums_b, w1, w2, top_k)
        top_a = _cross_top(sums_a, w1, w2, top_k)
        return top_b, top_a, top_a - top_b

    gains = in_sample if selection == "in_sample" else crossed
    if selection == "in_sample":
        before_top, after_top, gain = (x[0] for x in gains(np.ones((1, n_img))))
    else:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            parts = gains(np.ones((n_splits, n_img)))
            before_top, after_top, gain = (np.nanmean(x, axis=0) for x in parts)
    boot = np.empty((n_boot, n_cat))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = np.minimum((rng.random((b, n_img)) * n_img).astype(np.int64), n_img - 1)
        mult = np.bincount((draws + n_img * np.arange(b)[:, None]).ravel(), minlength=b * n_img).reshape(b, n_img)
        boot[start:start + b] = gains(mult.astype(np.float64))[2]

    n_dropped = (~np.isfinite(boot)).sum(0)
    if contrast is not None:
        ia, ib = cats.index(contrast[0]), cats.index(contrast[1])
        c_boot = boot[:, ia] - boot[:, ib]
        c_diff = float(gain[ia] - gain[ib])
    else:
        c_boot, c_diff = np.full(n_boot, np.nan), float("nan")
    order = np.argsort(np.where(np.isfinite(gain), -gain, np.inf), kind="stable")
    return GainBootstrap(cats, before_top, after_top, gain, _percentile_ci(boot, level), boot, n_dropped, contrast,
                         c_diff, _percentile_ci(c_boot, level), c_boot, int((~np.isfinite(c_boot)).sum()),
                         [cats[i] for i in order], n_boot, n_img, level, top_k)


def _cross_top(sums: "_ImageSums", w1: np.ndarray, w2: np.ndarray, top_k: int) -> np.ndarray:
    """``(B, K)``: top-k channels chosen on weights ``w1`` scored on ``w2`` and vice versa, averaged (NaN-aware)."""
    m1, m2 = sums.means(w1), sums.means(w2)
    out = []
    for sel, held in ((m1, m2), (m2, m1)):
        x = np.where(np.isfinite(sel), sel, -np.inf)
        n_ch = x.shape[-1]
        k = min(int(top_k), n_ch)
        idx = np.argpartition(x, n_ch - k, axis=-1)[..., n_ch - k:]
        chosen_ok = np.isfinite(np.take_along_axis(x, idx, -1))
        vals = np.take_along_axis(held, idx, -1)
        ok = chosen_ok & np.isfinite(vals)
        n_ok = ok.sum(-1)
        out.append(np.where(n_ok > 0, np.where(ok, vals, 0.0).sum(-1) / np.maximum(n_ok, 1), np.nan))
    a, b = out
    both = np.isfinite(a) & np.isfinite(b)
    return np.where(both, (np.where(both, a, 0) + np.where(both, b, 0)) / 2, np.where(np.isfinite(a), a, b))


# ---------------------------------------------------------------------------------------------------------------
# 3. Cross-fitting: select on one half of the images, score on the other
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class CrossFit:
    """In-sample against cross-fitted top-k mean and count above T, averaged over splits and folds.

    ``in_sample_*``: selected and scored on the same half of the images;
    ``cross_top_k``: the selection half's top-k channels scored on the held-out
    half; ``cross_count``: channels above T on the selection half that are above
    T on the held-out half too. ``observed_*``: the full-data numbers.
    ``n_folds``: folds (of ``2 × n_repeats``) in which the category had
    instances in both halves; only those are averaged.
    """

    categories: list[str]
    observed_top_k: np.ndarray
    observed_count: np.ndarray
    in_sample_top_k: np.ndarray
    cross_top_k: np.ndarray
    in_sample_count: np.ndarray
    cross_count: np.ndarray
    n_folds: np.ndarray
    n_repeats: int
    top_k: int
    threshold: float

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per category."""
        return [{"category": c, "top_k_mean": _num(self.observed_top_k[k]),
                 "count_above_t": int(self.observed_count[k]), "in_sample_top_k": _num(self.in_sample_top_k[k]),
                 "cross_top_k": _num(self.cross_top_k[k]), "in_sample_count": _num(self.in_sample_count[k]),
                 "cross_count": _num(self.cross_count[k]), "n_folds": int(self.n_folds[k]),
                 "n_repeats": self.n_repeats}
                for k, c in enumerate(self.categories)]


def cross_fitted(region_scores: np.ndarray, region_category: Sequence[str], region_image: Sequence[Any],
                 categories: Sequence[str], *, channels: np.ndarray | None = None, top_k: int = DEFAULT_TOP_K,
                 threshold: float = DEFAULT_THRESHOLD, n_repeats: int = 20, seed: int = 0) -> CrossFit:
    """Top-k mean and count above T with channels chosen on half the images and scored on the other half.

    For each of ``n_repeats`` random splits of the annotated images into halves
    ``A`` and ``B`` (by image, so no image's regions are on both sides), and each
    fold (select on ``A``, score on ``B``; then the reverse)::

        top      = the top_k channels of A_sel[k]           above = {c : A_sel[k, c] > T}
        in-sample top-k = mean A_sel[k, top]                 in-sample count = |above|
        cross top-k     = mean A_held[k, top]                cross count = |{c in above : A_held[k, c] > T}|

    On pure noise the in-sample top-k mean is the mean of the largest of C noisy
    means (clearly > 0: the winner's curse), the cross-fitted one ≈ 0.

    References
    ----------
    Kriegeskorte, N., Simmons, W. K., Bellgowan, P. S. F., Baker, C. I. "Circular analysis in systems
    neuroscience: the dangers of double dipping", Nature Neuroscience 12 (2009) 535–540.
    """
    s = _check_scores(region_scores)
    cats = _check_categories(categories)
    rc = _check_len(region_category, s.shape[0], "region_category")
    ri = _check_len(region_image, s.shape[0], "region_image")
    top_k = _check_positive(top_k, "top_k")
    n_repeats = _check_positive(n_repeats, "n_repeats")
    mask = _channel_mask(channels, [s])
    cols = np.flatnonzero(mask)
    rows = np.flatnonzero(np.isfinite(s[:, cols]).any(1))
    table = _as_table(s, rows, cols)
    n_cat = len(cats)
    img, n_img = _image_codes(ri[rows])
    if n_img < 2:
        raise AnalysisError(f"cross_fitted: {n_img} image(s) with scored regions; cross-fitting needs at least 2")
    sums = _ImageSums.build(table, _codes(rc[rows], cats), img, n_img, n_cat)
    obs_top, obs_count = top_k_and_count(sums.means(np.ones((1, n_img)))[0], top_k, threshold)

    rng = np.random.default_rng(seed)
    order = rng.random((n_repeats, n_img)).argsort(1)
    in_a = np.zeros((n_repeats, n_img), dtype=bool)
    np.put_along_axis(in_a, order[:, : n_img // 2], True, 1)
    halves = np.concatenate([in_a, ~in_a]).astype(np.float64)        # (2 n_repeats, I): A halves, then B halves
    tables = sums.means(halves)                                       # (2 n_repeats, K, C)
    sel = tables
    held = np.concatenate([tables[n_repeats:], tables[:n_repeats]])

    x = np.where(np.isfinite(sel), sel, -np.inf)
    k = min(top_k, x.shape[-1])
    top = np.argpartition(x, x.shape[-1] - k, axis=-1)[..., x.shape[-1] - k:]
    in_top = _finite_mean(np.take_along_axis(sel, top, -1))
    cr_top = _finite_mean(np.take_along_axis(held, top, -1))
    above = x > threshold
    in_count = above.sum(-1).astype(np.float64)
    cr_count = (above & (np.where(np.isfinite(held), held, -np.inf) > threshold)).sum(-1).astype(np.float64)
    # A fold counts for a category when the category has instances on both sides.
    used = np.isfinite(in_top) & np.isfinite(cr_top)
    n_used = used.sum(0)

    def avg(v: np.ndarray) -> np.ndarray:
        return np.where(n_used > 0, np.where(used, v, 0.0).sum(0) / np.maximum(n_used, 1), np.nan)

    return CrossFit(cats, obs_top, obs_count.astype(np.int64), avg(in_top), avg(cr_top), avg(in_count),
                    avg(cr_count), n_used.astype(np.int64), n_repeats, top_k, float(threshold))


def _finite_mean(a: np.ndarray) -> np.ndarray:
    """Mean over the finite entries of the last axis (NaN where there are none)."""
    ok = np.isfinite(a)
    n = ok.sum(-1)
    return np.where(n > 0, np.where(ok, a, 0.0).sum(-1) / np.maximum(n, 1), np.nan)


# ---------------------------------------------------------------------------------------------------------------
# 4. Selectivity: AUC against the other salient regions of the same images
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Selectivity:
    """Per (category, channel): AUC and one-sided Mann–Whitney p against the other regions of the same images.

    ``auc``, ``p``, ``p_holm``, ``scores``: ``(K, C)``, NaN for unused channels
    and for categories without positives or negatives; ``p_holm`` is adjusted
    over the channels within each category. ``selective = scores > T & auc > 0.5
    & p_holm < alpha``.
    """

    categories: list[str]
    auc: np.ndarray
    p: np.ndarray
    p_holm: np.ndarray
    scores: np.ndarray
    selective: np.ndarray
    selective_count: np.ndarray
    count_above_t: np.ndarray
    n_positive: np.ndarray
    n_negative: np.ndarray
    n_images: np.ndarray
    threshold: float
    alpha: float

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per category; ``selective_channels`` lists channel indices, best AUC first."""
        rows = []
        for k, c in enumerate(self.categories):
            ch = np.flatnonzero(self.selective[k])
            ch = ch[np.argsort(-self.auc[k, ch], kind="stable")]
            rows.append({"category": c, "n_positive": int(self.n_positive[k]), "n_negative": int(self.n_negative[k]),
                         "n_images": int(self.n_images[k]), "count_above_t": int(self.count_above_t[k]),
                         "selective_count": int(self.selective_count[k]), "selective_channels": ch.tolist(),
                         "threshold": self.threshold, "alpha": self.alpha})
        return rows


def selectivity(region_scores: np.ndarray, region_category: Sequence[str], region_image: Sequence[Any],
                categories: Sequence[str], *, channels: np.ndarray | None = None,
                threshold: float = DEFAULT_THRESHOLD, alpha: float = 0.05) -> Selectivity:
    """Which channels above T are selective for their category and not just fixation-predictive.

    For category ``k``, positives are its scored regions, negatives the scored
    regions of every other category in the images that hold a scored ``k``
    region (same images, so a channel that predicts fixations in general scores
    high on both). Per channel::

        AUC = U / (n_pos n_neg),  U = sum of positive ranks - n_pos (n_pos + 1) / 2   (ties count 1/2)

    with the one-sided Mann–Whitney p-value (``scipy.stats.mannwhitneyu``,
    ``alternative="greater"``, vectorised over channels; ``method="auto"``: exact
    when a group has ≤ 8 regions and there are no ties, else the tie-corrected
    normal approximation with continuity correction, adequate from about 20
    regions). Holm adjusts the p-values over the channels of a category, and a
    channel is *selective* when its aggregated score is above ``threshold``,
    its AUC above 0.5 and its adjusted p below ``alpha``.

    References
    ----------
    Bykov, K., Kopf, L., Nakajima, S., Kloft, M., Höhne, M. M.-C. "Labeling Neural Representations with
    Inverse Recognition", NeurIPS 2023 (AUC of a neuron on a concept's examples against the rest).
    Mann, H. B., Whitney, D. R., Ann. Math. Statist. 18 (1947). Holm (1979), see :func:`holm`.
    """
    s = _check_scores(region_scores)
    cats = _check_categories(categories)
    rc = _check_len(region_category, s.shape[0], "region_category")
    ri = _check_len(region_image, s.shape[0], "region_image")
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha={alpha!r}: use a level between 0 and 1, e.g. 0.05")
    mask = _channel_mask(channels, [s])
    cols = np.flatnonzero(mask)
    rows = np.flatnonzero(np.isfinite(s[:, cols]).any(1))
    x = s[np.ix_(rows, cols)]
    codes = _codes(rc[rows], cats)
    img, _ = _image_codes(ri[rows])
    n_cat, n_ch = len(cats), s.shape[1]

    scores = category_means(s, rc, cats, channels=mask)
    auc = np.full((n_cat, n_ch), np.nan)
    p = np.full((n_cat, n_ch), np.nan)
    n_pos = np.zeros(n_cat, dtype=np.int64)
    n_neg = np.zeros(n_cat, dtype=np.int64)
    n_imgs = np.zeros(n_cat, dtype=np.int64)
    for k in range(n_cat):
        pos = codes == k
        imgs = np.unique(img[pos])
        neg = ~pos & np.isin(img, imgs)
        n_pos[k], n_neg[k], n_imgs[k] = pos.sum(), neg.sum(), imgs.size
        if not (pos.any() and neg.any()):
            continue
        xp, xn = x[pos], x[neg]
        policy = "propagate" if np.isfinite(xp).all() and np.isfinite(xn).all() else "omit"
        res = mannwhitneyu(xp, xn, alternative="greater", axis=0, method="auto", nan_policy=policy)
        npos, nneg = np.isfinite(xp).sum(0), np.isfinite(xn).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc[k, cols] = np.where((npos > 0) & (nneg > 0), np.asarray(res.statistic) / (npos * nneg), np.nan)
        p[k, cols] = np.asarray(res.pvalue, dtype=np.float64)
    p = np.where(np.isfinite(auc), np.clip(p, 0.0, 1.0), np.nan)
    p_holm = holm(p, axis=-1)
    fin = lambda a, fill: np.where(np.isfinite(a), a, fill)  # noqa: E731
    selective = (fin(scores, -np.inf) > threshold) & (fin(auc, 0.0) > 0.5) & (fin(p_holm, np.inf) < alpha)
    count = (fin(scores, -np.inf) > threshold).sum(1)
    return Selectivity(cats, auc, p, p_holm, scores, selective, selective.sum(1).astype(np.int64),
                       count.astype(np.int64), n_pos, n_neg, n_imgs, float(threshold), float(alpha))
