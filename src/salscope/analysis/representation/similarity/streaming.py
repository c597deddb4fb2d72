"""CKA fed batch by batch: exact streaming linear CKA and Nguyen et al.'s minibatch CKA (with an image bootstrap)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from salscope.analysis.representation.similarity.kernels import (
    ArrayLike,
    as64,
    check_n,
    cka_ratio,
    feature_vectors,
    gram_linear,
    hsic_batched,
)
from salscope.errors import AnalysisError


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
        check_n(self.n, debiased)
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
        return cka_ratio(self.hsic(x, y, debiased), self.hsic(x, x, debiased), self.hsic(y, y, debiased))

    def matrix(self, rows: Sequence[str], cols: Sequence[str], debiased: bool = False) -> np.ndarray:
        """CKA for every (row set, column set) pair, as a ``len(rows)×len(cols)`` array."""
        self_h = {name: self.hsic(name, name, debiased) for name in {*rows, *cols}}
        out = np.empty((len(rows), len(cols)))
        for r, a in enumerate(rows):
            for c, b in enumerate(cols):
                out[r, c] = cka_ratio(self.hsic(a, b, debiased), self_h[a], self_h[b])
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
        check_n(b, True, what="minibatch")
        g = torch.stack(grams)  # S×B×B
        s = len(self.names)
        ii, jj = torch.triu_indices(s, s)
        h = hsic_batched(g[ii], g[jj], debiased=True).cpu()
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
                    sums[(i, j)][r0:r0 + len(idx)] += hsic_batched(sub[i], sub[j], debiased=True).numpy()
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
    x, y = as64(x), as64(y)
    acc = MinibatchCKA(["x", "y"])
    for start in range(0, x.shape[0], batch_size):
        acc.update({"x": x[start:start + batch_size], "y": y[start:start + batch_size]})
    return acc.cka("x", "y")
