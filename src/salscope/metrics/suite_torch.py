"""Torch twin of :func:`~salscope.metrics.suite.tuebingen_suite`: a batch of maps scored on any device.

:func:`tuebingen_suite_torch` computes the same seven tuebingen metrics for
``B`` maps of one size at once (float64 throughout), so that a GPU can score a
model's maps where it produced them. The formulas are the numpy suite's:

- AUC, sAUC, AUC-Judd from the integer counts ``#{s < v}`` and ``#{s <= v}``
  (here by ``torch.sort`` + ``torch.searchsorted``, which is cheap on a GPU;
  the same integers as :class:`~salscope.metrics.ranks.ValueRanks`);
- NSS and CC from :func:`~salscope.metrics._common.zscore_stats`, KLD from the
  floored maps, SIM from :func:`~salscope.metrics._common.to_density` (the
  torch branches of the shared kernels).

Rank metrics equal the numpy suite exactly; the sums differ only in the order
of additions (tested to 1e-12 on ``device="cpu"``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope.errors import MetricError
from salscope.metrics._common import TUEBINGEN_DENSITY_FLOOR, require_fixations, to_density, zscore_stats
from salscope.metrics.suite import SUITE_METRICS


def _padded(index_lists: Sequence[np.ndarray], torch: Any, device: Any) -> tuple[Any, Any]:
    """Ragged int arrays as a (B, K) tensor padded with 0 and a validity mask."""
    k = max(1, max(a.size for a in index_lists))
    out = np.zeros((len(index_lists), k), dtype=np.int64)
    valid = np.zeros((len(index_lists), k), dtype=bool)
    for b, a in enumerate(index_lists):
        out[b, : a.size], valid[b, : a.size] = a, True
    return torch.as_tensor(out, device=device), torch.as_tensor(valid, device=device)


def _rank_counts(torch: Any, sorted_values: Any, queries: Any) -> tuple[Any, Any]:
    """``(#{v < q}, #{v <= q})`` per row as float64 (exact integers): searchsorted in each row's sorted values."""
    return (torch.searchsorted(sorted_values, queries, side="left").double(),
            torch.searchsorted(sorted_values, queries, side="right").double())


def _judd(torch: Any, values: Any, positives: Any, unique: Any, below: Any) -> float:
    """:func:`salscope.metrics.auc.judd_tuebingen` with torch ops (one image)."""
    n_pixels = values.numel()
    order = torch.sort(positives, stable=True).indices
    pos = positives[order]
    fixated = torch.sort(values[unique]).values
    thresholds = pos.flip(0)
    # integer counts in float64 (exact), divided as numpy divides them
    tp = (pos.numel() - torch.searchsorted(pos, thresholds, side="left").double()) / pos.numel()
    above_all = n_pixels - below[order].flip(0)
    above_fixated = unique.numel() - torch.searchsorted(fixated, thresholds, side="left").double()
    fp = (above_all - above_fixated) / (n_pixels - unique.numel())
    zero, one = tp.new_zeros(1), tp.new_ones(1)
    return float(torch.trapezoid(torch.cat([zero, tp, one]), torch.cat([zero, fp, one])))


def tuebingen_suite_torch(
    maps: Any,
    fixations: Sequence[tuple[np.ndarray, np.ndarray]],
    metrics: Sequence[str] = SUITE_METRICS,
    *,
    golds: Any = None,
    negatives: tuple[np.ndarray, Sequence[np.ndarray]] | None = None,
    device: Any = "cpu",
) -> list[dict[str, Any]]:
    """Tuebingen AUC, sAUC, AUC-Judd, NSS, CC, KLD and SIM of ``B`` maps on ``device``.

    Parameters
    ----------
    maps : (B, H, W) array or tensor
        Predictions on the fixation grid (made float64; checked finite).
    fixations : sequence of B ``(rows, cols)`` int arrays
        Each image's fixated pixels (inside the grid), duplicates kept.
    metrics : sequence of str
        Subset of :data:`~salscope.metrics.suite.SUITE_METRICS`.
    golds : (B, H, W) array or tensor
        Gold maps, needed for CC, KLD and SIM.
    negatives : (all_flat, [own_flat per image])
        For sAUC, as in :func:`~salscope.metrics.suite.tuebingen_suite`: flat
        indices of every fixation of the data set on this grid and, per image,
        its own entries among them.
    device : str or torch.device
        Where to compute (``"cpu"``, ``"cuda"``, ...).

    Returns
    -------
    list of dict
        One dict per image, laid out as :func:`~salscope.metrics.suite.tuebingen_suite`
        returns it (numpy arrays per fixation, floats per image).

    References
    ----------
    pysaliency 0.2.22 (``AUCs``, ``AUC_Judd``, ``NSSs``, ``CCs``, ``KLDivs``, ``SIMs``); the
    numpy suite for the shared formulas.
    """
    import torch

    unknown = [m for m in metrics if m not in SUITE_METRICS]
    if unknown:
        raise MetricError(f"tuebingen_suite_torch: metric(s) {', '.join(unknown)} not in the suite; use {', '.join(SUITE_METRICS)}")
    dev = torch.device(device)
    s = torch.as_tensor(maps, dtype=torch.float64, device=dev)
    if s.dim() != 3 or s.numel() == 0:
        raise MetricError(f"maps: expected a (B, H, W) batch, got shape {tuple(s.shape)}")
    if not bool(torch.isfinite(s).all()):
        raise MetricError("maps: NaN/inf value(s) in the batch; fix the model output (e.g. torch.nan_to_num) before scoring")
    b_size, h, w = s.shape
    if len(fixations) != b_size:
        raise MetricError(f"fixations: {len(fixations)} fixation sets for {b_size} maps; give one (rows, cols) per map")
    n_pixels = h * w
    flat_np = []
    for rows, cols in fixations:
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        require_fixations(rows.size)
        flat_np.append(rows * w + cols)
    flat, valid = _padded(flat_np, torch, dev)
    values = s.reshape(b_size, n_pixels)
    fixated = values.gather(1, flat)
    result: dict[str, Any] = {}

    if "auc" in metrics or "auc_judd" in metrics:
        left, right = _rank_counts(torch, torch.sort(values, dim=1).values, fixated)
        result["auc"] = (left + 0.5 * (right - left)) / n_pixels
        if "auc_judd" in metrics:
            judd = []
            for b, f in enumerate(flat_np):
                unique = torch.unique(flat[b, : f.size])
                if unique.numel() == n_pixels:
                    raise MetricError("auc_judd: every pixel is fixated, so there are no negatives; the metric is undefined")
                judd.append(_judd(torch, values[b], fixated[b, : f.size], unique, left[b, : f.size]))
            result["auc_judd"] = judd
    if "sauc" in metrics:
        if negatives is None:
            raise MetricError("tuebingen_suite_torch: sauc needs negatives=(all_flat, [own_flat per image])")
        all_flat = torch.as_tensor(np.asarray(negatives[0], dtype=np.int64), device=dev)
        own, own_valid = _padded([np.asarray(o, dtype=np.int64) for o in negatives[1]], torch, dev)
        n_neg = torch.as_tensor([all_flat.numel() - np.asarray(o).size for o in negatives[1]], dtype=torch.float64, device=dev)
        if bool((n_neg <= 0).any()):
            raise MetricError("shuffled_auc: other_xs, other_ys are empty; give the fixations of other images as negatives")
        l_all, r_all = _rank_counts(torch, torch.sort(values[:, all_flat], dim=1).values, fixated)
        # padding sorts last as +inf: never below a finite value, never equal to it
        own_values = torch.where(own_valid, values.gather(1, own), torch.full_like(own, float("inf"), dtype=torch.float64))
        l_own, r_own = _rank_counts(torch, torch.sort(own_values, dim=1).values, fixated)
        left, right = l_all - l_own, r_all - r_own
        result["sauc"] = (left + 0.5 * (right - left)) / n_neg[:, None]
    if any(m in metrics for m in ("nss", "cc", "kld", "sim")):
        g = None
        if any(m in metrics for m in ("cc", "kld", "sim")):
            if golds is None:
                raise MetricError("tuebingen_suite_torch: cc, kld and sim need golds=(B, H, W) gold maps")
            g = torch.as_tensor(golds, dtype=torch.float64, device=dev)
            if g.shape != s.shape:
                raise MetricError(f"golds has shape {tuple(g.shape)} but maps {tuple(s.shape)}; give one gold map per map")
        mean, std = zscore_stats(s)  # population std; 1 where a map is constant
        if "nss" in metrics:
            result["nss"] = (fixated - mean.reshape(b_size, 1)) / std.reshape(b_size, 1)
        if "cc" in metrics:
            cs, cg = s - mean, g - zscore_stats(g)[0]
            ss, gg = (cs * cs).sum(dim=(1, 2)), (cg * cg).sum(dim=(1, 2))
            sg = (cs * cg).sum(dim=(1, 2))
            ok = (ss != 0) & (gg != 0)
            result["cc"] = torch.where(ok, sg / torch.sqrt(torch.where(ok, ss * gg, torch.ones_like(ss))), torch.zeros_like(ss))
        if "kld" in metrics:
            a, bb = _floored(s, torch), _floored(g, torch)
            big_a, big_b = a.sum(dim=(1, 2)), bb.sum(dim=(1, 2))
            result["kld"] = (bb * torch.log(bb / a)).sum(dim=(1, 2)) / big_b + torch.log(big_a / big_b)
        if "sim" in metrics:
            result["sim"] = torch.minimum(to_density(s), to_density(g)).sum(dim=(1, 2))
    return _per_image(result, flat_np, metrics)


def _floored(m: Any, torch: Any) -> Any:
    """``m - min(m) + 1e-20`` for maps with negatives, else ``m + 1e-20`` (per map)."""
    low = m.amin(dim=(1, 2), keepdim=True)
    return m - torch.where(low < 0, low, torch.zeros_like(low)) + TUEBINGEN_DENSITY_FLOOR


def _per_image(result: dict[str, Any], flat_np: list[np.ndarray], metrics: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{} for _ in flat_np]
    for name in metrics:
        v = result[name]
        if name == "auc_judd":
            for b in range(len(flat_np)):
                out[b][name] = v[b]
            continue
        arr = v.detach().cpu().numpy()
        for b, f in enumerate(flat_np):
            out[b][name] = arr[b, : f.size] if name in ("auc", "sauc", "nss") else float(arr[b])
    return out
