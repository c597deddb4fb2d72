"""Selectivity: a channel's AUC on a category's regions against the other salient regions of the same images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import mannwhitneyu

from salscope.analysis.neurons.stats._tables import (
    DEFAULT_THRESHOLD,
    category_means,
    check_alpha,
    check_inputs,
)
from salscope.analysis.neurons.stats.holm import holm


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
    inp = check_inputs({"region_scores": region_scores}, region_category, categories, channels=channels,
                       region_image=region_image, need_image=True)
    alpha = check_alpha(alpha)
    s, cats, cols = inp.scores[0], inp.categories, inp.cols
    x = s[np.ix_(inp.rows, cols)]
    codes = inp.codes()
    img, _ = inp.images()
    n_cat, n_ch = len(cats), s.shape[1]

    scores = category_means(s, inp.region_category, cats, channels=inp.channels)
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
