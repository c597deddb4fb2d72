"""Probabilistic metrics: log-likelihood, information gain, and the NLL loss twin."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope.errors import MetricError
from salscope.metrics._common import (
    MATLAB_EPS,
    as_map,
    check_convention,
    fixation_pixels,
    require_fixations,
    resolve_shape,
)
from salscope.metrics.nss import _batched_pair, _reduce


def _check_log_density(log_density: np.ndarray, argument: str) -> None:
    # A log-density must exponentiate to a distribution; anything else makes
    # bits-per-fixation meaningless, so fail instead of silently renormalising.
    top = log_density.max()
    total = float(np.exp(log_density - top).sum()) * float(np.exp(top))
    if not abs(total - 1.0) < 1e-6:
        raise MetricError(
            f"{argument}: exp(log density) sums to {total:.6g}, not 1; pass a normalised log-density "
            "(e.g. SaliencyModel.log_density, or log(p / p.sum()))"
        )


def log_likelihood(
    log_density: Any, xs: Any, ys: Any, *, per_fixation: bool = False
) -> float | np.ndarray:
    """Log-likelihood of fixations under a predicted density, in bits relative to uniform.

    ``LL_i = (log p(y_i, x_i) + log(H W)) / log 2``: 0 for the uniform density.

    References
    ----------
    Kümmerer, M., Wallis, T. S. A., Bethge, M. "Information-theoretic model
    comparison unifies saliency metrics", PNAS 112 (2015);
    pysaliency 0.2.22 ``Model.log_likelihoods``.
    """
    logd = as_map(log_density, "log_density")
    _check_log_density(logd, "log_density")
    rows, cols = fixation_pixels(xs, ys, logd.shape)
    require_fixations(rows.size)
    values = (logd[rows, cols] + np.log(logd.size)) / np.log(2.0)
    return values if per_fixation else float(values.mean())


def information_gain(
    log_density: Any,
    baseline_log_density: Any,
    xs: Any,
    ys: Any,
    *,
    convention: str = "tuebingen",
    shape: Sequence[int] | None = None,
    per_fixation: bool = False,
) -> float | np.ndarray:
    """Information gain of a model over a baseline, in bits per fixation.

    - ``"tuebingen"``: ``IG = mean_i (log p(x_i) - log b(x_i)) / log 2`` with
      ``p``, ``b`` normalised log-densities (checked); every fixation counts.
    - ``"mit"``: the two arguments are *saliency maps* as ``InfoGain.m`` takes
      them: each min-max normalised then divided by its sum;
      ``IG = mean over fixated pixels of log2(eps + S) - log2(eps + B)``,
      ``eps = 2^-52``; ``S`` is resized to ``shape`` first, ``B`` must already
      have that size. A constant map gives NaN as in the original.

    References
    ----------
    Kümmerer, M., Wallis, T. S. A., Bethge, M. "Information-theoretic model
    comparison unifies saliency metrics", PNAS 112 (2015);
    pysaliency 0.2.22 ``Model.information_gains``; cvzoya/saliency
    ``code_forMetrics/InfoGain.m``.
    """
    check_convention(convention)
    base = as_map(baseline_log_density, "baseline_log_density")
    grid = tuple(shape) if shape is not None else base.shape
    if base.shape != tuple(int(v) for v in grid):
        raise MetricError(
            f"baseline_log_density: shape {base.shape} differs from the fixation grid {tuple(grid)}; give the baseline at the image size"
        )
    pred = resolve_shape(as_map(log_density, "log_density"), grid, convention, argument="log_density")
    rows, cols = fixation_pixels(xs, ys, grid)
    require_fixations(rows.size)
    if convention == "mit":
        def norm(m: np.ndarray) -> np.ndarray:
            m = (m - m.min()) / np.ptp(m) if np.ptp(m) > 0 else np.full(m.shape, np.nan)
            return m / m.sum()

        flat = np.unique(rows * grid[1] + cols)
        values = np.log2(MATLAB_EPS + norm(pred).ravel()[flat]) - np.log2(MATLAB_EPS + norm(base).ravel()[flat])
    else:
        _check_log_density(pred, "log_density")
        _check_log_density(base, "baseline_log_density")
        values = (pred[rows, cols] - base[rows, cols]) / np.log(2.0)
    return values if per_fixation else float(values.mean())


def nll_torch(log_density: Any, fixation_map: Any, *, reduction: str = "mean") -> Any:
    """Negative log-likelihood of fixations under a batch of log-densities (nats per fixation).

    ``NLL_b = -sum(log p_b * F_b) / sum(F_b)`` with ``F_b`` the fixation counts.
    ``log_density`` should be normalised per image (e.g. ``log_softmax`` over
    pixels); then ``-(NLL + log(H W)) / log 2`` is :func:`log_likelihood`.

    References
    ----------
    Kümmerer et al., "DeepGaze II" (2017): training by log-likelihood.
    """
    import torch

    log_density, fixation_map = _batched_pair(log_density, fixation_map, "log_density", "fixation_map")
    fmap = fixation_map.to(log_density.dtype)
    count = fmap.sum(dim=(-2, -1))
    values = -(log_density * fmap).sum(dim=(-2, -1)) / count
    return _reduce(values, count > 0, reduction, torch)
