"""What every neuron statistic shares: input checks, and the weighted category means of a region-NSS table.

Every statistic reduces to one kernel, weighted category means
``(W @ S0) / (W @ valid)`` with ``S0`` the table with NaN set to 0 (see the
package docstring, :mod:`salscope.analysis.neurons.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from salscope.errors import AnalysisError

DEFAULT_TOP_K = 10
DEFAULT_THRESHOLD = 1.5
DEFAULT_CHUNK = 64


@dataclass
class Table:
    """One model's table restricted to the used channels and the pooled (scored) regions."""

    s0: np.ndarray          # (n, C') scores, NaN -> 0
    valid: np.ndarray | None  # (n, C') 0/1, or None when every pooled cell is finite


def as_table(scores: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> Table:
    """``scores[rows][:, cols]`` with NaN set to 0 and its finite mask (None when every cell is finite)."""
    s = scores[np.ix_(rows, cols)]
    ok = np.isfinite(s)
    if ok.all():
        return Table(np.ascontiguousarray(s), None)
    return Table(np.where(ok, s, 0.0), ok.astype(np.float64))


def check_scores(region_scores: Any, name: str = "region_scores") -> np.ndarray:
    """``region_scores`` as a float64 ``(R, C)`` table; :class:`AnalysisError` naming ``name`` otherwise."""
    s = np.asarray(region_scores, dtype=np.float64)
    if s.ndim != 2:
        raise AnalysisError(f"{name}: expected an (R regions × C channels) table, got shape {s.shape}")
    return s


def check_len(values: Any, n: int, name: str) -> np.ndarray:
    """``values`` as ``n`` strings, one per region row; :class:`AnalysisError` naming ``name`` otherwise."""
    if values is None:
        raise AnalysisError(f"{name}: give one entry per region row ({n} rows)")
    arr = np.asarray([str(v) for v in values], dtype=object)
    if arr.shape != (n,):
        raise AnalysisError(f"{name}: {arr.shape[0] if arr.ndim == 1 else arr.shape} entries for {n} region rows; "
                            "give one per row of region_scores")
    return arr


def check_categories(categories: Sequence[str]) -> list[str]:
    """The category names, at least one and none twice."""
    cats = [str(c) for c in categories]
    if not cats:
        raise AnalysisError("categories: give at least one category name")
    if len(set(cats)) != len(cats):
        raise AnalysisError(f"categories: names repeat in {cats}; give each category once")
    return cats


def check_positive(value: int, name: str) -> int:
    """``value`` as a whole number ≥ 1."""
    if int(value) != value or value < 1:
        raise AnalysisError(f"{name}={value!r}: use a positive whole number")
    return int(value)


def channel_mask(channels: Any, tables: Sequence[np.ndarray]) -> np.ndarray:
    """``channels`` checked as a ``(C,)`` bool mask, default the columns finite somewhere in every table."""
    n_ch = tables[0].shape[1]
    if channels is None:
        mask = np.ones(n_ch, dtype=bool)
        for t in tables:
            mask &= np.isfinite(t).any(0)
    else:
        mask = np.asarray(channels)
        if mask.dtype != bool or mask.shape != (n_ch,):
            raise AnalysisError(f"channels: expected a bool mask of shape ({n_ch},), got {mask.dtype} {mask.shape}; "
                                "pass e.g. LayerNeurons.fires")
    if not mask.any():
        raise AnalysisError("channels: no channel left to test (all masked out or all NaN)")
    return mask


def category_codes(region_category: np.ndarray, categories: list[str]) -> np.ndarray:
    """Category index of each region, ``K`` for regions of categories not in the list."""
    lookup = {c: i for i, c in enumerate(categories)}
    return np.fromiter((lookup.get(c, len(categories)) for c in region_category), dtype=np.int64,
                       count=len(region_category))


def one_hot(codes: np.ndarray, n_cat: int) -> np.ndarray:
    """``(..., n) -> (..., n_cat, n)`` C-contiguous float one-hot; code ``n_cat`` ("other") gives a zero column."""
    out = np.zeros(codes.shape[:-1] + (n_cat, codes.shape[-1]))
    # one cell per column: the category's row gets 1; an "other" column writes 0 into the last row
    np.put_along_axis(out, np.minimum(codes, n_cat - 1)[..., None, :], (codes < n_cat)[..., None, :].astype(np.float64),
                      axis=-2)
    return out


def safe_ratio(tot: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``tot / den`` where ``den > 0``, NaN elsewhere (no warnings)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, tot / np.where(den > 0, den, 1.0), np.nan)


def weighted_means(weights: np.ndarray, table: Table) -> np.ndarray:
    """``(B, K, n)`` weights → ``(B, K, C)`` weighted means over finite cells (NaN where no weight)."""
    b, k, n = weights.shape
    w2 = weights.reshape(b * k, n)
    tot = w2 @ table.s0
    den = w2.sum(1, keepdims=True) if table.valid is None else w2 @ table.valid
    return safe_ratio(tot, den).reshape(b, k, -1)


@dataclass
class ImageSums:
    """Per (image, category) sums of a table: any image weighting is then one ``(B, I) @ (I, K·C)`` product."""

    tot: np.ndarray   # (I, K*C)
    den: np.ndarray   # (I, K) when every pooled cell is finite, else (I, K*C)
    n_cat: int

    @classmethod
    def build(cls, table: Table, codes: np.ndarray, img: np.ndarray, n_img: int, n_cat: int) -> "ImageSums":
        keep = codes < n_cat                                  # regions of unreported categories add nothing
        group = img[keep] * n_cat + codes[keep]
        tot = np.zeros((n_img * n_cat, table.s0.shape[1]))
        np.add.at(tot, group, table.s0[keep])
        if table.valid is None:
            den = np.bincount(group, minlength=n_img * n_cat).astype(np.float64).reshape(n_img, n_cat)
        else:
            den = np.zeros_like(tot)
            np.add.at(den, group, table.valid[keep])
            den = den.reshape(n_img, -1)
        return cls(tot.reshape(n_img, -1), den, n_cat)

    def means(self, image_weights: np.ndarray) -> np.ndarray:
        """``(B, I)`` image weights → ``(B, K, C)`` weighted category means."""
        b = image_weights.shape[0]
        tot = (image_weights @ self.tot).reshape(b, self.n_cat, -1)
        den = (image_weights @ self.den).reshape(b, self.n_cat, -1)
        return safe_ratio(tot, den)


def top_k_and_count(table: np.ndarray, top_k: int = DEFAULT_TOP_K,
                    threshold: float = DEFAULT_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """Top-k mean and count above ``threshold`` along the last (channel) axis of ``table``.

    ``top_k = mean of the top_k largest finite scores`` (fewer if fewer are
    finite; NaN if none) and ``count = #{finite scores > threshold}``, exactly as
    :func:`salscope.analysis.neurons.region_nss.aggregate_categories` defines them.
    Uses ``np.partition``, so ``O(C)`` per row.
    """
    x = np.where(np.isfinite(table), table, -np.inf)
    n_ch = x.shape[-1]
    k = min(int(top_k), n_ch)
    top = np.partition(x, n_ch - k, axis=-1)[..., n_ch - k:]
    ok = np.isfinite(top)
    n_ok = ok.sum(-1)
    mean = np.where(n_ok > 0, np.where(ok, top, 0.0).sum(-1) / np.maximum(n_ok, 1), np.nan)
    return mean, (x > threshold).sum(-1)


def category_means(region_scores: np.ndarray, region_category: Sequence[str], categories: Sequence[str], *,
                   channels: np.ndarray | None = None) -> np.ndarray:
    """The ``"instance"`` aggregation as one matrix product: ``(K, C)`` mean over each category's scored instances.

    ``A = (Y @ S0) / (Y @ V)`` with ``Y`` the ``K × R`` one-hot labels, ``S0`` the
    table with NaN set to 0 and ``V`` its finite mask. Channels outside
    ``channels`` (default: columns with a finite score) are NaN. Equals
    ``aggregate_categories(..., aggregation="instance").scores`` to rounding.
    """
    inp = check_inputs({"region_scores": region_scores}, region_category, categories, channels=channels)
    means = weighted_means(one_hot(inp.codes(), len(inp.categories))[None], inp.table())[0]
    out = np.full((len(inp.categories), inp.scores[0].shape[1]), np.nan)
    out[:, inp.channels] = means
    return out


def check_level(level: float) -> float:
    """An interval's coverage in (0, 1)."""
    if not 0 < level < 1:
        raise AnalysisError(f"level={level!r}: give the interval's coverage as a fraction, e.g. 0.95")
    return float(level)


def check_alpha(alpha: float) -> float:
    """A test's level in (0, 1)."""
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha={alpha!r}: use a level between 0 and 1, e.g. 0.05")
    return float(alpha)


def image_codes(region_image: np.ndarray) -> tuple[np.ndarray, int]:
    """Image index (0..I-1, sorted by image id) of each region, and ``I``."""
    _, inv = np.unique(region_image, return_inverse=True)
    return inv.astype(np.int64), int(inv.max()) + 1 if inv.size else 0


@dataclass
class Inputs:
    """One statistic's checked inputs: its tables and labels, the channels it uses and the regions it scores."""

    scores: list[np.ndarray]            # (R, C) float64 tables: one, or before and after
    categories: list[str]               # the K categories to report
    region_category: np.ndarray         # (R,) str
    region_image: np.ndarray | None     # (R,) str, None when not given
    channels: np.ndarray                # (C,) bool: the channels used
    cols: np.ndarray                    # their indices
    rows: np.ndarray                    # the scored regions: a finite score in a used channel of any table

    def table(self, k: int = 0) -> Table:
        """Table ``k`` restricted to the scored regions and the used channels."""
        return as_table(self.scores[k], self.rows, self.cols)

    def codes(self) -> np.ndarray:
        """Category index of each scored region (``K`` for a category not reported)."""
        return category_codes(self.region_category[self.rows], self.categories)

    def images(self) -> tuple[np.ndarray, int]:
        """Image index (0..I-1) of each scored region, and ``I``."""
        return image_codes(self.region_image[self.rows])


def check_inputs(tables: Mapping[str, Any], region_category: Sequence[str], categories: Sequence[str], *,
                 channels: Any = None, region_image: Sequence[Any] | None = None,
                 need_image: bool = False) -> Inputs:
    """The checks every statistic starts with; :class:`AnalysisError` naming the argument otherwise.

    ``tables`` maps argument names to ``(R, C)`` region-NSS tables (several must
    have one shape); ``region_category`` (and ``region_image``, when given or
    ``need_image``) give one entry per row; ``categories`` are distinct; the used
    channels are ``channels`` (a bool mask) or the columns with a finite score in
    every table. The scored regions have a finite score in a used channel of
    some table.
    """
    named = {name: check_scores(t, name) for name, t in tables.items()}
    scores = list(named.values())
    if any(t.shape != scores[0].shape for t in scores):
        raise AnalysisError(" and ".join(f"{name} {t.shape}" for name, t in named.items())
                            + " must score the same regions and channels")
    n = scores[0].shape[0]
    cats = check_categories(categories)
    rc = check_len(region_category, n, "region_category")
    ri = check_len(region_image, n, "region_image") if need_image or region_image is not None else None
    mask = channel_mask(channels, scores)
    cols = np.flatnonzero(mask)
    scored = np.zeros(n, dtype=bool)
    for t in scores:
        scored |= np.isfinite(t[:, cols]).any(1)
    return Inputs(scores, cats, rc, ri, mask, cols, np.flatnonzero(scored))
