"""Map-to-map metrics (CC, KL divergence, SIM) and the torch twins of CC and KLD.

The numpy metric and its torch twin share the kernels in
:mod:`salscope.metrics._common` (``zscore``, ``to_density``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from salscope.errors import MetricError
from salscope.metrics._common import (
    MATLAB_EPS,
    TUEBINGEN_DENSITY_FLOOR,
    as_map,
    check_convention,
    same_shape,
    to_density,
    zscore,
)
from salscope.metrics.nss import _batched_pair, _reduce
from salscope.metrics.passes import density_affine, floored_affine, pixel_sums


def _pair(saliency_map: Any, gold: Any, convention: str) -> tuple[np.ndarray, np.ndarray]:
    check_convention(convention)
    g = as_map(gold, "gold")
    s = same_shape(as_map(saliency_map), g, convention)
    return s, g


def cc(saliency_map: Any, gold: Any, *, convention: str = "tuebingen") -> float:
    """Pearson linear correlation coefficient between a saliency map and a gold map.

    ``CC = mean(z(s) * z(g))`` with ``z`` the z-score over pixels (population
    std), i.e. ``cov(s, g) / (std(s) std(g))``. Symmetric in its arguments.

    - ``"tuebingen"``: a constant map gives 0 (no linear relation).
    - ``"mit"``: the map is first resized to ``gold``'s size (bicubic
      ``imresize``); a constant map gives NaN like ``CC.m``.

    References
    ----------
    Le Meur, O., Le Callet, P., Barba, D. "Predicting visual fixations on video
    based on low-level visual features", Vision Research 47 (2007).
    pysaliency 0.2.22 ``metrics.CC``; cvzoya/saliency ``code_forMetrics/CC.m``.
    """
    s, g = _pair(saliency_map, gold, convention)
    if convention == "mit" and (np.ptp(s) == 0 or np.ptp(g) == 0):
        return float("nan")
    # mean(z(s) z(g)) written as centred dot products, summed chunk by chunk (no z maps in memory)
    return cc_from_sums(pixel_sums(s.ravel(), g.ravel(), s_mean=s.mean(), g_mean=g.mean()))


def cc_from_sums(sums: dict) -> float:
    """CC from :func:`~salscope.metrics.passes.pixel_sums`' ``ss``, ``gg``, ``sg`` (0 for a constant map)."""
    ss, gg = sums["ss"], sums["gg"]
    if ss == 0 or gg == 0:
        return 0.0
    return float(sums["sg"] / np.sqrt(ss * gg))


def kld(saliency_map: Any, gold: Any, *, convention: str = "tuebingen") -> float:
    """Kullback-Leibler divergence KL(gold ‖ prediction) between two maps made densities.

    - ``"tuebingen"``: ``p = density(s)``, ``q = density(g)`` each with a floor of
      1e-20 added before normalising (negative maps shifted by their minimum);
      ``KL = sum q (log q - log p)`` (nats).
    - ``"mit"``: ``P = s / sum(s)``, ``Q = g / sum(g)`` (no shift);
      ``KL = sum Q log(eps + Q / (P + eps))`` with ``eps = 2^-52`` (negative
      prediction where ``Q > 0`` raises: MATLAB gives a complex number); resizes
      ``s`` to ``g``'s size first.

    References
    ----------
    pysaliency 0.2.22 ``metrics.KLDiv``; cvzoya/saliency ``code_forMetrics/KLdiv.m``.
    """
    s, g = _pair(saliency_map, gold, convention)
    if convention == "mit":
        if g.min() < 0:
            raise MetricError("gold: kld(convention='mit') needs a non-negative gold map (KLdiv.m); shift or clip it first")
        p = s / s.sum() if s.any() else s
        q = g / g.sum() if g.any() else g
        on = q > 0  # 0 * log(anything) contributes nothing
        ratio = MATLAB_EPS + q[on] / (p[on] + MATLAB_EPS)
        if (ratio <= 0).any():
            raise MetricError(
                "saliency_map: negative where the gold map has mass, so KLdiv.m would return a complex number; "
                "make the map non-negative first"
            )
        return float((q[on] * np.log(ratio)).sum())
    # with a = s' + floor, b = g' + floor (s', g' shifted if negative) and p = a/A, q = b/B:
    # sum q log(q/p) = (1/B) sum b log(b/a) + log(A/B) -- the same value with fewer passes
    floors = (floored_affine(s.min(), TUEBINGEN_DENSITY_FLOOR, s.sum(), s.size),
              floored_affine(g.min(), TUEBINGEN_DENSITY_FLOOR, g.sum(), g.size))
    return kld_from_sums(pixel_sums(s.ravel(), g.ravel(), kld=floors))


