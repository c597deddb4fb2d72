"""Input checks and the small kernels every metric shares (z-score, densities).

The helpers here are written with operations that numpy arrays and torch
tensors both understand (``.sum(axis=..., keepdims=True)``, ``** 0.5``,
arithmetic with boolean masks), so the numpy metrics and their torch twins run
the *same* formula: one NSS, one CC, one density in the code base.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope.errors import MetricError
from salscope.metrics.passes import pixel_sums

CONVENTIONS = ("tuebingen", "mit")

#: ``eps`` of MATLAB (2^-52), used by the legacy MIT KLdiv.m / InfoGain.m.
MATLAB_EPS = float(np.finfo(np.float64).eps)

#: Floor pysaliency adds before normalising a map into a density (KLDiv).
TUEBINGEN_DENSITY_FLOOR = 1e-20


def image_rng(seed: int, image_index: int) -> np.random.Generator:
    """The random stream of image ``image_index`` under ``seed``: ``default_rng(SeedSequence([seed, image_index]))``.

    The random metrics (MIT AUC-Borji's uniform samples, MIT shuffled AUC's
    subsets of other fixations) draw each image's numbers from its own stream,
    so an image's score depends on ``(seed, image_index)`` only: not on the
    images scored before it, the worker count or the other metrics. Call it
    once per metric and image (a fresh Generator each time).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MetricError(f"seed={seed!r}: give a whole number >= 0")
    if isinstance(image_index, bool) or not isinstance(image_index, (int, np.integer)) or image_index < 0:
        raise MetricError(f"image_index={image_index!r}: give the image's position (a whole number >= 0)")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(image_index)]))


def check_convention(convention: str) -> str:
    """Return ``convention`` if it is known, else raise :class:`MetricError`."""
    if convention not in CONVENTIONS:
        raise MetricError(f"convention={convention!r} is unknown; use one of {', '.join(map(repr, CONVENTIONS))}")
    return convention


def as_map(values: Any, argument: str = "saliency_map") -> np.ndarray:
    """Check a 2-D finite map and return it as float64.

    Raises :class:`MetricError` naming ``argument`` for a non-2-D, empty, or
    NaN/inf-containing input.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise MetricError(f"{argument}: expected a non-empty H×W map, got shape {arr.shape}")
    # a finite sum proves every value finite (NaN/inf propagate); only an overflowing or
    # non-finite sum needs the element-wise check
    if not np.isfinite(arr.sum()) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise MetricError(f"{argument}: {bad} NaN/inf value(s) in the map; fix the model output (e.g. np.nan_to_num) before scoring")
    return arr


def fixation_pixels(xs: Any, ys: Any, shape: Sequence[int], argument: str = "xs, ys") -> tuple[np.ndarray, np.ndarray]:
    """Pixel ``(rows, cols)`` of fixations ``(xs, ys)`` on a grid of ``shape``.

    Coordinates are 0-based with pixel centres at integers (x = column):
    ``col = floor(x + 0.5)``, ``row = floor(y + 0.5)`` — the project-wide
    convention of :class:`salscope.data.Fixations`. A fixation outside the grid
    raises :class:`MetricError` (never clipped).
    """
    x = np.asarray(xs, dtype=np.float64).ravel()
    y = np.asarray(ys, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise MetricError(f"{argument}: xs has {x.size} values but ys has {y.size}; pass one x and one y per fixation")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise MetricError(f"{argument}: NaN/inf fixation coordinates; remove them before scoring")
    cols = np.floor(x + 0.5).astype(np.int64)
    rows = np.floor(y + 0.5).astype(np.int64)
    h, w = int(shape[0]), int(shape[1])
    bad = (cols < 0) | (cols >= w) | (rows < 0) | (rows >= h)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise MetricError(
            f"{argument}: {int(bad.sum())} fixation(s) outside the {w}x{h} (WxH) image, first at x={x[k]:g}, y={y[k]:g}; "
            "coordinates are 0-based with x = column — convert them or drop the fixations"
        )
    return rows, cols


def require_fixations(n: int, argument: str = "xs, ys") -> None:
    """Raise :class:`MetricError` when there are no fixations to score."""
    if n == 0:
        raise MetricError(
            f"{argument}: no fixations on this image; a fixation-based metric is undefined — skip the image "
            "(salscope.analysis.evaluation does so with skip_empty=True and counts it)"
        )


def fixations_from_map(fixation_map: Any, argument: str = "fixation_map") -> tuple[np.ndarray, np.ndarray]:
    """Coordinates ``(xs, ys)`` of the non-zero pixels of a fixation map.

    Each non-zero pixel gives one fixation (like MATLAB's ``find`` on a binary
    map, which is how the MIT benchmark code reads fixation maps).
    """
    fmap = as_map(fixation_map, argument)
    rows, cols = np.nonzero(fmap.T)[::-1]  # column-major order, as MATLAB find()
    return cols.astype(np.float64), rows.astype(np.float64)


def resolve_shape(smap: np.ndarray, shape: Sequence[int] | None, convention: str, argument: str = "saliency_map") -> np.ndarray:
    """Bring a saliency map to the fixation grid ``shape`` as the convention says.

    ``"mit"`` resizes with MATLAB's bicubic ``imresize`` (as every cvzoya
    function does first); ``"tuebingen"`` never resizes and raises
    :class:`MetricError` on a mismatch.
    """
    if shape is None:
        return smap
    shape = (int(shape[0]), int(shape[1]))
    if smap.shape == shape:
        return smap
    if convention == "mit":
        from salscope.metrics.resize import imresize

        return imresize(smap, shape)
    raise MetricError(
        f"{argument}: map is {smap.shape[0]}x{smap.shape[1]} (HxW) but the fixations are on a {shape[0]}x{shape[1]} image; "
        "predict at the image size, resize the map yourself, or use convention='mit' (which resizes bicubically)"
    )


def same_shape(a: np.ndarray, b: np.ndarray, convention: str, names: tuple[str, str] = ("saliency_map", "gold")) -> np.ndarray:
    """Return ``a`` on ``b``'s grid: resized under ``"mit"``, else an error on mismatch."""
    return resolve_shape(a, b.shape, convention, argument=f"{names[0]} vs {names[1]}")


