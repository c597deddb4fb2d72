"""Odd-one-out metrics for search arrays: does a saliency map find the singleton?

Following the P3 protocol of Kotseruba et al. (BMVC 2019):

- :func:`fixations_to_find` — simulated search with inhibition of return:
  fixate the map's maximum; if it lies in the target mask the target is found,
  else suppress a distractor-sized disc around it and repeat, up to 100 times.
- :func:`global_saliency_index` — ``(S_T − S_D) / (S_T + S_D)`` with ``S_T``,
  ``S_D`` the mean saliency inside the target and distractor masks.
- :func:`max_saliency_ratios` — ``max S_T / max S_D`` and ``max S_B / max S_T``
  (B = background, outside every item).

Maps are min–max normalised to [0, 1] per image before the index and the
ratios, which makes both independent of a map's
offset and scale. The standard fixation metrics (NSS, AUC) are computed by
:mod:`salscope.analysis.popout` with the target centre as the one fixation.

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

__all__ = ["MAX_FIXATIONS", "SearchResult", "fixations_to_find", "global_saliency_index", "max_saliency_ratios"]

MAX_FIXATIONS = 100


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a simulated search.

    Attributes
    ----------
    found : whether a fixation landed on the target within the cap.
    n_fixations : fixations made (the one on the target included); equals the
        cap when the target was not found.
    xs, ys : the fixation coordinates in order (float64, pixels).
    """

    found: bool
    n_fixations: int
    xs: np.ndarray
    ys: np.ndarray


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
    """Simulated search with inhibition of return: fixations until the target is hit.

    Algorithm: ``k = 1..max_fixations``: fixate ``p = argmax S`` (ties broken in
    raster order); if ``target_mask[p]`` stop with ``k`` fixations; otherwise set
    ``S = −inf`` on the disc ``‖x − p‖ ≤ ior_radius`` and continue. If every
    pixel gets suppressed before the target is hit, the search stops unfound.

    Parameters
    ----------
    saliency_map : H×W float map.
    target_mask : H×W bool, the target's pixels.
    ior_radius : radius of the suppressed disc in pixels; P3 uses the size of a
        distractor (``SearchArray.ior_radius``).
    max_fixations : cap (P3: 100).

    References
    ----------
    Kotseruba et al. (2019), BMVC, Sec. 4: "number of fixations" metric.
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
