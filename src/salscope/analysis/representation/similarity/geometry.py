"""The geometry of unit Gram matrices: how far a model moved from a reference, and whether two moved the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from salscope.analysis.representation.similarity.kernels import ArrayLike, as64, check_n, gram_linear
from salscope.errors import AnalysisError


# -- geometry of unit Gram matrices ------------------------------------------------------------------
def _centre(k: torch.Tensor, debiased: bool) -> torch.Tensor:
    """``H K H`` (biased) or the U-centred K (debiased; zero diagonal) of a stack ``R×n×n``."""
    n = k.shape[-1]
    if not debiased:
        return k - k.mean(-1, keepdim=True) - k.mean(-2, keepdim=True) + k.mean((-2, -1), keepdim=True)
    eye = torch.eye(n, dtype=torch.bool, device=k.device)
    k = k.masked_fill(eye, 0.0)
    u = (k - k.sum(-1, keepdim=True) / (n - 2) - k.sum(-2, keepdim=True) / (n - 2)
         + k.sum((-2, -1), keepdim=True) / ((n - 1) * (n - 2)))
    return u.masked_fill(eye, 0.0)


def _unit(k: torch.Tensor) -> torch.Tensor:
    norm = torch.sqrt((k * k).sum((-2, -1), keepdim=True))
    return torch.where(norm > 0, k / torch.where(norm > 0, norm, 1.0), torch.nan)


def unit_gram(x: ArrayLike, debiased: bool = True) -> torch.Tensor:
    """Centred linear Gram matrix of features ``x`` (n×p) scaled to unit Frobenius norm.

    ``K̂ = K_c / ‖K_c‖_F`` with ``K_c = H X Xᵀ H`` (biased) or the U-centred
    ``X Xᵀ`` (debiased, Székely & Rizzo 2014), so that ``⟨K̂_x, K̂_y⟩`` is the
    linear CKA of ``x`` and ``y`` with that estimator.
    """
    x = as64(x)
    check_n(x.shape[0], debiased)
    k = _unit(_centre(gram_linear(x)[None], debiased))[0]
    if torch.isnan(k).any():
        raise AnalysisError("CKA undefined: constant features across probe images (zero centred Gram matrix)")
    return k


@dataclass
class GramGeometry:
    """Inner products, changes and distances of unit Gram matrices, per bootstrap replicate.

    ``inner[r, a, b] = ⟨K̂_a, K̂_b⟩`` (= CKA), ``change[r, a, b] = ⟨D_a, D_b⟩``
    with ``D_m = K̂_m − K̂_reference``, ``distance[r, a, b] = ‖K̂_a − K̂_b‖_F``;
    ``r`` runs over replicates (one row for the point estimate). Changes are
    inner products of the difference matrices themselves, so a model with the
    reference's features has a change of exactly 0 (not round-off) and no
    direction (:meth:`align` NaN); distances come from the changes,
    ``‖D_a − D_b‖² = ⟨D_a,D_a⟩ + ⟨D_b,D_b⟩ − 2⟨D_a,D_b⟩`` (round-off ~1e-8).
    """

    names: list[str]
    reference: str
    inner: np.ndarray
    change: np.ndarray
    distance: np.ndarray

    def _i(self, name: str) -> int:
        return self.names.index(name)

    def cka(self, a: str, b: str) -> np.ndarray:
        """``⟨K̂_a, K̂_b⟩`` per replicate."""
        return self.inner[:, self._i(a), self._i(b)]

    def move(self, a: str) -> np.ndarray:
        """``‖K̂_a − K̂_reference‖`` per replicate (0 ≤ move ≤ 2; ``move² = 2 − 2·CKA(a, reference)``)."""
        return np.sqrt(np.clip(self.change[:, self._i(a), self._i(a)], 0, None))

    def dist(self, a: str, b: str) -> np.ndarray:
        """``‖K̂_a − K̂_b‖`` per replicate."""
        return self.distance[:, self._i(a), self._i(b)]

    def align(self, a: str, b: str) -> np.ndarray:
        """``cos(D_a, D_b)`` per replicate; NaN where either model did not move at all."""
        i, j = self._i(a), self._i(b)
        denom = self.change[:, i, i] * self.change[:, j, j]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, self.change[:, i, j] / np.sqrt(np.where(denom > 0, denom, 1.0)), np.nan)


def gram_geometry(grams: Mapping[str, ArrayLike], reference: str, draws: np.ndarray | None = None,
                  debiased: bool = True, chunk: int | None = None) -> GramGeometry:
    """The geometry of the unit Gram matrices of several models, on the probe set or on bootstrap resamples.

    ``grams``: ``{name: n×n linear Gram matrix}`` (:func:`gram_linear`) of the same
    images. ``draws``: ``R × n`` image indices (rows of a bootstrap; None = the
    probe set itself, one replicate). Each replicate resamples rows and columns,
    zeroes (debiased) the entries pairing an image with its own copy as
    :func:`bootstrap_cka` does, centres (``H K H`` or U-centring) and scales to
    unit norm; the inner products then equal :func:`bootstrap_cka`'s replicates.
    Time O(R·S²·n²), memory O(chunk·S·n²) (``chunk`` defaults to ~4·10⁶ / (S·n²)).
    """
    names = list(grams)
    if reference not in names:
        raise AnalysisError(f"reference '{reference}' is not one of the Gram matrices {names}")
    g = {k: as64(v) for k, v in grams.items()}
    n = g[reference].shape[0]
    if any(v.shape != (n, n) for v in g.values()):
        raise AnalysisError(f"Gram matrices must all be {n}×{n} (the same probe images)")
    check_n(n, debiased)
    draws = np.arange(n)[None] if draws is None else np.asarray(draws)
    if draws.ndim != 2 or draws.shape[1] != n or draws.min() < 0 or draws.max() >= n:
        raise AnalysisError(f"draws must be R × {n} image indices in [0, {n}), got shape {draws.shape}")
    r_all, s = draws.shape[0], len(names)
    chunk = chunk or max(1, min(r_all, int(4e6 // (s * n * n))))
    stack = torch.stack([g[k] for k in names])  # S×n×n
    ref = names.index(reference)
    inner, change = np.empty((r_all, s, s)), np.empty((r_all, s, s))
    for start in range(0, r_all, chunk):
        idx = torch.as_tensor(draws[start:start + chunk])
        k = stack[:, idx[:, :, None], idx[:, None, :]].transpose(0, 1)  # R×S×n×n
        if debiased:  # an image paired with its own copy is a diagonal term in disguise (as in bootstrap_cka)
            k = k.masked_fill((idx[:, :, None] == idx[:, None, :])[:, None], 0.0)
        units = _unit(_centre(k, debiased)).flatten(2)  # R×S×n²
        deltas = units - units[:, ref:ref + 1]  # exactly 0 for a model with the reference's features
        sl = slice(start, start + len(idx))
        inner[sl] = torch.bmm(units, units.transpose(1, 2)).numpy()
        change[sl] = torch.bmm(deltas, deltas.transpose(1, 2)).numpy()
    # ‖K̂_a − K̂_b‖² = ‖D_a − D_b‖² from the change inner products (clipped at 0 against round-off)
    diag = np.diagonal(change, axis1=1, axis2=2)
    distance = np.sqrt(np.clip(diag[:, :, None] + diag[:, None, :] - 2 * change, 0, None))
    idx_s = np.arange(s)
    distance[:, idx_s, idx_s] = 0.0
    return GramGeometry(names, reference, inner, change, distance)
