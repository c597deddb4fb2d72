"""Odd-one-out metrics for search arrays: does a saliency map find the singleton?

After the P3 protocol of Kotseruba et al. (BMVC 2019):

- :func:`fixations_to_find_item` — item-level simulated search: fixate the
  map's maximum, assign the fixation to the nearest item (by distance to the
  item centres), stop if that item is the target, else suppress the item's
  whole region (the pixels nearer its centre than any other's) and repeat.
  It credits a coarse map whose peak lands in the target's neighbourhood
  rather than on its ink, as a deep model's stride-16/32 map does.
- :func:`fixations_to_find` — pixel-level search with inhibition of return:
  fixate the map's maximum; if it lies in the hit mask (the target's ink, or
  P3's disc around the target centre) the target is found, else suppress a
  distractor-sized disc around it and repeat, up to 100 times.
- :func:`item_saliency`, :func:`target_rank` — each item's saliency (max or
  mean of the map over its region) and the target's rank among the items.
- :func:`global_saliency_index` — ``(S_T − S_D) / (S_T + S_D)`` with ``S_T``,
  ``S_D`` the mean saliency inside the target and distractor masks.
- :func:`max_saliency_ratios` — ``max S_T / max S_D`` and ``max S_B / max S_T``
  (B = background, outside every item).

Maps are min–max normalised to [0, 1] per image before the index and the
ratios, which makes both independent of a map's
offset and scale. The standard fixation metrics (NSS, AUC) are computed by
:mod:`salscope.analysis.popout.scoring` with the target centre as the one fixation.

References
----------
Kotseruba, I., Wloka, C., Rasouli, A. & Tsotsos, J. K. (2019). Do saliency
    models detect odd-one-out targets? New datasets and evaluations. BMVC.
    arXiv:2005.06583, Section 4 (metrics), P3 data set.
Itti, L., Koch, C. & Niebur, E. (1998). A model of saliency-based visual
    attention for rapid scene analysis. IEEE TPAMI 20(11) (winner-take-all
    with inhibition of return).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from salscope.errors import MetricError

__all__ = [
    "HIT_RULES",
    "MAX_FIXATIONS",
    "SearchResult",
    "fixations_to_find",
    "fixations_to_find_item",
    "global_saliency_index",
    "item_saliency",
    "max_saliency_ratios",
    "nearest_item_labels",
    "target_rank",
]

MAX_FIXATIONS = 100
HIT_RULES: tuple[str, ...] = ("item", "disc", "ink")
"""When a fixation counts as on the target: nearest item, P3's disc around the target centre, the target's ink."""


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a simulated search.

    Attributes
    ----------
    found : whether a fixation landed on the target within the cap.
    n_fixations : fixations made (the one on the target included); equals the
        cap when the target was not found.
    xs, ys : the fixation coordinates in order (float64, pixels).
    items : for the item-level search, the index of the item each fixation
        was assigned to (int64); ``None`` for the pixel-level search.
    """

    found: bool
    n_fixations: int
    xs: np.ndarray
    ys: np.ndarray
    items: np.ndarray | None = None


def _check_map(saliency_map: np.ndarray, argument: str = "saliency_map") -> np.ndarray:
    smap = np.asarray(saliency_map, dtype=np.float64)
    if smap.ndim != 2 or smap.size == 0:
        raise MetricError(f"{argument}: expected an H×W map, got shape {np.shape(saliency_map)}")
    if not np.all(np.isfinite(smap)):
        raise MetricError(f"{argument}: contains NaN or inf values; fix the model output before scoring")
    return smap


def _check_mask(mask: np.ndarray, shape: tuple[int, ...], argument: str, *, nonempty: bool = True) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise MetricError(f"{argument}: shape {m.shape} does not match the saliency map {shape}; resize the map first")
    m = m.astype(bool)
    if nonempty and not m.any():
        raise MetricError(f"{argument} is empty: a search array needs at least one pixel of it")
    return m


def _normalise(smap: np.ndarray) -> np.ndarray:
    lo, hi = float(smap.min()), float(smap.max())
    if hi <= lo:
        return np.zeros_like(smap)
    return (smap - lo) / (hi - lo)


