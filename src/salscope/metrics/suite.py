"""Several tuebingen metrics of one map at once, sharing the passes over its pixels.

:func:`tuebingen_suite` returns the same values as :func:`~salscope.metrics.auc`,
:func:`~salscope.metrics.shuffled_auc`, :func:`~salscope.metrics.auc_judd`,
:func:`~salscope.metrics.nss`, :func:`~salscope.metrics.cc`,
:func:`~salscope.metrics.kld` and :func:`~salscope.metrics.sim` called one by one
(same formulas, same floating-point operations, so the same bits). The rank
metrics take their counts ``#{s < v}``, ``#{s <= v}`` at the fixated values
from one :class:`~salscope.metrics.ranks.ValueRanks` (buckets instead of a sort
of the map; a map reused for another image is sorted once instead); the map's
sum and minimum are computed once, the gold map's (sum, minimum, density rule)
sit in a :class:`GoldStats` that several models can share, and every pixel sum
of NSS, CC, KLD and SIM comes from one chunked sweep,
:func:`~salscope.metrics.passes.pixel_sums`. The shuffled-AUC negatives
are given as the flat indices of *all* fixations on this grid plus this
image's own entries among them: ``#{neg < v} = #{all < v} - #{own < v}``,
which avoids building the per-image "other images" array.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from salscope.errors import MetricError
from salscope.metrics._common import TUEBINGEN_DENSITY_FLOOR, require_fixations
from salscope.metrics.auc import fixated_pixels_with_negatives, judd_tuebingen
from salscope.metrics.distribution import cc_from_sums, kld_from_sums
from salscope.metrics.passes import Affine, density_affine, floored_affine, pixel_sums
from salscope.metrics.ranks import SortedRanks, ValueRanks

#: Metrics :func:`tuebingen_suite` computes.
SUITE_METRICS = ("auc", "sauc", "auc_judd", "nss", "cc", "kld", "sim")


class GoldStats:
    """A gold map's scalars for CC, KLD and SIM (sum, minimum, mean, density rule), computed once per image.

    Shared by all models of the image; the per-pixel terms are summed by
    :func:`salscope.metrics.passes.pixel_sums` together with the map's.
    """

    def __init__(self, gold: np.ndarray):
        self.gold = gold
        self.values = gold.ravel()
        self._total = self._low = self._density = None

    def total(self) -> Any:
        if self._total is None:
            self._total = self.gold.sum()
        return self._total

    def low(self) -> Any:
        if self._low is None:
            self._low = self.gold.min()
        return self._low

    def mean(self) -> Any:
        return self.total() / self.gold.size  # gold.mean(): the same sum / n

    def density(self) -> Affine:
        """``to_density(gold)`` as an element-wise rule."""
        if self._density is None:
            self._density = density_affine(self.values, self.low(), self.total())
        return self._density


class MapStats:
    """A saliency map's part of the suite (checked map, sum, minimum, density rule, rank counts), built on first use.

    ``MapStats(m, remember=True).equals(m2)`` tells whether ``m2`` has the same
    shape and values as ``m`` (compared with a private copy taken at
    construction, so a model that refills one buffer is not mistaken for an
    unchanged map); an evaluation can then reuse this object for the next
    image: the map is then sorted once and ranked by ``searchsorted``, and its
    scalars are kept — the values are the same bits as recomputing them.
    """

    def __init__(self, saliency_map: Any, remember: bool = False):
        s = np.asarray(saliency_map, dtype=np.float64)
        if s.ndim != 2 or s.size == 0:
            raise MetricError(f"saliency_map: expected a non-empty H×W map, got shape {s.shape}")
        total = s.sum()
        if not np.isfinite(total) and not np.isfinite(s).all():
            bad = int((~np.isfinite(s)).sum())
            raise MetricError(
                f"saliency_map: {bad} NaN/inf value(s) in the map; fix the model output (e.g. np.nan_to_num) before scoring"
            )
        self.smap, self.values, self.total = s, s.ravel(), total
        self._reference: np.ndarray | None = s.copy() if remember else None
        self._sorted = self._density = self._low = None
        self._at: tuple[np.ndarray, np.ndarray] | None = None
        self._uses = 0

    def equals(self, other: Any) -> bool:
        """Same shape and values as the map this object was built from."""
        if self._reference is None:
            self._reference = self.smap.copy()
        other = np.asarray(other)
        if other.shape != self._reference.shape:
            return False
        flat = other.reshape(-1)
        probe = np.linspace(0, flat.size - 1, 64).astype(np.int64)  # cheap early exit for a different map
        return bool(np.array_equal(flat[probe], self._reference.reshape(-1)[probe]) and np.array_equal(other, self._reference))

    def sorted(self) -> np.ndarray:
        if self._sorted is None:
            self._sorted = np.sort(self.values)
        return self._sorted

    def low(self) -> Any:
        if self._low is None:
            self._low = self.values.min()
        return self._low

    def ranks(self, queries: np.ndarray) -> ValueRanks | SortedRanks:
        """Counts of map values below / at ``queries`` (the fixated values of one image).

        The first image gets a :class:`ValueRanks` (no sort, O(N)); a map
        scored again for another image (``reuse_maps``) is sorted once and
        ranked by ``searchsorted`` from then on. Same integers either way.
        """
        self._uses += 1
        if self._uses > 1 or self._sorted is not None:
            return SortedRanks(self.sorted(), queries, self.sorted_at)
        return ValueRanks(self.values, queries, low=self.low())

    def density(self) -> Affine:
        """``to_density(map)`` as an element-wise rule."""
        if self._density is None:
            self._density = density_affine(self.values, self.low(), self.total)
        return self._density

    def sorted_at(self, flat: np.ndarray) -> np.ndarray:
        """``np.sort(values[flat])``, kept for the last ``flat`` array given (the data set's fixations)."""
        if self._at is None or self._at[0] is not flat:
            self._at = (flat, np.sort(self.values[flat]))
        return self._at[1]


#: the last sAUC negatives array given and its sorted copy (the evaluation passes one array for every image)
_SORTED_NEGATIVES: list = [None, None]


def _sorted_negatives(all_flat: np.ndarray) -> np.ndarray:
    """``np.sort(all_flat)``, kept while the same array object comes back (callers must not modify it in place).

    Only the multiset of negatives counts; in pixel order their buckets and values are read
    sequentially instead of at random.
    """
    if _SORTED_NEGATIVES[0] is not all_flat:
        _SORTED_NEGATIVES[:] = [all_flat, np.sort(all_flat)]
    return _SORTED_NEGATIVES[1]


def _counts(sorted_values: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.searchsorted(sorted_values, queries, side="left"), np.searchsorted(sorted_values, queries, side="right")


def tuebingen_suite(
    saliency_map: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    metrics: Sequence[str],
    *,
    gold: GoldStats | Callable[[], GoldStats] | None = None,
    negatives: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Tuebingen AUC, sAUC, AUC-Judd, NSS, CC, KLD and SIM of one map, sharing work.

    Parameters
    ----------
    saliency_map : (H, W) float64 array or MapStats
        The prediction on the fixation grid (checked finite here), or its
        :class:`MapStats` (reused across images when the map repeats).
    rows, cols : int arrays
        Fixated pixels (already checked inside the grid), duplicates kept.
    metrics : sequence of str
        Subset of :data:`SUITE_METRICS`.
    gold : GoldStats or a callable returning one
        Needed for CC, KLD, SIM.
    negatives : (all_flat, own_flat)
        For sAUC: flat indices of every fixation of the data set mapped to this
        grid, and of this image's own fixations among them; the negatives are
        the difference (the other images' fixations).

    Returns
    -------
    dict
        Per-fixation arrays for ``auc``, ``sauc``, ``nss``; floats for
        ``auc_judd``, ``cc``, ``kld``, ``sim`` — equal to the single metrics.

    References
    ----------
    pysaliency 0.2.22 (``AUCs``, ``AUC_Judd``, ``NSSs``, ``CCs``, ``KLDivs``, ``SIMs``);
    see the single metric functions for the formulas.
    """
    unknown = [m for m in metrics if m not in SUITE_METRICS]
    if unknown:
        raise MetricError(f"tuebingen_suite: metric(s) {', '.join(unknown)} not in the suite; use {', '.join(SUITE_METRICS)}")
    st = saliency_map if isinstance(saliency_map, MapStats) else MapStats(saliency_map)
    rows = np.asarray(rows, dtype=np.int64)
    require_fixations(rows.size)
    flat = rows * st.smap.shape[1] + np.asarray(cols, dtype=np.int64)
    values = st.values
    n_pixels = values.size
    fixated = values[flat]
    get_gold = gold if callable(gold) else (lambda: gold)
    out: dict[str, Any] = {}

    if "sauc" in metrics:
        if negatives is None:
            raise MetricError("tuebingen_suite: sauc needs negatives=(all_flat, own_flat)")
        if negatives[0].size - negatives[1].size <= 0:
            raise MetricError("shuffled_auc: other_xs, other_ys are empty; give the fixations of other images as negatives")
    ranks = st.ranks(fixated) if any(m in metrics for m in ("auc", "auc_judd", "sauc")) else None
    if "auc" in metrics or "auc_judd" in metrics:
        left, right = ranks.counts()  # #{s < v}, #{s <= v} over every pixel, per fixation
        if "auc" in metrics:  # rank AUC against every pixel (metrics.auc)
            out["auc"] = (left + 0.5 * (right - left)) / n_pixels
        if "auc_judd" in metrics:  # metrics.auc_judd, tuebingen, no jitter
            unique = fixated_pixels_with_negatives(flat, n_pixels)
            out["auc_judd"] = judd_tuebingen(values, fixated, unique, left)
    if "sauc" in metrics:  # metrics.shuffled_auc, tuebingen
        all_flat, own_flat = negatives
        n_neg = all_flat.size - own_flat.size
        l_all, r_all = ranks.counts(_sorted_negatives(all_flat))
        l_own, r_own = _counts(np.sort(values[own_flat]), fixated)
        left, right = l_all - l_own, r_all - r_own
        out["sauc"] = (left + 0.5 * (right - left)) / n_neg
    pixel = [m for m in ("nss", "cc", "kld", "sim") if m in metrics]
    if pixel:  # every per-pixel sum in one chunked sweep (metrics.passes), as the single metrics take them
        g = get_gold() if any(m in pixel for m in ("cc", "kld", "sim")) else None
        mean = st.total / n_pixels  # zscore_stats: sum / n
        kw: dict[str, Any] = {}
        if "nss" in pixel or "cc" in pixel:
            kw["s_mean"] = mean
        if "cc" in pixel:
            kw["g_mean"] = g.mean()
        if "kld" in pixel:
            kw["kld"] = (floored_affine(st.low(), TUEBINGEN_DENSITY_FLOOR, st.total, n_pixels),
                         floored_affine(g.low(), TUEBINGEN_DENSITY_FLOOR, g.total(), n_pixels))
        if "sim" in pixel:
            kw["sim"] = (st.density(), g.density())
        sums = pixel_sums(values, None if g is None else g.values, **kw)
        if "nss" in pixel:
            var = sums["ss"] / n_pixels
            std = (var + (var == 0)) ** 0.5
            out["nss"] = (fixated - mean) / std
        if "cc" in pixel:
            out["cc"] = cc_from_sums(sums)
        if "kld" in pixel:  # sum q log(q / p) as (1/B) sum b log(b / a) + log(A / B)
            out["kld"] = kld_from_sums(sums)
        if "sim" in pixel:
            out["sim"] = float(sums["sim"])
    return out
