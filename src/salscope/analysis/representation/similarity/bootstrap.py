"""Bootstrap of CKA over probe images (rows and columns of the Gram matrices) and percentile intervals."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from salscope.analysis.representation.similarity.kernels import ArrayLike, as64, check_n, hsic_batched


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
    g = {k: as64(grams[k]) for k in names}
    n = next(iter(g.values())).shape[0]
    check_n(n, debiased)
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
        self_h = {k: hsic_batched(v, v, debiased) for k, v in sub.items()}
        for a, b in pairs:
            kl = hsic_batched(sub[a], sub[b], debiased)
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
