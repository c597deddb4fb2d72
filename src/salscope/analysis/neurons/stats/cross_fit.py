"""The winner's curse: channels chosen on one half of the images, scored on the other (Kriegeskorte et al. 2009)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from salscope.analysis.neurons.stats._tables import (
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    ImageSums,
    check_inputs,
    check_positive,
    top_k_and_count,
)
from salscope.errors import AnalysisError
from salscope.io import finite_or_none as _num


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
    inp = check_inputs({"region_scores": region_scores}, region_category, categories, channels=channels,
                       region_image=region_image, need_image=True)
    top_k = check_positive(top_k, "top_k")
    n_repeats = check_positive(n_repeats, "n_repeats")
    cats, table = inp.categories, inp.table()
    n_cat = len(cats)
    img, n_img = inp.images()
    if n_img < 2:
        raise AnalysisError(f"cross_fitted: {n_img} image(s) with scored regions; cross-fitting needs at least 2")
    sums = ImageSums.build(table, inp.codes(), img, n_img, n_cat)
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