def fixations_to_find(
    saliency_map: np.ndarray,
    target_mask: np.ndarray,
    ior_radius: float,
    *,
    max_fixations: int = MAX_FIXATIONS,
) -> SearchResult:
    """Pixel-level simulated search with inhibition of return: fixations until the hit mask is hit.

    Algorithm: ``k = 1..max_fixations``: fixate ``p = argmax S`` (ties broken in
    raster order); if ``target_mask[p]`` stop with ``k`` fixations; otherwise set
    ``S = −inf`` on the disc ``‖x − p‖ ≤ ior_radius`` and continue. If every
    pixel gets suppressed before the target is hit, the search stops unfound.

    Parameters
    ----------
    saliency_map : H×W float map.
    target_mask : H×W bool hit mask: the target's ink (``hit="ink"``) or P3's
        disc around the target centre (``hit="disc"``, ``SearchArray.target_disc``).
    ior_radius : radius of the suppressed disc in pixels; P3 uses the size of a
        distractor (``SearchArray.ior_radius``).
    max_fixations : cap (P3: 100).

    References
    ----------
    Kotseruba et al. (2019), BMVC, Sec. 4: "number of fixations" metric; their
    code (``numfix2find``) zeroes a distractor-sized square rather than a disc
    and hits a disc of half the target's size around its centre.
    """
    smap = _check_map(saliency_map).copy()
    mask = _check_mask(target_mask, smap.shape, "target_mask")
    if not (isinstance(max_fixations, (int, np.integer)) and max_fixations >= 1):
        raise MetricError(f"max_fixations={max_fixations!r} must be a positive integer")
    if not (math.isfinite(ior_radius) and ior_radius >= 0):
        raise MetricError(f"ior_radius={ior_radius!r} must be a finite number ≥ 0 (pixels)")
    h, w = smap.shape
    rad = float(ior_radius)
    r = int(math.ceil(rad))
    # Disc stencil once; each step writes it into the patch around the fixation.
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = dx * dx + dy * dy <= rad * rad
    xs: list[float] = []
    ys: list[float] = []
    for k in range(1, int(max_fixations) + 1):
        flat = int(np.argmax(smap))
        row, col = divmod(flat, w)
        if smap[row, col] == -np.inf:  # everything suppressed
            return SearchResult(False, k - 1, np.asarray(xs), np.asarray(ys))
        xs.append(float(col))
        ys.append(float(row))
        if mask[row, col]:
            return SearchResult(True, k, np.asarray(xs), np.asarray(ys))
        r0, r1 = max(0, row - r), min(h, row + r + 1)
        c0, c1 = max(0, col - r), min(w, col + r + 1)
        stencil = disc[r0 - (row - r) : r1 - (row - r), c0 - (col - r) : c1 - (col - r)]
        patch = smap[r0:r1, c0:c1]
        patch[stencil] = -np.inf
    return SearchResult(False, int(max_fixations), np.asarray(xs), np.asarray(ys))


