"""Normalized Scanpath Saliency: the numpy metric and its torch twin (one formula).

Both :func:`nss` and :func:`nss_torch` call :func:`salscope.metrics._common.zscore`,
so the NSS used as a training loss, in neuron analysis and in evaluation is the
same code.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope.errors import MetricError
from salscope.metrics._common import (
    as_map,
    check_convention,
    fixation_pixels,
    require_fixations,
    resolve_shape,
    zscore,
    zscore_stats,
)


def nss(
    saliency_map: Any,
    xs: Any,
    ys: Any,
    *,
    convention: str = "tuebingen",
    shape: Sequence[int] | None = None,
    per_fixation: bool = False,
) -> float | np.ndarray:
    """Normalized Scanpath Saliency of one map at the given fixations.

    ``NSS = mean_i z(s)[y_i, x_i]`` with ``z(s) = (s - mean(s)) / std(s)``.

    - ``"tuebingen"``: population std (ddof = 0); every fixation counts,
      duplicates included; a constant map gives 0 at every fixation.
    - ``"mit"``: sample std (ddof = 1, MATLAB ``std``); each fixated pixel counts
      once (binary fixation map); the map is first resized to ``shape`` with
      bicubic ``imresize``; a constant map gives NaN like ``NSS.m``.

    Parameters
    ----------
    saliency_map : (H, W) array
    xs, ys : arrays
        0-based fixation coordinates (x = column); pixel = ``floor(v + 0.5)``.
    shape : (H, W), optional
        Size of the fixation grid (the image) when it differs from the map.
    per_fixation : bool
        Return the value at each fixation (fixated pixel under ``"mit"``) instead
        of their mean.

    References
    ----------
    Peters, R. J., Iyer, A., Itti, L., Koch, C. "Components of bottom-up gaze
    allocation in natural images", Vision Research 45 (2005).
    pysaliency 0.2.22 ``metrics.NSS`` (tuebingen); cvzoya/saliency
    ``code_forMetrics/NSS.m`` (mit).
    """
    check_convention(convention)
    smap = resolve_shape(as_map(saliency_map), shape, convention)
    rows, cols = fixation_pixels(xs, ys, smap.shape)
    require_fixations(rows.size)
    if convention == "mit":
        if np.ptp(smap) == 0:
            values = np.full(1, np.nan)
        else:
            flat = np.unique(rows * smap.shape[1] + cols)
            mean, std = zscore_stats(smap, ddof=1)
            values = (smap.ravel()[flat] - mean[0, 0]) / std[0, 0]
    else:
        # z(s) read at the fixations: the statistics of zscore(), applied to the fixated values only
        mean, std = zscore_stats(smap, ddof=0)
        values = (smap[rows, cols] - mean[0, 0]) / std[0, 0]
    return values if per_fixation else float(values.mean())


def nss_torch(pred: Any, fixation_map: Any, *, reduction: str = "mean") -> Any:
    """Differentiable NSS of a batch of maps (torch twin of :func:`nss`).

    ``NSS_b = sum(z(pred_b) * F_b) / sum(F_b)`` with ``z`` the per-image
    z-score (population std, as :func:`nss` with ``convention="tuebingen"``) and
    ``F_b`` the fixation map (binary, or counts: a pixel fixated k times counts k
    times, exactly like duplicated fixations in :func:`nss`).

    Parameters
    ----------
    pred : tensor (B, H, W) or (H, W)
        Saliency maps (any real values; gradients flow through the z-score).
    fixation_map : tensor of the same shape
        Non-negative fixation counts.
    reduction : {"mean", "none"}
        ``"mean"`` averages over images that have fixations; ``"none"`` returns
        the (B,) vector (NaN for an image without fixations).

    References
    ----------
    Same formula as :func:`nss`; used as a loss by e.g. Kümmerer et al.,
    "DeepGaze II" (2017) and the paper's set-ups (loss = -NSS).
    """
    import torch

    pred, fixation_map = _batched_pair(pred, fixation_map, "pred", "fixation_map")
    fmap = fixation_map.to(pred.dtype)
    z = zscore(pred, ddof=0)
    count = fmap.sum(dim=(-2, -1))
    values = (z * fmap).sum(dim=(-2, -1)) / count
    return _reduce(values, count > 0, reduction, torch)


def _batched_pair(a: Any, b: Any, name_a: str, name_b: str) -> tuple[Any, Any]:
    import torch

    if not (torch.is_tensor(a) and torch.is_tensor(b)):
        raise MetricError(f"{name_a}, {name_b}: expected torch tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.dim() == 2:
        a = a.unsqueeze(0)
    if b.dim() == 2:
        b = b.unsqueeze(0)
    if a.dim() != 3 or a.shape != b.shape:
        raise MetricError(f"{name_a} has shape {tuple(a.shape)} and {name_b} {tuple(b.shape)}; give equal (B, H, W) tensors")
    return a, b


def _reduce(values: Any, valid: Any, reduction: str, torch: Any) -> Any:
    if reduction == "none":
        return torch.where(valid, values, torch.full_like(values, float("nan")))
    if reduction == "mean":
        if not bool(valid.any()):
            raise MetricError("fixation_map: no image in the batch has a fixation; the metric is undefined")
        return values[valid].mean()
    raise MetricError(f"reduction={reduction!r} is unknown; use 'mean' or 'none'")