# ---------------------------------------------------------------------------
# Kernels shared by numpy metrics and their torch twins (duck-typed).
# ---------------------------------------------------------------------------

def zscore_stats(s: Any, ddof: int = 0) -> tuple[Any, Any]:
    """Mean and safe standard deviation over the last two axes (std 0 replaced by 1).

    The one place the z-score statistics are computed: :func:`zscore` (maps,
    torch twins) and the numpy NSS (which only standardises the fixated pixels)
    both use it.
    """
    n = s.shape[-1] * s.shape[-2]
    if isinstance(s, np.ndarray) and s.ndim == 2:
        # same statistics for one numpy map, the sum of squares in cache-sized chunks (metrics.passes)
        mean = s.sum() / n
        var = pixel_sums(s.ravel(), s_mean=mean)["ss"] / (n - ddof)
        return np.full((1, 1), mean), np.full((1, 1), (var + (var == 0)) ** 0.5)
    mean = s.sum(axis=(-2, -1), keepdims=True) / n
    centred = s - mean
    var = (centred * centred).sum(axis=(-2, -1), keepdims=True) / (n - ddof)
    # var == 0 -> divide by 1 instead of 0: the centred map is 0 there anyway.
    return mean, (var + (var == 0)) ** 0.5


def zscore(s: Any, ddof: int = 0) -> Any:
    """Standardise each map over its last two axes: ``(s - mean(s)) / std(s)``.

    Works on numpy arrays and torch tensors alike (the NSS of
    :func:`salscope.metrics.nss` and :func:`salscope.metrics.nss_torch` is this
    function). ``ddof=0`` is the population std (pysaliency), ``ddof=1`` the
    sample std (MATLAB ``std``). A constant map has std 0: it is returned as all
    zeros (pysaliency's ``if std:`` guard), and the gradient stays finite.
    """
    mean, std = zscore_stats(s, ddof)
    return (s - mean) / std


def to_density(s: Any, floor: float = 0.0) -> Any:
    """Turn maps into densities over their last two axes (pysaliency's rule).

    ``s - min(s)`` only where the minimum is negative, plus ``floor``, divided
    by the sum; an all-zero map becomes uniform. numpy or torch input.

    References
    ----------
    pysaliency 0.2.22, ``saliency_map_models.convert_saliency_map_to_density``.
    """
    n = s.shape[-1] * s.shape[-2]
    if isinstance(s, np.ndarray) and s.ndim == 2:
        # same rule, fewer passes over the pixels (the numpy metrics call this per image)
        m = s.min()
        d = s - m if m < 0 else (s + floor if floor else None)
        if m < 0 and floor:
            d += floor
        total = (s if d is None else d).sum()
        if total == 0:
            return np.full(s.shape, 1.0 / n)
        if d is None:
            return s / total
        d /= total  # in place: d is our own temporary
        return d
    flat = s.reshape(tuple(s.shape[:-2]) + (n,))
    m = (flat.min(axis=-1) if isinstance(flat, np.ndarray) else flat.amin(dim=-1))[..., None, None]
    s = s - m * (m < 0)
    s = s + floor
    total = s.sum(axis=(-2, -1), keepdims=True)
    zero = total == 0
    return (s + zero) / (total + zero * n)


def average(values: Sequence[np.ndarray], by: str = "fixation") -> float:
    """Average per-fixation scores over images.

    ``by="fixation"``: mean over all fixations pooled; ``by="image"``: mean of
    the per-image means (images with no values are left out).
    """
    arrays = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    arrays = [a for a in arrays if a.size]
    if not arrays:
        raise MetricError("average: no values to average (every image had no fixations)")
    if by == "fixation":
        return float(np.concatenate(arrays).mean())
    if by == "image":
        return float(np.mean([a.mean() for a in arrays]))
    raise MetricError(f"average: by={by!r} is unknown; use 'fixation' or 'image'")
