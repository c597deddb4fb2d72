"""Area under the ROC curve: rank AUC, AUC-Judd, AUC-Borji and shuffled AUC.

Everything is vectorised. The tuebingen rank AUCs need, at each fixated
value, the counts of negatives below and equal to it: they come from
:class:`salscope.metrics.ranks.ValueRanks` (a bucket histogram, no sort of
the map; the same integers as ``np.searchsorted`` on the sorted negatives),
or from a sorted map the caller passes. The random splits of the MIT
AUC-Borji and shuffled AUC are drawn as one ``(n_splits, n)`` array and
binned against the fixed threshold grid with a single ``bincount``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope.errors import MetricError
from salscope.metrics._common import as_map, check_convention, fixation_pixels, require_fixations, resolve_shape
from salscope.metrics.ranks import ValueRanks


def _rank_auc(positives: np.ndarray, sorted_negatives: np.ndarray) -> np.ndarray:
    """Per positive: ``(#neg < v + 0.5 #neg == v) / #neg`` (ties count half)."""
    left = np.searchsorted(sorted_negatives, positives, side="left")
    right = np.searchsorted(sorted_negatives, positives, side="right")
    return _auc_from_counts(left, right, sorted_negatives.size)


def _auc_from_counts(left: np.ndarray, right: np.ndarray, n_negatives: int) -> np.ndarray:
    """``(#neg < v + 0.5 #neg == v) / #neg`` from ``left = #{neg < v}``, ``right = #{neg <= v}``."""
    return (left + 0.5 * (right - left)) / n_negatives


def _minmax(smap: np.ndarray) -> np.ndarray:
    return (smap - smap.min()) / np.ptp(smap)


def _prepare(saliency_map: Any, xs: Any, ys: Any, convention: str, shape: Sequence[int] | None):
    check_convention(convention)
    smap = resolve_shape(as_map(saliency_map), shape, convention)
    rows, cols = fixation_pixels(xs, ys, smap.shape)
    require_fixations(rows.size)
    return smap, rows * smap.shape[1] + cols


def auc(
    saliency_map: Any,
    xs: Any,
    ys: Any,
    *,
    convention: str = "tuebingen",
    nonfixations: str = "uniform",
    shape: Sequence[int] | None = None,
    per_fixation: bool = False,
    sorted_map: np.ndarray | None = None,
) -> float | np.ndarray:
    """Rank-based AUC of fixations against uniformly distributed non-fixations.

    For each fixation value ``v``: ``AUC_i = (#{s < v} + ½ #{s = v}) / N`` over
    the negatives ``s``: every pixel (``nonfixations="uniform"``) or only the
    pixels never fixated in this image (``"unfixated"``). Equals the area under
    the ROC curve of that one positive against all negatives.

    - ``"tuebingen"``: every fixation is a positive (duplicates kept).
    - ``"mit"``: each fixated pixel counts once and the map is resized to
      ``shape`` first (the MIT code's binary fixation maps).

    ``sorted_map`` (``np.sort(saliency_map.ravel())``) may be passed to reuse a
    sort across metrics. A constant map gives 0.5.

    References
    ----------
    pysaliency 0.2.22 ``SaliencyMapModel.AUCs`` / ``roc.general_rocs_per_positive``;
    Kümmerer, Wallis, Bethge, "Saliency benchmarking made easy", ECCV 2018.
    """
    smap, flat = _prepare(saliency_map, xs, ys, convention, shape)
    if convention == "mit":
        flat = np.unique(flat)
    values = smap.ravel()
    if nonfixations == "uniform":
        if sorted_map is None:  # counts without sorting the map (same integers)
            scores = _auc_from_counts(*ValueRanks(values, values[flat]).counts(), values.size)
            return scores if per_fixation else float(scores.mean())
        negatives = sorted_map
    elif nonfixations == "unfixated":
        keep = np.ones(values.size, dtype=bool)
        keep[flat] = False
        if not keep.any():
            raise MetricError("auc: every pixel is fixated, so there are no unfixated negatives; use nonfixations='uniform'")
        negatives = np.sort(values[keep])
    else:
        raise MetricError(f"auc: nonfixations={nonfixations!r} is unknown; use 'uniform' or 'unfixated'")
    scores = _rank_auc(values[flat], negatives)
    return scores if per_fixation else float(scores.mean())


def fixated_pixels_with_negatives(flat: np.ndarray, n_pixels: int) -> np.ndarray:
    """The distinct fixated flat pixel indices; raise when every pixel is fixated (AUC-Judd has no negatives)."""
    unique = np.unique(flat)
    if unique.size == n_pixels:
        raise MetricError("auc_judd: every pixel is fixated, so there are no negatives; the metric is undefined")
    return unique


def judd_tuebingen(values: np.ndarray, positives: np.ndarray, unique: np.ndarray, below: np.ndarray) -> float:
    """AUC-Judd (tuebingen) from the flat map, its values at every fixation, the fixated pixels and ``#{map < positive}``.

    Thresholds are the positives in decreasing order; ``tp(t) = #{pos >= t} / #pos`` and
    ``fp(t) = #{unfixated >= t} / #unfixated``, the unfixated counts taken as the full map's
    (``n - below``) minus the fixated pixels'; trapezoid area of the curve closed at (0, 0), (1, 1).
    ``below[i]`` is ``#{values < positives[i]}`` (from :class:`~salscope.metrics.ranks.ValueRanks`
    or a sorted map).
    """
    n_pixels = values.size
    order = np.argsort(positives, kind="stable")
    pos = positives[order]
    fixated = np.sort(values[unique])
    thresholds = pos[::-1]
    tp = (pos.size - np.searchsorted(pos, thresholds, side="left")) / pos.size
    above_all = n_pixels - below[order][::-1]
    above_fixated = unique.size - np.searchsorted(fixated, thresholds, side="left")
    fp = (above_all - above_fixated) / (n_pixels - unique.size)
    return float(np.trapezoid(np.concatenate([[0.0], tp, [1.0]]), np.concatenate([[0.0], fp, [1.0]])))


def auc_judd(
    saliency_map: Any,
    xs: Any,
    ys: Any,
    *,
    convention: str = "tuebingen",
    shape: Sequence[int] | None = None,
    jitter: bool = False,
    seed: int | np.random.Generator | None = None,
    sorted_map: np.ndarray | None = None,
) -> float:
    """AUC-Judd: ROC with thresholds at the fixated saliency values.

    - ``"tuebingen"``: positives = the map at every fixation (duplicates kept),
      negatives = pixels never fixated in the image; at each threshold ``t`` in
      the positives, ``TP = #{pos >= t}/P`` and ``FP = #{neg >= t}/N``; the
      points (0, 0) and (1, 1) close the curve; trapezoidal area. A constant map
      gives 0.5.
    - ``"mit"``: min-max normalise; each fixated pixel once (``F`` of them),
      thresholds ``t_1 >= … >= t_F``; ``TP = k / F`` and
      ``FP = (#{pixels >= t_k} - k) / (N - F)``; (0, 0) and (1, 1) added;
      trapezoid. The map is resized to ``shape`` first; a constant map gives NaN
      (``AUC_Judd.m`` returns NaN). Without jitter, tied values can make FP
      non-monotone and the area leave [0, 1], exactly as in ``AUC_Judd.m``.

    ``jitter=True`` adds ``U(0, 1e-7)`` noise (from ``seed``) to break ties, as
    both originals do by default; the reference values use ``jitter=False``.
    ``sorted_map`` (``np.sort(saliency_map.ravel())``) may be passed to reuse a
    sort (ignored with ``jitter=True``).

    References
    ----------
    Judd, T., Ehinger, K., Durand, F., Torralba, A. "Learning to predict where
    humans look", ICCV 2009. pysaliency 0.2.22 ``SaliencyMapModel.AUC_Judd``
    (``roc.general_roc(judd=1)`` on unfixated negatives);
    cvzoya/saliency ``code_forMetrics/AUC_Judd.m``.
    """
    smap, flat = _prepare(saliency_map, xs, ys, convention, shape)
    values = smap.ravel()
    if jitter:
        if seed is None:
            raise MetricError("auc_judd: jitter=True needs an explicit seed (int or np.random.Generator)")
        values = values + np.random.default_rng(seed).random(values.size) / 1e7
        sorted_map = None
    unique = fixated_pixels_with_negatives(flat, values.size)
    n_pixels = values.size
    if convention == "tuebingen":
        positives = values[flat]
        if sorted_map is None:
            below = ValueRanks(values, positives).counts()[0]
        else:
            below = np.searchsorted(sorted_map, positives, side="left")
        return judd_tuebingen(values, positives, unique, below)
    if np.ptp(values) == 0:
        return float("nan")
    n_fix = unique.size
    lo, rng = values.min(), np.ptp(values)
    norm = (values - lo) / rng
    # min-max is monotone, so the sorted normalised map is the normalised sorted map
    sorted_norm = (sorted_map - lo) / rng if sorted_map is not None else np.sort(norm)
    thresholds = np.sort(norm[unique])[::-1]
    above = n_pixels - np.searchsorted(sorted_norm, thresholds, side="left")
    k = np.arange(1, n_fix + 1)
    tp = np.concatenate([[0.0], k / n_fix, [1.0]])
    fp = np.concatenate([[0.0], (above - k) / (n_pixels - n_fix), [1.0]])
    return float(np.trapezoid(tp, fp))


def _grid(step_size: float) -> np.ndarray:
    if not 0 < step_size <= 1:
        raise MetricError(f"step_size={step_size} must be in (0, 1]")
    return np.arange(int(np.floor(1.0 / step_size + 1e-9)) + 1) * step_size


def _rates_at_least(v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``mean(v[r] >= grid[j])`` for every row ``r`` of ``v`` and threshold ``j``.

    One ``searchsorted`` + ``bincount``: ``v >= grid[j]`` iff ``#{grid <= v} > j``.
    """
    m = grid.size
    bins = np.searchsorted(grid, v, side="right")
    rows = np.repeat(np.arange(v.shape[0]), v.shape[1])
    hist = np.bincount(rows * (m + 1) + bins.ravel(), minlength=v.shape[0] * (m + 1)).reshape(v.shape[0], m + 1)
    return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:] / v.shape[1]


def _threshold_auc(pos: np.ndarray, fp: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Area under the thresholded ROC of the MIT code, one row of ``fp`` per split.

    Thresholds ``grid = 0:step:1`` (min-max normalised maps) in descending
    order, ``TP(t) = #{pos >= t}/F``; thresholds above a split's maximum add
    only (0, 0) points and no area, so one grid serves every split.
    """
    tp = _rates_at_least(pos[None, :], grid)[0]
    tp_curve = np.concatenate([[0.0], tp[::-1], [1.0]])
    fp_curve = np.concatenate([np.zeros((fp.shape[0], 1)), fp[:, ::-1], np.ones((fp.shape[0], 1))], axis=1)
    return (np.diff(fp_curve, axis=1) * (tp_curve[1:] + tp_curve[:-1]) / 2).sum(axis=1)


def auc_borji(
    saliency_map: Any,
    xs: Any,
    ys: Any,
    *,
    convention: str = "tuebingen",
    shape: Sequence[int] | None = None,
    n_splits: int | None = 100,
    step_size: float = 0.1,
    seed: int | np.random.Generator | None = 0,
    sorted_map: np.ndarray | None = None,
) -> float:
    """AUC-Borji: fixations against uniformly sampled pixels.

    - ``"mit"``: min-max normalise; each of ``n_splits`` splits draws ``F``
      pixels uniformly *with replacement* (``F`` = fixated pixels, each once);
      thresholds ``0:step_size:max``; ``TP = #{fix >= t}/F``,
      ``FP = #{sample >= t}/F``; trapezoid area, mean over splits. With
      ``n_splits=None`` the exact limit of infinitely many splits is returned
      (``E[FP(t)] = mean(all pixels >= t)``, the AUC being linear in FP).
      NaN when at most one pixel is fixated (like ``AUC_Borji.m``). The random
      numbers come from ``seed`` (numpy), not MATLAB's stream; the evaluation
      passes each image its own stream, :func:`salscope.metrics.image_rng`.
    - ``"tuebingen"``: the limit of infinitely many uniform samples without
      threshold binning, which is the rank AUC with uniform negatives
      (:func:`auc`, averaged over fixations).

    References
    ----------
    Borji, A., Tavakoli, H. R., Sihite, D. N., Itti, L. "Analysis of scores,
    datasets, and models in visual saliency prediction", ICCV 2013.
    cvzoya/saliency ``code_forMetrics/AUC_Borji.m`` (Nsplits = 100, stepSize = 0.1).
    """
    check_convention(convention)
    if convention == "tuebingen":
        return auc(saliency_map, xs, ys, convention=convention, shape=shape, sorted_map=sorted_map)
    smap, flat = _prepare(saliency_map, xs, ys, convention, shape)
    flat = np.unique(flat)
    if flat.size <= 1 or np.ptp(smap) == 0:
        return float("nan")
    norm = _minmax(smap).ravel()
    pos, grid = norm[flat], _grid(step_size)
    if n_splits is None:
        return float(_threshold_auc(pos, _rates_at_least(norm[None, :], grid), grid)[0])
    rng = np.random.default_rng(seed)
    samples = norm[rng.integers(0, norm.size, size=(int(n_splits), flat.size))]
    return float(_threshold_auc(pos, _rates_at_least(samples, grid), grid).mean())


def shuffled_auc(
    saliency_map: Any,
    xs: Any,
    ys: Any,
    other_xs: Any,
    other_ys: Any,
    *,
    convention: str = "tuebingen",
    shape: Sequence[int] | None = None,
    per_fixation: bool = False,
    n_splits: int | None = 100,
    step_size: float = 0.1,
    seed: int | np.random.Generator | None = 0,
) -> float | np.ndarray:
    """Shuffled AUC: fixations against the fixations of *other* images (centre bias cancels).

    ``other_xs, other_ys`` are the other images' fixations already mapped to
    this image's grid (see :func:`salscope.analysis.evaluation`).

    - ``"tuebingen"``: rank AUC per fixation against the saliency at every other
      fixation (duplicates kept): ``(#{s < v} + ½ #{s = v}) / N_other``.
    - ``"mit"``: binary maps (pixels once); min-max normalise; each split takes a
      random subset (without replacement) of ``min(F, N_other)`` other pixels;
      thresholds ``0:step_size:max``; mean over ``n_splits`` splits, or the exact
      limit with ``n_splits=None``. Deterministic when ``N_other <= F``. The
      random subsets come from ``seed`` (the evaluation passes
      :func:`salscope.metrics.image_rng` ``(seed, image_index)``).

    References
    ----------
    Zhang, L., Tong, M. H., Marks, T. K., Shan, H., Cottrell, G. W. "SUN: A
    Bayesian framework for saliency using natural statistics", JoV 8 (2008).
    pysaliency 0.2.22 ``AUCs(nonfixations='shuffled')``; cvzoya/saliency
    ``code_forMetrics/AUC_shuffled.m`` (Nsplits = 100, stepSize = 0.1).
    """
    smap, flat = _prepare(saliency_map, xs, ys, convention, shape)
    orows, ocols = fixation_pixels(other_xs, other_ys, smap.shape, argument="other_xs, other_ys")
    if orows.size == 0:
        raise MetricError("shuffled_auc: other_xs, other_ys are empty; give the fixations of other images as negatives")
    oflat = orows * smap.shape[1] + ocols
    values = smap.ravel()
    if convention == "tuebingen":
        scores = _auc_from_counts(*ValueRanks(values[oflat], values[flat]).counts(), oflat.size)
        return scores if per_fixation else float(scores.mean())
    if per_fixation:
        raise MetricError("shuffled_auc(convention='mit') has no per-fixation values; use convention='tuebingen'")
    flat, oflat = np.unique(flat), np.unique(oflat)
    if np.ptp(smap) == 0:
        return float("nan")
    norm = _minmax(smap).ravel()
    pos, pool, grid = norm[flat], norm[oflat], _grid(step_size)
    if n_splits is None or pool.size <= flat.size:
        # every split uses the whole pool (or its expectation): deterministic
        return float(_threshold_auc(pos, _rates_at_least(pool[None, :], grid), grid)[0])
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((int(n_splits), pool.size)), axis=1)[:, : flat.size]
    return float(_threshold_auc(pos, _rates_at_least(pool[order], grid), grid).mean())
