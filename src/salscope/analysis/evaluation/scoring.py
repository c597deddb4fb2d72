"""Scoring one image: the per-image job the evaluation runs (in this process or in workers), gold maps, sAUC negatives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from salscope import metrics as M
from salscope.analysis.evaluation.gold import gaussian_density, mit_gold
from salscope.analysis.evaluation.sources import InterObserver
from salscope.errors import MetricError
from salscope.metrics.catalogue import (
    FIXATION_METRICS,
)
from salscope.metrics.suite import SUITE_METRICS, GoldStats, MapStats, tuebingen_suite
from salscope.models.base import log_density_from_map

EMD_DOWNSIZE = 32
_UNIFORM_MIX = 1e-3


#: Conversions of a saliency map to a density that ``evaluate(map_density=...)`` accepts for information gain.
MAP_DENSITIES = ("normalize",)


@dataclass
class _Context:
    metrics: tuple[str, ...]
    convention: str
    seed: int
    gold_sigma_px: float
    map_density: str | None = None

    def rng(self, index: int) -> np.random.Generator:
        """A fresh generator on image ``index``'s own stream (see :func:`salscope.metrics.image_rng`)."""
        return M.image_rng(self.seed, index)

    def density_of(self, smap: np.ndarray, log_density: Any) -> Any:
        """The lazy log-density to score: the model's own, else the stated map conversion, else None."""
        if log_density is not None or self.map_density is None:
            return log_density
        return lambda: log_density_from_map(smap)


def _score(
    ctx: _Context,
    smap: np.ndarray,
    log_density: Any,
    xs: np.ndarray,
    ys: np.ndarray,
    shape: tuple[int, int],
    gold: Any,
    other: Any,
    baseline: Any,
    negatives: Any = None,
    map_stats: Any = None,
    index: int = 0,
) -> dict[str, np.ndarray]:
    """Values of each metric for one prediction: per fixation (array) or one per image (1-element).

    ``gold`` returns the image's :class:`~salscope.metrics.suite.GoldStats`;
    ``other`` returns the other images' fixations ``(xs, ys)`` on this grid and
    ``negatives`` their flat indices as ``(all_flat, own_flat)`` (both lazy).
    Under ``"tuebingen"`` with the map on the fixation grid, the metrics of
    :func:`salscope.metrics.suite.tuebingen_suite` share one set of rank counts
    and map statistics (same values as the single metrics); everything else calls
    the single metric functions. ``map_stats`` (smap -> MapStats) may hand back
    the statistics of an equal map scored before. ``log_density`` is None for
    a model without a density (IG is then NaN under ``"tuebingen"``); the
    random MIT metrics draw from image ``index``'s own stream.
    """
    conv, out = ctx.convention, {}
    per_fix = conv == "tuebingen"
    fast = [m for m in ctx.metrics if m in SUITE_METRICS] if per_fix and smap.shape == tuple(shape) else []
    if fast:
        rows, cols = M._common.fixation_pixels(xs, ys, shape)
        stats = map_stats(smap) if map_stats is not None else smap
        out.update(tuebingen_suite(stats, rows, cols, fast, gold=gold, negatives=negatives() if "sauc" in fast else None))
    # one sort of the map serves AUC and AUC-Judd (on the fixation grid: mit may resize)
    sorted_map = None
    rest = [m for m in ctx.metrics if m not in fast]
    if smap.shape == tuple(shape) and ("auc" in rest or "auc_judd" in rest):
        sorted_map = np.sort(smap.ravel())
    for name in rest:
        if name == "auc":
            v = M.auc(smap, xs, ys, convention=conv, shape=shape, per_fixation=True, sorted_map=sorted_map)
        elif name == "sauc":
            oxs, oys = other()
            v = M.shuffled_auc(smap, xs, ys, oxs, oys, convention=conv, shape=shape, per_fixation=per_fix, seed=ctx.rng(index))
        elif name == "auc_judd":
            v = M.auc_judd(smap, xs, ys, convention=conv, shape=shape, sorted_map=sorted_map)
        elif name == "auc_borji":
            v = M.auc_borji(smap, xs, ys, convention=conv, shape=shape, seed=ctx.rng(index))
        elif name == "nss":
            v = M.nss(smap, xs, ys, convention=conv, shape=shape, per_fixation=True)
        elif name == "ig":
            if conv == "mit":
                # InfoGain.m converts both maps itself (min-max, divide by the sum): a stated conversion
                v = M.information_gain(smap, baseline()[0], xs, ys, convention=conv, shape=shape, per_fixation=True)
            elif log_density is None:
                v = np.array([np.nan])  # a plain saliency map: no density to score (EvaluationResult.notes)
            else:
                v = M.information_gain(log_density(), baseline()[1], xs, ys, convention=conv, shape=shape, per_fixation=True)
        elif name == "cc":
            v = M.cc(smap, gold().gold, convention=conv)
        elif name == "kld":
            v = M.kld(smap, gold().gold, convention=conv)
        elif name == "sim":
            v = M.sim(smap, gold().gold, convention=conv)
        elif name == "emd":
            v = M.emd(smap, gold().gold, convention=conv, downsize=EMD_DOWNSIZE)
        else:  # pragma: no cover - checked in evaluate()
            raise MetricError(f"unknown metric {name!r}")
        out[name] = v
    return {name: np.atleast_1d(np.asarray(out[name], dtype=np.float64)) for name in ctx.metrics}