def _check_centres(centres: np.ndarray, target_index: int | None = None) -> np.ndarray:
    c = np.asarray(centres, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 2 or len(c) < 1:
        raise MetricError(f"centres: expected an n×2 array of item centres (x, y), got shape {np.shape(centres)}")
    if not np.all(np.isfinite(c)):
        raise MetricError("centres: contain NaN or inf; give every item's centre in pixels")
    is_int = isinstance(target_index, (int, np.integer)) and not isinstance(target_index, bool)
    if target_index is not None and not (is_int and 0 <= target_index < len(c)):
        raise MetricError(f"target_index={target_index!r} must be an integer 0..{len(c) - 1} (a row of centres)")
    return c


def nearest_item_labels(shape: tuple[int, int], centres: np.ndarray) -> np.ndarray:
    """int32 H×W map: index of the item centre nearest each pixel (ties → the lower index).

    ``centres`` is n×2 (x, y) in pixels, pixel centres at integers. The labels
    partition the image into the items' Voronoi cells; on a jittered grid each
    is the item's grid cell with its borders moved by the jitter.
    """
    c = _check_centres(centres)
    h, w = (int(v) for v in shape)
    if h < 1 or w < 1:
        raise MetricError(f"shape={tuple(shape)}: expected a positive (height, width)")
    yy = np.arange(h, dtype=np.float64)[:, None]
    xx = np.arange(w, dtype=np.float64)[None, :]
    best = np.full((h, w), np.inf)
    labels = np.zeros((h, w), dtype=np.int32)
    for k, (cx, cy) in enumerate(c):  # one pass per item: n × H × W work, H × W memory
        d = (xx - cx) ** 2 + (yy - cy) ** 2
        closer = d < best
        best[closer] = d[closer]
        labels[closer] = k
    return labels


def _labels_for(smap: np.ndarray, centres: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    if labels is None:
        return nearest_item_labels(smap.shape, centres)
    lab = np.asarray(labels)
    if lab.shape != smap.shape:
        raise MetricError(f"labels: shape {lab.shape} does not match the saliency map {smap.shape}")
    if lab.size and (lab.min() < 0 or lab.max() >= len(centres)):
        raise MetricError(f"labels: values must index the {len(centres)} items (0..{len(centres) - 1})")
    return lab


def fixations_to_find_item(
    saliency_map: np.ndarray,
    centres: np.ndarray,
    target_index: int,
    *,
    max_fixations: int = MAX_FIXATIONS,
    labels: np.ndarray | None = None,
) -> SearchResult:
    """Item-level simulated search: fixations until the fixated item is the target.

    Algorithm: ``k = 1..max_fixations``: fixate ``p = argmax S`` (ties broken
    in raster order) and assign it to the item whose centre is nearest ``p``;
    if that item is the target stop with ``k`` fixations; otherwise set
    ``S = −inf`` on the item's whole region (every pixel nearer its centre
    than any other's, see :func:`nearest_item_labels`) and continue.
    Inhibiting the region rather than a disc means every fixation lands on a
    new item, so the search visits the items in the order of their region
    maxima: ``n_fixations`` is the target's rank by :func:`item_saliency`
    (``region="cell"``, ``reduce="max"``) with ties broken in raster order,
    and the target is always found when ``max_fixations`` ≥ the number of
    items.

    Parameters
    ----------
    saliency_map : H×W float map.
    centres : n×2 item centres (x, y) in pixels.
    target_index : the target's row in ``centres``.
    max_fixations : cap (P3: 100).
    labels : the :func:`nearest_item_labels` of ``centres`` if already computed.
    """
    smap = _check_map(saliency_map)
    c = _check_centres(centres, target_index)
    if not (isinstance(max_fixations, (int, np.integer)) and max_fixations >= 1):
        raise MetricError(f"max_fixations={max_fixations!r} must be a positive integer")
    lab = _labels_for(smap, c, labels).ravel()
    flat = smap.ravel()
    n = len(c)
    # The search fixates, item after item, the remaining item with the highest region maximum (the first
    # such pixel in raster order on ties), so order the items once by (−region max, raster index of that max).
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, lab, flat)
    at_peak = np.flatnonzero(flat == peak[lab])  # ascending raster order
    owners, first_pos = np.unique(lab[at_peak], return_index=True)
    first = np.full(n, -1, dtype=np.int64)
    first[owners] = at_peak[first_pos]  # each item's argmax pixel; −1 for an item owning no pixel
    present = np.flatnonzero(first >= 0)
    visit = present[np.lexsort((first[present], -peak[present]))][: int(max_fixations)]
    hits = np.flatnonzero(visit == target_index)
    k = int(hits[0]) + 1 if hits.size else len(visit)
    pix = first[visit[:k]]
    rows, cols = np.divmod(pix, smap.shape[1])
    return SearchResult(
        bool(hits.size), k, cols.astype(np.float64), rows.astype(np.float64), visit[:k].astype(np.int64)
    )


def item_saliency(
    saliency_map: np.ndarray,
    centres: np.ndarray,
    *,
    region: str = "cell",
    reduce: str = "max",
    radius: float | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Saliency of each item: the max (or mean) of the map over the item's region.

    ``region="cell"``: the item's nearest-item region (:func:`nearest_item_labels`,
    the same regions :func:`fixations_to_find_item` inhibits); ``region="disc"``:
    the pixels within ``radius`` of the item centre (``radius`` required; disc
    pixels nearer another item's centre still count for this one). ``reduce``
    is ``"max"`` (the peak a winner-take-all would fixate) or ``"mean"``.
    An item whose region holds no pixel gets ``−inf``. Returns float64 (n,).
    """
    smap = _check_map(saliency_map)
    c = _check_centres(centres)
    if reduce not in ("max", "mean"):
        raise MetricError(f"reduce={reduce!r} is unknown; use 'max' or 'mean'")
    n = len(c)
    if region == "cell":
        lab = _labels_for(smap, c, labels).ravel()
        flat = smap.ravel()
        counts = np.bincount(lab, minlength=n)
        if reduce == "mean":
            sums = np.bincount(lab, weights=flat, minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
            return out.astype(np.float64)
        out = np.full(n, -np.inf)
        np.maximum.at(out, lab, flat)
        return out
    if region == "disc":
        if radius is None or not (math.isfinite(radius) and radius >= 0):
            raise MetricError(f"radius={radius!r}: region='disc' needs a finite radius ≥ 0 in pixels")
        h, w = smap.shape
        r = float(radius)
        out = np.full(n, -np.inf)
        for k, (cx, cy) in enumerate(c):
            r0, r1 = max(0, math.ceil(cy - r)), min(h, math.floor(cy + r) + 1)
            c0, c1 = max(0, math.ceil(cx - r)), min(w, math.floor(cx + r) + 1)
            if r0 >= r1 or c0 >= c1:
                continue
            yy, xx = np.ogrid[r0:r1, c0:c1]
            vals = smap[r0:r1, c0:c1][(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r]
            if vals.size:
                out[k] = float(vals.max() if reduce == "max" else vals.mean())
        return out
    raise MetricError(f"region={region!r} is unknown; use 'cell' (nearest-item region) or 'disc'")


def target_rank(
    saliency_map: np.ndarray,
    centres: np.ndarray,
    target_index: int,
    *,
    region: str = "cell",
    reduce: str = "max",
    radius: float | None = None,
    labels: np.ndarray | None = None,
) -> tuple[float, float]:
    """The target's saliency rank among the items: ``(rank, normalised rank)``.

    With ``s`` = :func:`item_saliency`: ``rank = 1 + #{d : s_d > s_t} +
    ½ #{d ≠ t : s_d = s_t}`` over the distractors ``d`` — 1 when the target is
    strictly the most salient item, ties shared (mid-rank), so a constant map
    ranks the target ``(n + 1) / 2``, chance. ``normalised = (rank − 1) / (n − 1)``
    in [0, 1]: 0 = most salient, 1 = least, 0.5 = chance (0 when n = 1).
    """
    c = _check_centres(centres, target_index)
    s = item_saliency(saliency_map, c, region=region, reduce=reduce, radius=radius, labels=labels)
    st = s[target_index]
    others = np.delete(s, target_index)
    rank = 1.0 + float(np.sum(others > st)) + 0.5 * float(np.sum(others == st))
    n = len(s)
    return rank, (rank - 1.0) / (n - 1) if n > 1 else 0.0


def global_saliency_index(saliency_map: np.ndarray, target_mask: np.ndarray, distractor_mask: np.ndarray) -> float:
    """Global saliency index ``GSI = (S_T − S_D) / (S_T + S_D)`` in [−1, 1].

    ``S_T`` and ``S_D`` are the mean of the min–max normalised map over the
    target and distractor masks. 1: all saliency on the target; −1: all on the
    distractors; 0: no preference (also returned for a constant map, and when
    both means are 0).

    References
    ----------
    Kotseruba et al. (2019), BMVC, Sec. 4 (GSI, after Soltani & Koch 2010).
    """
    smap = _check_map(saliency_map)
    t = _check_mask(target_mask, smap.shape, "target_mask")
    d = _check_mask(distractor_mask, smap.shape, "distractor_mask")
    if (t & d).any():
        raise MetricError("target_mask and distractor_mask overlap; they must be disjoint item masks")
    norm = _normalise(smap)
    st, sd = float(norm[t].mean()), float(norm[d].mean())
    if st + sd == 0.0:
        return 0.0
    return (st - sd) / (st + sd)


def max_saliency_ratios(
    saliency_map: np.ndarray,
    target_mask: np.ndarray,
    distractor_mask: np.ndarray,
    background_mask: np.ndarray | None = None,
) -> tuple[float, float]:
    """Max-saliency ratios ``(MSR_target, MSR_background)``.

    On the min–max normalised map: ``MSR_target = max S_T / max S_D`` (> 1: the
    target's peak beats every distractor's) and ``MSR_background = max S_B /
    max S_T`` (< 1: no background pixel beats the target). ``background_mask``
    defaults to every pixel outside both item masks. A zero denominator gives
    ``inf`` (or 1.0 when the numerator is zero too, as for a constant map).

    References
    ----------
    Kotseruba et al. (2019), BMVC, Sec. 4 (MSR_targ, MSR_bg).
    """
    smap = _check_map(saliency_map)
    t = _check_mask(target_mask, smap.shape, "target_mask")
    d = _check_mask(distractor_mask, smap.shape, "distractor_mask")
    b = ~(t | d) if background_mask is None else _check_mask(background_mask, smap.shape, "background_mask")
    if not b.any():
        raise MetricError("background_mask is empty: the items cover the whole image")
    norm = _normalise(smap)
    mt, md, mb = float(norm[t].max()), float(norm[d].max()), float(norm[b].max())

    def _ratio(num: float, den: float) -> float:
        if den > 0:
            return num / den
        return 1.0 if num == 0 else math.inf

    return _ratio(mt, md), _ratio(mb, mt)
