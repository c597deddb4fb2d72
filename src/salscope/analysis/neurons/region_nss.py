"""Region-based NSS: how strongly each channel responds at the fixations inside each annotated region.

For a channel map ``M`` (``h×w``) of an image of size ``H×W`` with annotated
instance regions ``r`` and fixations ``F_r`` inside each region::

    U     = A_H M A_W^T                        (bilinear upsampling to H×W)
    z     = (U - mean(U)) / std(U)             (z-score over the whole image)
    NSS_r = mean_{f in F_r} z[row_f, col_f]

He et al. also min–max normalise every channel with its dataset-wide range
first; that map ``(M - lo) / (hi - lo)`` is affine with positive slope, bilinear
weights sum to one, and the z-score is invariant to positive affine maps, so the
normalisation does not change ``z``: the score can be taken in the same pass
that finds ``lo, hi`` (channels with ``hi == lo`` are constant and
are skipped afterwards). ``tests/analysis`` checks this against the literal
two-pass recipe (:func:`region_nss_literal`).

Upsampling is linear, so nothing of size ``H×W`` is ever built::

    sum U        = a_H^T M a_W                 a = column sums of A
    sum U**2     = sum((G_H M G_W) * M)         G = A^T A
    NSS_r * s + m = <M, K_r>,   K_r = mean_{f in F_r} outer(A_H[row_f], A_W[col_f])

which costs ``O(C h w (h + w + R))`` per image instead of ``O(C H W)``.
``A`` is read off ``torch.nn.functional.interpolate`` itself (bilinear,
``align_corners=False``), so the fast path matches the literal one to rounding.

The z-score and the fixation rules follow :func:`salscope.metrics.nss`:
``convention="tuebingen"`` (population std; every fixation counts; a flat map
scores 0) or ``"mit"`` (sample std; each fixated pixel counts once; a flat map
is NaN).

References
----------
He, S., Tavakoli, H. R., Borji, A., Mi, Y., Pugeault, N. "Understanding and
Visualizing Deep Visual Saliency Models", CVPR 2019, Sec. 4 (region-based NSS;
top-10 mean and count above T = 1.5 per category).
Peters, R. J. et al. "Components of bottom-up gaze allocation in natural
images", Vision Research 45 (2005) (NSS).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from salscope.errors import AnalysisError

AGGREGATIONS = ("instance", "fixation", "image")
DEFAULT_TOP_K = 10
DEFAULT_THRESHOLD = 1.5
_FLAT = 1e-12  # relative variance below which a map counts as constant


def _check_convention(convention: str) -> None:
    if convention not in ("tuebingen", "mit"):
        raise AnalysisError(f"convention={convention!r}: use 'tuebingen' (default) or 'mit'")


@lru_cache(maxsize=64)
def _interp_matrix(n_in: int, n_out: int) -> torch.Tensor:
    # Rows of the 1-D bilinear upsampling operator, taken from F.interpolate so both paths agree.
    eye = torch.eye(n_in, dtype=torch.float64).reshape(1, n_in, n_in, 1)
    out = F.interpolate(eye, size=(n_out, 1), mode="bilinear", align_corners=False)
    return out[0, :, :, 0].T.contiguous()  # (n_out, n_in)


def interpolation_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """The ``n_out × n_in`` matrix of 1-D bilinear resizing (``align_corners=False``).

    ``F.interpolate(M, (H, W), mode="bilinear") == A_H @ M @ A_W.T`` for a 2-D ``M``.
    """
    return _interp_matrix(int(n_in), int(n_out))


@dataclass
class RegionFixations:
    """Fixation pixels of one image grouped by annotated region.

    ``rows, cols``: fixated pixels (int64); ``weights``: ``(R, F)`` float64, row
    ``r`` averages over the fixations inside region ``r`` (zero elsewhere);
    ``n_fixations``: fixations counted per region (unique pixels under ``"mit"``).
    """

    image_shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    n_fixations: np.ndarray


def region_fixations(masks: Sequence[np.ndarray] | np.ndarray, xs: np.ndarray, ys: np.ndarray,
                     convention: str = "tuebingen") -> RegionFixations:
    """Group the fixations ``(xs, ys)`` of one image by the region masks that contain their pixel.

    A fixation counts for region ``r`` when ``mask_r[floor(y + 0.5), floor(x + 0.5)]``
    is true (overlapping regions both count it). Under ``"mit"`` each fixated pixel
    counts once per region.
    """
    _check_convention(convention)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise AnalysisError(f"region_fixations: masks must be (R, H, W) bool, got shape {masks.shape}")
    from salscope.metrics._common import fixation_pixels

    shape = masks.shape[1:]
    rows, cols = fixation_pixels(xs, ys, shape)
    if convention == "mit" and rows.size:
        flat = np.unique(rows * shape[1] + cols)
        rows, cols = flat // shape[1], flat % shape[1]
    inside = masks[:, rows, cols].astype(np.float64)  # (R, F)
    n = inside.sum(1)
    weights = inside / np.maximum(n, 1)[:, None]
    return RegionFixations((int(shape[0]), int(shape[1])), rows, cols, weights, n.astype(np.int64))


def region_nss(fmap: torch.Tensor, fix: RegionFixations, convention: str = "tuebingen") -> torch.Tensor:
    """Region-based NSS of every channel of ``fmap`` ``(C, h, w)``: returns ``(C, R)`` float64.

    Closed form of "upsample bilinearly to the image size, z-score over the
    image, average at the fixations inside the region" (see the module notes).
    Regions without fixations give NaN; flat maps give 0 (``"tuebingen"``) or
    NaN (``"mit"``), as :func:`salscope.metrics.nss`.
    """
    _check_convention(convention)
    if fmap.ndim != 3:
        raise AnalysisError(f"region_nss: fmap must be (C, h, w), got shape {tuple(fmap.shape)}")
    m = fmap.detach().to(torch.float64)
    c, h, w = m.shape
    big_h, big_w = fix.image_shape
    ah, aw = interpolation_matrix(h, big_h), interpolation_matrix(w, big_w)
    n_pix = big_h * big_w
    total = torch.einsum("h,chw,w->c", ah.sum(0), m, aw.sum(0))
    mean = total / n_pix
    sumsq = (torch.matmul(torch.matmul(ah.T @ ah, m), aw.T @ aw) * m).sum((1, 2))
    ddof = 1 if convention == "mit" else 0
    var = ((sumsq - total * mean) / (n_pix - ddof)).clamp_min(0.0)
    flat = var <= _FLAT * (mean * mean).clamp_min(1e-300)
    weights = torch.as_tensor(fix.weights, dtype=torch.float64)
    if weights.shape[0] == 0:
        return torch.zeros((c, 0), dtype=torch.float64)
    rows = torch.as_tensor(fix.rows, dtype=torch.int64)
    cols = torch.as_tensor(fix.cols, dtype=torch.int64)
    # K_r = sum_f w_rf outer(A_H[row_f], A_W[col_f])
    kern = torch.einsum("rf,fh,fw->rhw", weights, ah[rows], aw[cols])
    at_fix = torch.einsum("chw,rhw->cr", m, kern)
    std = var.sqrt()
    score = (at_fix - mean[:, None]) / torch.where(flat, torch.ones_like(std), std)[:, None]
    score = torch.where(flat[:, None], torch.full_like(score, 0.0 if ddof == 0 else float("nan")), score)
    empty = torch.as_tensor(fix.n_fixations == 0)
    return torch.where(empty[None, :], torch.full_like(score, float("nan")), score)


def region_nss_literal(fmap: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, masks: np.ndarray,
                       xs: np.ndarray, ys: np.ndarray, convention: str = "tuebingen") -> np.ndarray:
    """Reference recipe, step by step: min–max normalise, upsample, z-score, mean at region fixations.

    ``lo, hi``: the dataset-wide per-channel range. Builds every ``H×W`` map and
    scores it with :func:`salscope.metrics.nss`; meant for tests and small checks.
    Returns ``(C, R)``; channels with ``hi <= lo`` and regions without fixations are NaN.
    """
    from salscope.metrics import nss

    masks = np.asarray(masks, dtype=bool)
    big_h, big_w = masks.shape[1:]
    m = fmap.detach().to(torch.float64)
    span = (hi - lo).to(torch.float64)
    norm = (m - lo[:, None, None]) / torch.where(span > 0, span, torch.ones_like(span))[:, None, None]
    up = F.interpolate(norm[None], size=(big_h, big_w), mode="bilinear", align_corners=False)[0].numpy()
    from salscope.metrics._common import fixation_pixels

    rows, cols = fixation_pixels(xs, ys, (big_h, big_w))
    out = np.full((m.shape[0], masks.shape[0]), np.nan)
    for r, mask in enumerate(masks):
        inside = mask[rows, cols]
        if not inside.any():
            continue
        for ch in range(m.shape[0]):
            if span[ch] > 0:
                # A map constant on this image stays exactly constant (rounding in the normalisation would not).
                smap = np.zeros((big_h, big_w)) if bool((m[ch] == m[ch].flatten()[0]).all()) else up[ch]
                out[ch, r] = nss(smap, np.asarray(xs)[inside], np.asarray(ys)[inside], convention=convention)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Aggregation over the instances of a category
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class CategoryScores:
    """Per-category summary of one layer's region-NSS table.

    ``scores``: ``(K, C)`` aggregated score per category and channel (NaN for
    skipped channels); ``top_k_mean``: ``(K,)`` mean of the ``top_k`` best
    channels; ``count``: ``(K,)`` channels scoring above ``threshold``;
    ``ranking``: ``(K, C)`` channel indices, best first (skipped channels last).
    """

    categories: list[str]
    scores: np.ndarray
    top_k_mean: np.ndarray
    count: np.ndarray
    ranking: np.ndarray
    n_instances: np.ndarray
    top_k: int
    threshold: float
    aggregation: str
    extra: dict[str, Any] = field(default_factory=dict)


def aggregate_categories(region_scores: np.ndarray, region_category: Sequence[str], categories: Sequence[str],
                         *, fires: np.ndarray | None = None, n_fixations: np.ndarray | None = None,
                         region_image: Sequence[Any] | None = None, aggregation: str = "instance",
                         top_k: int = DEFAULT_TOP_K, threshold: float = DEFAULT_THRESHOLD) -> CategoryScores:
    """Aggregate region scores ``(R, C)`` per category: score table, top-k mean, count above T, ranking.

    ``aggregation`` says how the instances of a category are combined into one
    score per channel (regions with NaN scores, i.e. without fixations, are left out):

    - ``"instance"`` (default): plain mean over instances; every annotated region
      has one vote, like NSS averaged over images.
    - ``"fixation"``: mean weighted by each region's fixation count, i.e. the
      mean z-score over all fixations that land on the category.
    - ``"image"``: mean over the instances of each image first, then over images.

    Then per category ``top_k_mean = mean(top_k largest channel scores)`` and
    ``count = #{channels with score > threshold}``. Channels that never fire
    (``fires`` false) are skipped.

    References
    ----------
    He et al., CVPR 2019 (k = 10, T = 1.5; the aggregation over instances is not
    stated there).
    """
    if aggregation not in AGGREGATIONS:
        raise AnalysisError(f"aggregation={aggregation!r}: use one of {', '.join(AGGREGATIONS)}")
    if top_k < 1:
        raise AnalysisError(f"top_k={top_k}: use a positive number of channels")
    s = np.asarray(region_scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != len(region_category):
        raise AnalysisError(f"aggregate_categories: scores {s.shape} do not match {len(region_category)} region categories")
    n_reg, n_ch = s.shape
    fires = np.ones(n_ch, dtype=bool) if fires is None else np.asarray(fires, dtype=bool)
    cats = np.asarray(list(region_category), dtype=object)
    valid = np.isfinite(s)
    if aggregation == "fixation":
        if n_fixations is None:
            raise AnalysisError("aggregation='fixation' needs n_fixations per region")
        w_reg = np.asarray(n_fixations, dtype=np.float64)
    else:
        w_reg = np.ones(n_reg)
    if aggregation == "image":
        if region_image is None:
            raise AnalysisError("aggregation='image' needs region_image (the image of each region)")
        img = np.asarray([str(i) for i in region_image], dtype=object)
        # Each instance weighs 1 / (number of scored instances of its category in its image).
        keys = np.asarray([f"{a}\x00{b}" for a, b in zip(cats, img)], dtype=object)
        _, inv = np.unique(keys, return_inverse=True)
        has = valid.any(1).astype(np.float64)
        per_group = np.bincount(inv, weights=has)
        w_reg = np.where(has > 0, 1.0 / np.maximum(per_group[inv], 1), 0.0)
    k_cat = len(categories)
    table = np.full((k_cat, n_ch), np.nan)
    n_inst = np.zeros(k_cat, dtype=np.int64)
    for k, name in enumerate(categories):
        sel = cats == name
        if not sel.any():
            continue
        w = w_reg[sel][:, None] * valid[sel]
        n_inst[k] = int(valid[sel].any(1).sum())
        tot = w.sum(0)
        table[k] = np.where(tot > 0, (np.where(valid[sel], s[sel], 0.0) * w).sum(0) / np.where(tot > 0, tot, 1), np.nan)
    table[:, ~fires] = np.nan
    ranked_vals = np.where(np.isfinite(table), table, -np.inf)
    ranking = np.argsort(-ranked_vals, axis=1, kind="stable")
    k_eff = min(top_k, n_ch)
    top = np.take_along_axis(ranked_vals, ranking[:, :k_eff], 1)
    top_ok = np.isfinite(top)
    top_mean = np.where(top_ok.any(1), np.where(top_ok, top, 0).sum(1) / np.maximum(top_ok.sum(1), 1), np.nan)
    count = (np.where(np.isfinite(table), table, -np.inf) > threshold).sum(1)
    return CategoryScores(list(categories), table, top_mean, count.astype(np.int64), ranking, n_inst,
                          int(top_k), float(threshold), aggregation)