def _lazy(fn):
    cache: list = []

    def get():
        if not cache:
            cache.append(fn())
        return cache[0]

    return get


def _other_fixations(dataset: Any, index: int, shape: tuple[int, int], sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = dataset.fixations
    sel = f.n != index
    n = f.n[sel]
    xs = (f.x[sel] + 0.5) * shape[1] / sizes[n, 1] - 0.5
    ys = (f.y[sel] + 0.5) * shape[0] / sizes[n, 0] - 0.5
    return xs, ys


class _Negatives:
    """sAUC negatives as flat indices: every fixation of the data set mapped to a grid, once per grid size.

    ``get(i, shape)`` returns ``(all_flat, own_flat)``: all fixations on the
    ``shape`` grid (mapped as :func:`_other_fixations` maps them) and image
    ``i``'s entries among them, so the other images' fixations are the
    difference. Built once per distinct image size instead of once per image.
    """

    def __init__(self, dataset: Any, sizes: np.ndarray):
        self.dataset = dataset
        self.fix = dataset.fixations
        self.sizes = sizes
        n = np.asarray(self.fix.n, dtype=np.int64)
        self.order = np.argsort(n, kind="stable")
        self.bounds = np.searchsorted(n[self.order], np.arange(len(sizes) + 1), side="left")
        self.cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _grid(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if shape not in self.cache:
            f, n = self.fix, self.fix.n
            xs = (f.x + 0.5) * shape[1] / self.sizes[n, 1] - 0.5
            ys = (f.y + 0.5) * shape[0] / self.sizes[n, 0] - 0.5
            cols = np.floor(xs + 0.5).astype(np.int64)
            rows = np.floor(ys + 0.5).astype(np.int64)
            bad = (cols < 0) | (cols >= shape[1]) | (rows < 0) | (rows >= shape[0])
            self.cache[shape] = (rows * shape[1] + cols, np.flatnonzero(bad), np.unique(n[bad]))
        return self.cache[shape]

    def get(self, index: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        flat, bad, bad_images = self._grid(shape)
        if bad_images.size and (bad_images.size > 1 or bad_images[0] != index):
            # the same check and message as fixation_pixels on the other images' fixations
            xs, ys = _other_fixations(self.dataset, index, shape, self.sizes)
            M._common.fixation_pixels(xs, ys, shape, argument="other_xs, other_ys")
        own = flat[self.order[self.bounds[index] : self.bounds[index + 1]]]
        return flat, own


def _ig_notes(sources: list, base_src: Any, convention: str, map_density: str | None) -> list[str]:
    """How information gain is obtained for each model (the ``notes`` of the result); raise for an unusable baseline."""
    if convention == "mit":
        return ["ig (mit): every map, the baseline's included, is converted to a distribution as InfoGain.m does "
                "(min-max normalised, divided by its sum)"]
    if not getattr(base_src, "has_log_density", True) and map_density is None:
        raise MetricError(
            f"information gain baseline '{base_src.name}' gives saliency maps, not a density; use a probabilistic "
            "baseline (the default center_bias) or pass map_density='normalize' to read maps as densities"
        )
    plain = [s.name for s in sources if not getattr(s, "has_log_density", True)]
    if not plain:
        return []
    if map_density is None:
        return [f"ig: not computed for {', '.join(plain)} (saliency maps, not densities; IG is defined for "
                "probabilistic models, as in pysaliency); pass map_density='normalize' to score their maps read as densities"]
    return [f"ig: the maps of {', '.join(plain)} are read as densities by map_density='{map_density}' "
            "(shifted to non-negative, floor of 1e-20 of the sum, divided by the sum)"]


class _ImageJob:
    """Scores one image for every model (picklable state of a worker; called with the image index)."""

    def __init__(self, ctx: _Context, dataset: Any, sources: list, base_src: Any, skip_empty: bool, reuse_maps: bool = True):
        self.ctx, self.dataset, self.sources, self.base_src, self.skip_empty = ctx, dataset, sources, base_src, skip_empty
        self.reuse_maps = bool(reuse_maps)
        self._last_map: dict[str, MapStats] = {}
        self.sizes = np.asarray(dataset.stimuli.sizes, dtype=np.int64).reshape(-1, 2)
        self.need_image = any(s.needs_image for s in sources) or (base_src is not None and base_src.needs_image)
        self.negatives = _Negatives(dataset, self.sizes)

    def map_stats(self, name: str, smap: np.ndarray) -> MapStats:
        """The model's map statistics: the previous image's when the map is equal to it (``reuse_maps``)."""
        if not self.reuse_maps:
            return MapStats(smap)
        last = self._last_map.get(name)
        if last is not None and last.equals(smap):
            return last
        self._last_map[name] = stats = MapStats(smap, remember=True)
        return stats

    def shape(self, i: int) -> tuple[int, int]:
        return (int(self.sizes[i, 0]), int(self.sizes[i, 1]))

    def __call__(self, i: int) -> str | list:
        ctx, dataset, fix = self.ctx, self.dataset, self.dataset.fixations
        sel = fix.n == i
        image_id = dataset.ids[i]
        if not sel.any():
            if not self.skip_empty:
                raise MetricError(f"image '{image_id}' (index {i}) has no fixations; pass skip_empty=True to skip such images")
            return image_id
        shape = self.shape(i)
        xs, ys = fix.x[sel], fix.y[sel]
        rows, cols = M._common.fixation_pixels(xs, ys, shape, argument=f"fixations of image '{image_id}'")
        image = dataset.stimuli[i] if self.need_image else None
        gold_fn = _lazy(lambda r=rows, c=cols: GoldStats(_gold(ctx, r, c, shape)))
        other = _lazy(lambda: _other_fixations(dataset, i, shape, self.sizes))
        negatives = _lazy(lambda: self.negatives.get(i, shape))
        baseline_fn = _lazy(lambda: _baseline(ctx, self.base_src, dataset, i, image))
        scored = []
        for src in self.sources:
            if isinstance(src, InterObserver):
                values = _score_inter_observer(ctx, src, fix, sel, shape, other, baseline_fn, negatives, index=i)
                if values is None:
                    continue
            else:
                smap, logd = src.predict(dataset, i, image)
                values = _score(
                    ctx, smap, ctx.density_of(smap, logd), xs, ys, shape, gold_fn, other, baseline_fn, negatives,
                    map_stats=lambda m, name=src.name: self.map_stats(name, m), index=i,
                )
            scored.append((src.name, i, image_id, int(sel.sum()), values))
        return scored


def _gold(ctx: _Context, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if ctx.convention == "mit":
        return mit_gold(rows, cols, shape)
    return gaussian_density(rows, cols, shape, ctx.gold_sigma_px)


def _baseline(ctx: _Context, src: Any, dataset: Any, index: int, image: np.ndarray | None) -> tuple[np.ndarray, Any]:
    smap, logd = src.predict(dataset, index, image)
    logd = ctx.density_of(smap, logd)
    return smap, (logd() if logd is not None else None)


def _score_inter_observer(ctx, src, fix, sel, shape, other, baseline_fn, negatives=None, index=0) -> dict[str, np.ndarray] | None:
    sub = fix[sel]
    subjects = src.subjects(sub)
    rows, cols = sub.row, sub.col
    pooled: dict[str, list] = {}
    n_pix = shape[0] * shape[1]
    for s in subjects:
        held = sub.subject == s
        if held.all() or not held.any():
            continue  # a lone subject has no others to predict from
        dens = gaussian_density(rows[~held], cols[~held], shape, ctx.gold_sigma_px)
        dens = (1 - _UNIFORM_MIX) * dens + _UNIFORM_MIX / n_pix
        gold = _lazy(lambda h=held: GoldStats(_gold(ctx, rows[h], cols[h], shape)))
        values = _score(ctx, dens, lambda d=dens: np.log(d), sub.x[held], sub.y[held], shape, gold, other, baseline_fn, negatives,
                        index=index)
        for name, v in values.items():
            pooled.setdefault(name, []).append(v)
    if not pooled:
        return None
    out = {}
    for name, parts in pooled.items():
        if name in FIXATION_METRICS and ctx.convention == "tuebingen":
            out[name] = np.concatenate(parts)
        else:
            out[name] = np.array([np.mean([p.mean() for p in parts])])
    return out
