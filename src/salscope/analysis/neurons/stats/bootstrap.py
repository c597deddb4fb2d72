"""Finding 2's gain after fine-tuning with image-bootstrap intervals (Efron & Tibshirani 1993)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from salscope.analysis.neurons.stats._tables import (
    DEFAULT_CHUNK,
    DEFAULT_TOP_K,
    ImageSums,
    check_inputs,
    check_level,
    check_positive,
    top_k_and_count,
)
from salscope.errors import AnalysisError
from salscope.io import finite_or_none as _num


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
    inp = check_inputs({"before": before, "after": after}, region_category, categories, channels=channels,
                       region_image=region_image, need_image=True)
    cats = inp.categories
    top_k = check_positive(top_k, "top_k")
    n_boot = check_positive(n_boot, "n_boot")
    chunk = check_positive(chunk, "chunk")
    level = check_level(level)
    if contrast is not None:
        contrast = (str(contrast[0]), str(contrast[1]))
        missing = [c for c in contrast if c not in cats]
        if missing:
            raise AnalysisError(f"contrast={contrast}: {missing} not among categories {cats}; "
                                "name two of them, or pass contrast=None")
    tb, ta = inp.table(0), inp.table(1)
    n_cat = len(cats)
    codes = inp.codes()
    img, n_img = inp.images()
    if n_img == 0:
        raise AnalysisError("bootstrap_gain: no region has a finite score; nothing to resample")

    if selection not in ("in_sample", "cross_fitted"):
        raise AnalysisError(f"selection={selection!r}: use 'in_sample' or 'cross_fitted'")
    n_splits = check_positive(n_splits, "n_splits")
    sums_b = ImageSums.build(tb, codes, img, n_img, n_cat)
    sums_a = ImageSums.build(ta, codes, img, n_img, n_cat)
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


def _cross_top(sums: "ImageSums", w1: np.ndarray, w2: np.ndarray, top_k: int) -> np.ndarray:
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
