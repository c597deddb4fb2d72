"""Centred kernel alignment (CKA) between layer representations, in one shot or streamed.

CKA compares two representations ``X`` (n×p) and ``Y`` (n×q) of the same n
probe images through their Gram matrices ``K = X Xᵀ``, ``L = Y Yᵀ``::

    CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L))

with two HSIC estimators:

* biased (Gretton et al. 2005): ``HSIC_b = tr(K H L H) / (n − 1)²``,
  ``H = I − 11ᵀ/n``. For the linear kernel ``tr(KHLH) = ‖X̃ᵀỸ‖²_F`` with
  column-centred X̃, Ỹ.
* debiased (Song et al. 2012, used by Nguyen et al. 2021)::

      HSIC_u = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))

  where K̃, L̃ are K, L with zeroed diagonals; needs n ≥ 4. It removes the
  positive bias that biased CKA has when the feature dimension is large
  compared with n (biased CKA of independent random features is far from 0).

Layer activations ``B×C×h×w`` become vectors in one of two documented ways
(:func:`feature_vectors`): ``"pool"`` — the spatial mean per channel (C values;
invariant to where things are, what Network-Dissection-style channel analyses
look at) — or ``"flatten"`` — all C·h·w values (sensitive to spatial layout;
Kornblith et al.'s default for conv layers).

Streaming, so any number of probe images fits in memory:

* :class:`StreamingLinearCKA` — exact. For the linear kernel every term of both
  estimators is a function of feature-space sums that add over images:
  ``n, Σx, XᵀY, Σ‖x_i‖², Σ‖x_i‖²‖y_i‖², Σ‖x_i‖² y_i`` …; e.g.
  ``1ᵀK̃L̃1 = Sxᵀ(XᵀY)Sy − (Σa_i y_i)·Sy − (Σb_i x_i)·Sx + Σa_i b_i`` with
  ``a_i = ‖x_i‖², b_i = ‖y_i‖², Sx = Σx_i``. The result equals the one-shot
  value to round-off for any batching. Memory O((Σp)²): meant for pooled
  vectors (p ≤ a few thousand).
* :class:`MinibatchCKA` — for flattened activations (p up to 10⁵–10⁶): the
  debiased HSIC is computed on each minibatch's Gram matrices and averaged,
  ``CKA = mean_b HSIC_u(K_b, L_b) / sqrt(mean_b HSIC_u(K_b,K_b) · mean_b HSIC_u(L_b,L_b))``
  (Nguyen et al. 2021, §3.1). Memory O(batch²); it is an unbiased estimator of
  the same population quantity, not the full-data value; each batch needs ≥ 4 images.
  It keeps each batch's Gram matrices, so :meth:`MinibatchCKA.bootstrap`
  resamples *images* (within their batches), not the handful of batch values.

Geometry (:func:`gram_geometry`): scale each centred Gram matrix to unit
Frobenius norm, ``K̂ = K_c / ‖K_c‖``; then ``CKA(a, b) = ⟨K̂_a, K̂_b⟩``. Biased:
``K_c = H K H``; debiased: ``K_c`` = the U-centred K (Székely & Rizzo 2014:
``K̃_ij − row_i/(n−2) − col_j/(n−2) + sum/((n−1)(n−2))`` off the diagonal, 0 on
it), for which ``⟨Ũ(K), Ũ(L)⟩ / (n(n−3))`` *is* Song et al.'s unbiased HSIC, so
the inner product is exactly the debiased CKA. Changes from a reference,
``D_m = K̂_m − K̂_ref``, are vectors in that space: their lengths say how far a
model moved and ``cos(D_a, D_b)`` whether two models moved the same way.

References
----------
S. Kornblith, M. Norouzi, H. Lee, G. Hinton. Similarity of Neural Network
Representations Revisited. ICML 2019 (linear and RBF CKA, RBF bandwidth =
fraction of the median distance).
L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. Feature Selection via
Dependence Maximization. JMLR 13, 2012 (unbiased HSIC).
T. Nguyen, M. Raghu, S. Kornblith. Do Wide and Deep Networks Learn the Same
Things? ICLR 2021 (minibatch CKA).
G. J. Székely, M. L. Rizzo. Partial distance correlation with methods for
dissimilarities. Ann. Statist. 42(6), 2014 (U-centred matrices, §2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from salscope.errors import AnalysisError

ArrayLike = np.ndarray | torch.Tensor


# -- feature vectors -------------------------------------------------------------------------------
def feature_vectors(activation: ArrayLike, reduce: str = "pool") -> torch.Tensor:
    """Layer activation ``B×C×h×w`` (or ``B×p``) → float64 matrix ``B×p``.

    ``reduce="pool"``: spatial mean per channel (p = C). ``"flatten"``: all
    values (p = C·h·w).
    """
    t = torch.as_tensor(activation)
    if t.ndim == 2:
        return t.to(torch.float64)
    if t.ndim != 4:
        raise AnalysisError(f"activations must be B×C×h×w or B×p, got shape {tuple(t.shape)}")
    if reduce == "pool":
        return t.to(torch.float64).mean(dim=(2, 3))
    if reduce == "flatten":
        return t.reshape(t.shape[0], -1).to(torch.float64)
    raise AnalysisError(f"reduce={reduce!r} not understood; use 'pool' (spatial mean) or 'flatten'")


def _as64(x: ArrayLike) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.ndim != 2:
        raise AnalysisError(f"features must be an n×p matrix, got shape {tuple(t.shape)}")
    return t.to(torch.float64)


def _check_n(n: int, debiased: bool, what: str = "probe set") -> None:
    if debiased and n <= 3:
        raise AnalysisError(
            f"the debiased HSIC estimator needs at least 4 images per {what}, got n={n}; "
            "use more probe images (or a larger batch size), or debiased=False"
        )
    if n < 2:
        raise AnalysisError(f"CKA needs at least 2 images per {what}, got n={n}")


# -- Gram matrices and HSIC -----------------------------------------------------------------------
def gram_linear(x: ArrayLike, center: bool = True) -> torch.Tensor:
    """Linear-kernel Gram matrix ``K = X̃ X̃ᵀ`` (float64), X̃ = X with column means removed.

    Both HSIC estimators are invariant to translating the features, so centring
    changes no result; it avoids the cancellation that large feature means
    (deep ReLU layers) cause in the debiased estimator.
    """
    x = _as64(x)
    if center:
        x = x - x.mean(0, keepdim=True)
    return x @ x.T


def gram_rbf(x: ArrayLike, threshold: float = 1.0) -> torch.Tensor:
    """RBF Gram matrix ``K_ij = exp(−‖x_i − x_j‖² / (2σ²))``, σ = ``threshold`` × median distance.

    Kornblith et al. (2019) use ``threshold`` 0.2–2 (×median); σ is taken over
    the off-diagonal pairwise distances.
    """
    x = _as64(x)
    sq = (x * x).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp_min(0)
    n = d2.shape[0]
    off = d2[~torch.eye(n, dtype=torch.bool)]
    med = torch.sqrt(off.median()) if off.numel() else torch.tensor(0.0, dtype=torch.float64)
    if not float(med) > 0:
        raise AnalysisError("RBF CKA: all probe vectors are identical (median distance 0); the kernel is undefined")
    sigma = threshold * med
    return torch.exp(-d2 / (2 * sigma**2))


def hsic(k: ArrayLike, l: ArrayLike, debiased: bool = False) -> float:
    """HSIC of two n×n Gram matrices (biased ``tr(KHLH)/(n−1)²`` or Song et al.'s unbiased form)."""
    k, l = _as64(k), _as64(l)
    n = k.shape[0]
    if k.shape != (n, n) or l.shape != (n, n):
        raise AnalysisError(f"Gram matrices must be square and equal in size, got {tuple(k.shape)} and {tuple(l.shape)}")
    _check_n(n, debiased)
    return float(_hsic_batched(k[None], l[None], debiased)[0])


def _hsic_batched(k: torch.Tensor, l: torch.Tensor, debiased: bool) -> torch.Tensor:
    """HSIC for stacks of Gram matrices ``R×n×n`` (vectorised over R)."""
    n = k.shape[-1]
    if not debiased:
        kc = k - k.mean(-1, keepdim=True) - k.mean(-2, keepdim=True) + k.mean((-2, -1), keepdim=True)
        return (kc * l).sum((-2, -1)) / (n - 1) ** 2
    eye = torch.eye(n, dtype=torch.bool, device=k.device)
    kt = k.masked_fill(eye, 0.0)
    lt = l.masked_fill(eye, 0.0)
    k1 = kt.sum(-1)
    l1 = lt.sum(-1)
    term = (kt * lt).sum((-2, -1))
    term = term + k1.sum(-1) * l1.sum(-1) / ((n - 1) * (n - 2))
    term = term - 2.0 / (n - 2) * (k1 * l1).sum(-1)
    return term / (n * (n - 3))


def cka(k: ArrayLike, l: ArrayLike, debiased: bool = False) -> float:
    """CKA of two Gram matrices: ``HSIC(K, L) / sqrt(HSIC(K, K)·HSIC(L, L))``."""
    kl = hsic(k, l, debiased)
    kk = hsic(k, k, debiased)
    ll = hsic(l, l, debiased)
    return _ratio(kl, kk, ll)


def _ratio(kl: float, kk: float, ll: float) -> float:
    denom = kk * ll
    if not denom > 0:
        raise AnalysisError(
            "CKA undefined: a representation has zero (or, debiased, non-positive) self-similarity — "
            "constant features across probe images (e.g. a dead layer) or too few images"
        )
    return float(kl / np.sqrt(denom))


def linear_cka(x: ArrayLike, y: ArrayLike, debiased: bool = False) -> float:
    """Linear CKA of features ``x`` (n×p) and ``y`` (n×q) of the same n images (one shot)."""
    x, y = _as64(x), _as64(y)
    if x.shape[0] != y.shape[0]:
        raise AnalysisError(f"x and y must describe the same images: {x.shape[0]} vs {y.shape[0]} rows")
    return cka(gram_linear(x), gram_linear(y), debiased)


def rbf_cka(x: ArrayLike, y: ArrayLike, threshold: float = 1.0, debiased: bool = False) -> float:
    """RBF-kernel CKA (σ = ``threshold`` × median pairwise distance, per representation)."""
    x, y = _as64(x), _as64(y)
    if x.shape[0] != y.shape[0]:
        raise AnalysisError(f"x and y must describe the same images: {x.shape[0]} vs {y.shape[0]} rows")
    return cka(gram_rbf(x, threshold), gram_rbf(y, threshold), debiased)


# -- exact streaming linear CKA --------------------------------------------------------------------
class StreamingLinearCKA:
    """Exact linear CKA between every pair of named feature sets, fed batch by batch.

    ``update({"vgg/conv5_3": X_b, "ft/conv5_3": Y_b, ...})`` adds a batch (same
    images, in the same order, for every set); :meth:`cka` and :meth:`matrix`
    give biased or debiased CKA from the accumulated sums (see the module
    docstring). All sets are concatenated into one vector Z per image; the state
    is ``ZᵀZ`` (D×D, D = Σp), ``Σz``, and per set ``a_s = ‖z_s‖²`` sums:
    ``Σa_s``, ``Σa_s a_t``, ``Σa_s z``. float64 throughout; Z is shifted by the
    first batch's mean (both estimators are translation invariant) so that
    features with large means do not lose the debiased terms to cancellation.
    """

    def __init__(self, dims: Mapping[str, int], device: torch.device | str | None = None) -> None:
        if not dims:
            raise AnalysisError("StreamingLinearCKA needs at least one feature set")
        self.names = list(dims)
        self.dims = {k: int(v) for k, v in dims.items()}
        offsets = np.cumsum([0, *self.dims.values()])
        self._slices = {name: slice(int(offsets[i]), int(offsets[i + 1])) for i, name in enumerate(self.names)}
        d, s = int(offsets[-1]), len(self.names)
        kw = {"dtype": torch.float64, "device": device}
        self.n = 0
        self.shift: torch.Tensor | None = None  # first batch's mean: translation-invariant, keeps sums well conditioned
        self.zz = torch.zeros(d, d, **kw)
        self.z_sum = torch.zeros(d, **kw)
        self.a_sum = torch.zeros(s, **kw)
        self.aa = torch.zeros(s, s, **kw)
        self.az = torch.zeros(s, d, **kw)

    def update(self, batch: Mapping[str, ArrayLike]) -> None:
        """Add one batch: ``{set name: B×p features}`` (B×C×h×w is pooled by :func:`feature_vectors` first)."""
        missing = [k for k in self.names if k not in batch]
        extra = [k for k in batch if k not in self.dims]
        if missing or extra:
            raise AnalysisError(f"batch feature sets do not match: missing {missing}, unexpected {extra}")
        parts = []
        for name in self.names:
            v = feature_vectors(batch[name]).to(self.zz.device)
            if v.shape[1] != self.dims[name]:
                raise AnalysisError(f"feature set '{name}' has {v.shape[1]} values per image, expected {self.dims[name]}")
            parts.append(v)
        rows = {p.shape[0] for p in parts}
        if len(rows) != 1:
            raise AnalysisError(f"feature sets of one batch describe different numbers of images: {sorted(rows)}")
        z = torch.cat(parts, dim=1)
        if self.shift is None:
            self.shift = z.mean(0)
        z = z - self.shift
        parts = [z[:, self._slices[name]] for name in self.names]
        a = torch.stack([(p * p).sum(1) for p in parts], dim=1)  # B×S
        self.n += z.shape[0]
        self.zz += z.T @ z
        self.z_sum += z.sum(0)
        self.a_sum += a.sum(0)
        self.aa += a.T @ a
        self.az += a.T @ z

    def hsic(self, x: str, y: str, debiased: bool = False) -> float:
        """HSIC between feature sets ``x`` and ``y`` from the running sums."""
        _check_n(self.n, debiased)
        i, j = self.names.index(x), self.names.index(y)
        sx, sy = self._slices[x], self._slices[y]
        c = self.zz[sx, sy]
        zx, zy = self.z_sum[sx], self.z_sum[sy]
        n = self.n
        if not debiased:
            cc = c - torch.outer(zx, zy) / n
            return float((cc * cc).sum() / (n - 1) ** 2)
        tr_kl = (c * c).sum() - self.aa[i, j]
        k1 = zx @ zx - self.a_sum[i]
        l1 = zy @ zy - self.a_sum[j]
        kl1 = zx @ c @ zy - self.az[i, sy] @ zy - self.az[j, sx] @ zx + self.aa[i, j]
        value = tr_kl + k1 * l1 / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * kl1
        return float(value / (n * (n - 3)))

    def cka(self, x: str, y: str, debiased: bool = False) -> float:
        """Linear CKA between feature sets ``x`` and ``y``."""
        return _ratio(self.hsic(x, y, debiased), self.hsic(x, x, debiased), self.hsic(y, y, debiased))

    def matrix(self, rows: Sequence[str], cols: Sequence[str], debiased: bool = False) -> np.ndarray:
        """CKA for every (row set, column set) pair, as a ``len(rows)×len(cols)`` array."""
        self_h = {name: self.hsic(name, name, debiased) for name in {*rows, *cols}}
        out = np.empty((len(rows), len(cols)))
        for r, a in enumerate(rows):
            for c, b in enumerate(cols):
                out[r, c] = _ratio(self.hsic(a, b, debiased), self_h[a], self_h[b])
        return out


# -- minibatch CKA for large (flattened) features ------------------------------------------------------
class MinibatchCKA:
    """Nguyen et al.'s minibatch CKA: debiased HSIC per batch, averaged over batches.

    Keeps, per batch, the HSIC of every pair of named sets (``hsic_values``:
    batches × S × S) and the batch's Gram matrices (S × B × B, small: the
    features themselves are not kept), so :meth:`bootstrap` can resample
    images. Each batch must hold ≥ 4 images.
    """

    def __init__(self, names: Sequence[str]) -> None:
        if not names:
            raise AnalysisError("MinibatchCKA needs at least one feature set")
        self.names = list(names)
        self._values: list[np.ndarray] = []
        self._grams: list[torch.Tensor] = []
        self.n = 0

    def update(self, batch: Mapping[str, ArrayLike]) -> None:
        """Add one batch ``{set name: B×p (or B×C×h×w, flattened) features}``."""
        missing = [k for k in self.names if k not in batch]
        if missing:
            raise AnalysisError(f"batch lacks feature sets {missing}")
        grams = [gram_linear(feature_vectors(batch[k], "flatten")) for k in self.names]
        b = grams[0].shape[0]
        if any(g.shape[0] != b for g in grams):
            raise AnalysisError("feature sets of one batch describe different numbers of images")
        _check_n(b, True, what="minibatch")
        g = torch.stack(grams)  # S×B×B
        s = len(self.names)
        ii, jj = torch.triu_indices(s, s)
        h = _hsic_batched(g[ii], g[jj], debiased=True).cpu()
        mat = torch.zeros(s, s, dtype=torch.float64)
        mat[ii, jj] = h
        mat[jj, ii] = h
        self._values.append(mat.numpy())
        self._grams.append(g.cpu())
        self.n += b

    @property
    def batch_sizes(self) -> list[int]:
        """Images per batch, in the order they were added."""
        return [int(g.shape[-1]) for g in self._grams]

    def resample(self, n_boot: int, seed: int = 0) -> np.ndarray:
        """Bootstrap draws of *images*: ``n_boot × n`` global image indices, each batch resampled within itself.

        Image ``i`` of the probe set is row ``i`` in the order the batches were
        added; batch ``b``'s slots are filled with draws (with replacement) from
        batch ``b``'s own images (a stratified bootstrap: the estimator only sees
        within-batch pairs, so a resample must keep images in their batch).
        """
        if not self._grams:
            raise AnalysisError("no batch added yet")
        rng = np.random.default_rng(seed)
        edges = np.cumsum([0, *self.batch_sizes])
        return np.concatenate([edges[b] + rng.integers(0, edges[b + 1] - edges[b], size=(n_boot, edges[b + 1] - edges[b]))
                               for b in range(len(self._grams))], axis=1)

    def bootstrap(self, pairs: Sequence[tuple[str, str]], n_boot: int = 1000, seed: int = 0,
                  draws: np.ndarray | None = None, chunk: int = 64) -> dict[tuple[str, str], np.ndarray]:
        """Bootstrap replicates of minibatch CKA over images: ``{pair: n_boot values}``.

        ``draws`` (default :meth:`resample` ``(n_boot, seed)``) gives, per
        replicate, the n image indices; each batch's HSIC is recomputed on its
        resampled Gram matrices (entries pairing an image with its own copy
        zeroed like the diagonal, as in :func:`bootstrap_cka`), then averaged
        over batches. A replicate whose self-HSIC is not positive is NaN.
        """
        draws = self.resample(n_boot, seed) if draws is None else np.asarray(draws)
        if draws.ndim != 2 or draws.shape[1] != self.n:
            raise AnalysisError(f"draws must be n_boot × {self.n} image indices, got shape {draws.shape}")
        used = sorted({self.names.index(a) for pair in pairs for a in pair})
        pos = {self.names[i]: k for k, i in enumerate(used)}
        wanted = sorted({(pos[a], pos[b]) for a, b in pairs} | {(k, k) for k in range(len(used))})
        sums = {w: np.zeros(draws.shape[0]) for w in wanted}
        start = 0
        for g in self._grams:
            b = g.shape[-1]
            local = draws[:, start:start + b] - start
            if local.min() < 0 or local.max() >= b:
                raise AnalysisError("draws must keep each image in its own minibatch; use MinibatchCKA.resample")
            g = g[used]
            for r0 in range(0, draws.shape[0], chunk):
                idx = torch.as_tensor(local[r0:r0 + chunk])
                sub = g[:, idx[:, :, None], idx[:, None, :]]  # S×R×B×B
                sub = sub.masked_fill(idx[:, :, None] == idx[:, None, :], 0.0)
                for i, j in wanted:
                    sums[(i, j)][r0:r0 + len(idx)] += _hsic_batched(sub[i], sub[j], debiased=True).numpy()
            start += b
        out = {}
        for a, b in pairs:
            i, j = pos[a], pos[b]
            denom = sums[(i, i)] * sums[(j, j)]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[(a, b)] = np.where(denom > 0, sums[(min(i, j), max(i, j))] / np.sqrt(np.where(denom > 0, denom, 1.0)), np.nan)
        return out

    @property
    def hsic_values(self) -> np.ndarray:
        """Per-batch HSIC matrices, ``batches × S × S``."""
        if not self._values:
            raise AnalysisError("no batch added yet")
        return np.stack(self._values)

    def matrix(self, rows: Sequence[str], cols: Sequence[str], batches: np.ndarray | None = None) -> np.ndarray:
        """CKA for every (row, column) pair from the mean HSIC over ``batches`` (all by default)."""
        h = self.hsic_values if batches is None else self.hsic_values[batches]
        mean = h.mean(0)
        r = [self.names.index(a) for a in rows]
        c = [self.names.index(b) for b in cols]
        denom = np.sqrt(np.clip(np.outer(np.diag(mean)[r], np.diag(mean)[c]), 0, None))
        if not (denom > 0).all():
            raise AnalysisError("CKA undefined: a feature set has non-positive self-HSIC (constant features or too few images)")
        return mean[np.ix_(r, c)] / denom

    def cka(self, x: str, y: str) -> float:
        """Minibatch CKA between feature sets ``x`` and ``y``."""
        return float(self.matrix([x], [y])[0, 0])


def minibatch_cka(x: ArrayLike, y: ArrayLike, batch_size: int) -> float:
    """One-shot minibatch CKA of ``x``, ``y`` split into consecutive batches of ``batch_size``."""
    x, y = _as64(x), _as64(y)
    acc = MinibatchCKA(["x", "y"])
    for start in range(0, x.shape[0], batch_size):
        acc.update({"x": x[start:start + batch_size], "y": y[start:start + batch_size]})
    return acc.cka("x", "y")


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
    x = _as64(x)
    _check_n(x.shape[0], debiased)
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
    g = {k: _as64(v) for k, v in grams.items()}
    n = g[reference].shape[0]
    if any(v.shape != (n, n) for v in g.values()):
        raise AnalysisError(f"Gram matrices must all be {n}×{n} (the same probe images)")
    _check_n(n, debiased)
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


# -- bootstrap ------------------------------------------------------------------------------------
def bootstrap_cka(grams: Mapping[str, ArrayLike], pairs: Sequence[tuple[str, str]], n_boot: int = 1000,
                  debiased: bool = True, seed: int = 0, chunk: int = 16) -> dict[tuple[str, str], np.ndarray]:
    """Bootstrap replicates of CKA over probe images: resample rows/columns of the Gram matrices.

    Each replicate draws n image indices with replacement (``np.random.default_rng(seed)``;
    the same draws for every pair, so differences between pairs are paired) and
    recomputes CKA on ``K[idx][:, idx]``. Returns ``{pair: n_boot values}``.
    With the debiased estimator, the entries pairing a drawn image with a copy of
    itself are zeroed like the diagonal (otherwise the ~37 % duplicates of a
    bootstrap sample inflate HSIC and shift the whole bootstrap distribution).
    """
    names = sorted({a for pair in pairs for a in pair})
    g = {k: _as64(grams[k]) for k in names}
    n = next(iter(g.values())).shape[0]
    _check_n(n, debiased)
    rng = np.random.default_rng(seed)
    draws = torch.as_tensor(rng.integers(0, n, size=(n_boot, n)))
    out = {pair: np.empty(n_boot) for pair in pairs}
    for start in range(0, n_boot, chunk):
        idx = draws[start:start + chunk]
        sub = {k: v[idx[:, :, None], idx[:, None, :]] for k, v in g.items()}  # R×n×n
        if debiased:
            # A drawn image paired with its own copy is a diagonal term in disguise: the debiased
            # estimator must not see k(x, x) off the diagonal, or HSIC is inflated by the duplicates.
            same = idx[:, :, None] == idx[:, None, :]
            sub = {k: v.masked_fill(same, 0.0) for k, v in sub.items()}
        self_h = {k: _hsic_batched(v, v, debiased) for k, v in sub.items()}
        for a, b in pairs:
            kl = _hsic_batched(sub[a], sub[b], debiased)
            denom = self_h[a] * self_h[b]
            out[(a, b)][start:start + len(idx)] = (kl / torch.sqrt(denom.clamp_min(1e-300))).numpy()
    return out


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval ``(q_{(1−level)/2}, q_{(1+level)/2})``; None if any replicate is NaN.

    A NaN replicate means the statistic is undefined on that resample (e.g. the
    alignment of a model that did not move); no interval is better than one
    computed from the resamples where it happened to be defined.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.isnan(values).any():
        return None
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
