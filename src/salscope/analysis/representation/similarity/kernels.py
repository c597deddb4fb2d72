"""Feature vectors, Gram matrices, HSIC (biased and debiased) and one-shot CKA.

See the package docstring (:mod:`salscope.analysis.representation.similarity`) for the estimators.
"""

from __future__ import annotations

import numpy as np
import torch

from salscope.errors import AnalysisError

#: Features or Gram matrices: numpy arrays or torch tensors (computed in float64 torch).
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


def as64(x: ArrayLike) -> torch.Tensor:
    """``x`` as a float64 ``n×p`` tensor; :class:`AnalysisError` for any other shape."""
    t = torch.as_tensor(x)
    if t.ndim != 2:
        raise AnalysisError(f"features must be an n×p matrix, got shape {tuple(t.shape)}")
    return t.to(torch.float64)


def check_n(n: int, debiased: bool, what: str = "probe set") -> None:
    """:class:`AnalysisError` unless ``n`` images suffice for the estimator (debiased: ≥ 4; biased: ≥ 2)."""
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
    x = as64(x)
    if center:
        x = x - x.mean(0, keepdim=True)
    return x @ x.T


def gram_rbf(x: ArrayLike, threshold: float = 1.0) -> torch.Tensor:
    """RBF Gram matrix ``K_ij = exp(−‖x_i − x_j‖² / (2σ²))``, σ = ``threshold`` × median distance.

    Kornblith et al. (2019) use ``threshold`` 0.2–2 (×median); σ is taken over
    the off-diagonal pairwise distances.
    """
    x = as64(x)
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
    k, l = as64(k), as64(l)
    n = k.shape[0]
    if k.shape != (n, n) or l.shape != (n, n):
        raise AnalysisError(f"Gram matrices must be square and equal in size, got {tuple(k.shape)} and {tuple(l.shape)}")
    check_n(n, debiased)
    return float(hsic_batched(k[None], l[None], debiased)[0])


def hsic_batched(k: torch.Tensor, l: torch.Tensor, debiased: bool) -> torch.Tensor:
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
    return cka_ratio(kl, kk, ll)


def cka_ratio(kl: float, kk: float, ll: float) -> float:
    """``HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L))``; :class:`AnalysisError` where a self-HSIC is not positive."""
    denom = kk * ll
    if not denom > 0:
        raise AnalysisError(
            "CKA undefined: a representation has zero (or, debiased, non-positive) self-similarity — "
            "constant features across probe images (e.g. a dead layer) or too few images"
        )
    return float(kl / np.sqrt(denom))


def linear_cka(x: ArrayLike, y: ArrayLike, debiased: bool = False) -> float:
    """Linear CKA of features ``x`` (n×p) and ``y`` (n×q) of the same n images (one shot)."""
    x, y = as64(x), as64(y)
    if x.shape[0] != y.shape[0]:
        raise AnalysisError(f"x and y must describe the same images: {x.shape[0]} vs {y.shape[0]} rows")
    return cka(gram_linear(x), gram_linear(y), debiased)


def rbf_cka(x: ArrayLike, y: ArrayLike, threshold: float = 1.0, debiased: bool = False) -> float:
    """RBF-kernel CKA (σ = ``threshold`` × median pairwise distance, per representation)."""
    x, y = as64(x), as64(y)
    if x.shape[0] != y.shape[0]:
        raise AnalysisError(f"x and y must describe the same images: {x.shape[0]} vs {y.shape[0]} rows")
    return cka(gram_rbf(x, threshold), gram_rbf(y, threshold), debiased)
