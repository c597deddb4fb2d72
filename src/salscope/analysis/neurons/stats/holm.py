"""Holm's step-down adjustment: family-wise error over categories or channels (Holm 1979)."""

from __future__ import annotations

from typing import Any

import numpy as np

from salscope.analysis.neurons.stats._tables import check_alpha
from salscope.errors import AnalysisError


def holm(pvalues: Any, axis: int = -1) -> np.ndarray:
    """Holm's step-down adjusted p-values along ``axis`` (NaN entries ignored and kept NaN).

    With the ``m`` finite p-values sorted, ``p_(1) <= ... <= p_(m)``::

        adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))

    Rejecting ``adj < alpha`` controls the family-wise error rate at ``alpha``
    under any dependence between the tests.

    References
    ----------
    Holm, S. "A Simple Sequentially Rejective Multiple Test Procedure",
    Scandinavian Journal of Statistics 6 (1979) 65–70.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim == 0:
        raise AnalysisError("holm: give an array of p-values, not a single number")
    fin = np.isfinite(p)
    if np.any((p[fin] < 0) | (p[fin] > 1)) or np.isinf(p).any():
        raise AnalysisError("holm: p-values must lie in [0, 1] (NaN for tests not made)")
    p = np.moveaxis(p, axis, -1)
    m = np.isfinite(p).sum(-1, keepdims=True)
    order = np.argsort(np.where(np.isfinite(p), p, np.inf), axis=-1, kind="stable")
    ps = np.take_along_axis(p, order, -1)
    rank = np.arange(p.shape[-1])
    scaled = np.where(rank < m, ps * (m - rank), -np.inf)  # NaNs sort last, so rank >= m there
    adj = np.minimum(np.maximum.accumulate(scaled, axis=-1), 1.0)
    out = np.empty_like(p)
    np.put_along_axis(out, order, adj, -1)
    out[~np.isfinite(p)] = np.nan
    return np.moveaxis(out, -1, axis)


def holm_reject(pvalues: Any, alpha: float = 0.05, axis: int = -1) -> np.ndarray:
    """Bool array: which hypotheses Holm's procedure rejects at family-wise level ``alpha`` (NaN: never).

    References
    ----------
    Holm, S. (1979), see :func:`holm`.
    """
    alpha = check_alpha(alpha)
    adj = holm(pvalues, axis=axis)
    return np.where(np.isfinite(adj), adj, np.inf) <= alpha