def kld_from_sums(sums: dict) -> float:
    """Tuebingen KLD from :func:`~salscope.metrics.passes.pixel_sums`' ``a``, ``b``, ``blog``."""
    return float(sums["blog"] / sums["b"] + np.log(sums["a"] / sums["b"]))


def sim(saliency_map: Any, gold: Any, *, convention: str = "tuebingen") -> float:
    """Similarity (histogram intersection) of two maps made densities.

    ``SIM = sum_x min(p(x), q(x))``, 1 for identical densities, 0 for disjoint.

    - ``"tuebingen"``: each map shifted by its minimum only where negative and
      divided by its sum (a constant map is a uniform density).
    - ``"mit"``: each non-zero map min-max normalised to [0, 1] and then divided
      by its sum (``similarity.m``: the lowest pixel always gets weight 0; a
      constant non-zero map gives NaN); resizes ``s`` to ``g``'s size first.

    References
    ----------
    Judd, T., Durand, F., Torralba, A. "A benchmark of computational models of
    saliency to predict human fixations", MIT tech report (2012).
    pysaliency 0.2.22 ``metrics.SIM``; cvzoya/saliency ``code_forMetrics/similarity.m``.
    """
    s, g = _pair(saliency_map, gold, convention)
    if convention == "mit":
        def norm(m: np.ndarray) -> np.ndarray:
            if not m.any():
                return m
            rng = np.ptp(m)
            if rng == 0:
                return np.full(m.shape, np.nan)
            m = (m - m.min()) / rng
            return m / m.sum()

        return float(np.minimum(norm(s), norm(g)).sum())
    s, g = s.ravel(), g.ravel()
    densities = (density_affine(s, s.min(), s.sum()), density_affine(g, g.min(), g.sum()))  # to_density, per chunk
    return float(pixel_sums(s, g, sim=densities)["sim"])


def cc_torch(pred: Any, density: Any, *, reduction: str = "mean") -> Any:
    """Differentiable CC of a batch of maps (torch twin of :func:`cc`).

    ``CC_b = mean(z(pred_b) * z(density_b))`` per image (population std; a
    constant map gives 0), averaged over the batch with ``reduction="mean"``.

    References
    ----------
    Same formula as :func:`cc`.
    """
    import torch

    pred, density = _batched_pair(pred, density, "pred", "density")
    density = density.to(pred.dtype)
    values = (zscore(pred) * zscore(density)).mean(dim=(-2, -1))
    return _reduce(values, torch.ones_like(values, dtype=torch.bool), reduction, torch)


def kld_torch(pred: Any, density: Any, *, floor: float = TUEBINGEN_DENSITY_FLOOR, reduction: str = "mean") -> Any:
    """Differentiable KL(density ‖ pred) of a batch of maps (torch twin of :func:`kld`).

    Both maps are made densities as in :func:`kld` (tuebingen: shift negative
    maps, add ``floor``, divide by the sum), then
    ``KL_b = sum q (log q - log p)``. Use a larger ``floor`` (e.g. 1e-7) for
    float32 training if the prediction may reach exactly zero.

    References
    ----------
    Same formula as :func:`kld` with ``convention="tuebingen"``.
    """
    import torch

    pred, density = _batched_pair(pred, density, "pred", "density")
    p = to_density(pred, floor)
    q = to_density(density.to(pred.dtype), floor)
    values = (q * (torch.log(q) - torch.log(p))).sum(dim=(-2, -1))
    return _reduce(values, torch.ones_like(values, dtype=torch.bool), reduction, torch)
