"""Score saliency models on a data set: per-image values, a summary table, best/worst examples.

A *model* is anything :func:`resolve_model` accepts: a registry name
(``"center_bias"``, ``"gbvs"`` …), a checkpoint path, a folder of saliency
maps (``.npy``/``.png``/``.jpg``/``.tif`` named by image id), the inter-observer
baseline (``"inter_observer"``), or a :class:`~salscope.models.base.SaliencyModel`.
Every metric comes from :mod:`salscope.metrics` in the chosen convention.

Conventions of the evaluation itself
------------------------------------
- Gold maps for CC/KLD/SIM/EMD: ``"tuebingen"`` uses the empirical density
  (fixation counts blurred by a Gaussian of ``gold_sigma_deg`` = 1° of visual
  angle, constant borders, normalised — identical to
  :meth:`salscope.data.Fixations.density`); ``"mit"`` uses the MIT benchmark's
  ``antonioGaussian(fixation map, fc=8)`` (FFT round-off below zero set to 0).
- sAUC negatives: the fixations of every *other* image of the evaluated split,
  mapped to this image's grid (``x' = (x + 0.5) W / W_other - 0.5``).
- Information gain: against ``baseline`` (default the registry's
  ``center_bias``) in bits per fixation, for models with a log-density of
  their own; a model giving only saliency maps gets it only through the
  conversion named by ``map_density`` (else NaN and a line in ``notes``).
- Random metrics (MIT AUC-Borji, MIT sAUC): image ``i`` draws from
  ``default_rng(SeedSequence([seed, i]))`` (:func:`salscope.metrics.image_rng`).
- EMD is scored on grids shrunk 32× (as ``EMD.m``).
- Inter-observer: for each subject, the density of the *other* subjects'
  fixations (same Gaussian, mixed with 0.1 % uniform so that log-densities stay
  finite) predicts that subject's fixations; per-fixation values are pooled
  over subjects, map metrics compare with that subject's own gold map and are
  averaged over subjects.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from salscope import metrics as M
from salscope.analysis.pool import imap_ordered
from salscope.analysis.tabular import TabularResult
from salscope.errors import AnalysisError, MetricError, ModelError
from salscope.metrics.catalogue import (
    DEFAULT_METRICS,
    FIXATION_METRICS,
    LOWER_IS_BETTER,
    METRICS,
)
from salscope.metrics.catalogue import label as _label
from salscope.metrics.density import fixation_density
from salscope.metrics.suite import SUITE_METRICS, GoldStats, MapStats, tuebingen_suite
from salscope.models.base import log_density_from_map
from salscope.models.factory import (
    INTER_OBSERVER,
    ModelSpec,
    parse_spec,
    parse_specs,
    precomputed,
    saliency_model,
)
from salscope.progress import track
from salscope.report.figures import pyplot, save_figure

EMD_DOWNSIZE = 32
_UNIFORM_MIX = 1e-3


# --------------------------------------------------------------------------- model sources


def has_log_density(model: Any) -> bool:
    """Whether a model gives a log-density of its own (a probabilistic model), not only a saliency map.

    A ``has_log_density`` attribute (bool) says so explicitly; otherwise a
    wrapper whose network declares ``output`` (the deep readout models) has one
    when that output is ``"log_density"``; otherwise a model has one when it
    overrides :meth:`SaliencyModel.log_density` (e.g. ``center_bias``). The base
    class's default — :func:`~salscope.models.base.log_density_from_map` of the
    saliency map — is a conversion, not a density of the model's own.
    """
    from salscope.models.base import SaliencyModel

    declared = getattr(model, "has_log_density", None)
    if isinstance(declared, bool):
        return declared
    output = getattr(getattr(model, "model", None), "output", None)
    if isinstance(output, str):
        return output == "log_density"
    own = getattr(type(model), "log_density", None)
    return own is not None and own is not SaliencyModel.log_density


class ModelSource:
    """A :class:`SaliencyModel` seen by the evaluation: needs the image, gives map and (if it has one) log-density."""

    needs_image = True

    def __init__(self, model: Any, name: str | None = None, kind: str | None = None):
        self.model = model
        self.name = name or getattr(model, "name", type(model).__name__)
        self.kind = kind or getattr(model, "kind", "other")
        self.has_log_density = has_log_density(model)

    def predict(self, dataset: Any, index: int, image: np.ndarray | None) -> tuple[np.ndarray, Any]:
        """``(saliency map, lazy log-density or None)``; None for a model without a density of its own."""
        smap = np.asarray(self.model.saliency_map(image), dtype=np.float64)
        if self.has_log_density:
            return smap, lambda: np.asarray(self.model.log_density(image), dtype=np.float64)
        return smap, None


class InterObserver:
    """Leave-one-subject-out inter-observer model (the human upper reference of Table 1)."""

    needs_image = False
    has_log_density = True
    kind = "baseline"

    def __init__(self, name: str = INTER_OBSERVER):
        self.name = name

    def subjects(self, fixations: Any) -> np.ndarray:
        subj = np.unique(fixations.subject)
        if subj.size and subj.min() < 0:
            raise AnalysisError("inter_observer needs subject ids; this data set's fixations have none (subject = -1)")
        return subj


def resolve_models(models: Sequence[Any], labels: Sequence[str] | None = None, **placement: Any) -> list[Any]:
    """Sources for several specs, their labels unique (``LABEL=SPEC`` or ``labels`` name them).

    ``placement`` (``device``, ``amp``) goes to the deep models the specs build.
    """
    specs = [m if (not isinstance(m, (str, os.PathLike, ModelSpec)) and hasattr(m, "needs_image")) else None
             for m in models]
    texts = [m for m, s in zip(models, specs) if s is None]
    parsed = iter(parse_specs(texts, None if labels is None else [l for l, s in zip(labels, specs) if s is None]))
    out = [s if s is not None else resolve_model(next(parsed), **placement) for s in specs]
    names = [src.name for src in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ModelError(f"two models share the label {dup[0]!r}; name them LABEL=SPEC (or pass --labels)")
    return out


def resolve_model(spec: Any, label: str | None = None, **placement: Any) -> Any:
    """The evaluation's source for one model spec (:func:`salscope.models.factory.parse_spec`'s grammar).

    ``maps:DIR`` (or a folder) → :class:`~salscope.models.precomputed.PrecomputedMaps`;
    ``inter_observer`` → :class:`InterObserver`; anything else the factory
    builds (names, checkpoints, ``FILE.py:FACTORY``, models) → :class:`ModelSource`.
    A registered name wins over a folder of the same name; write ``maps:./builtin``
    to evaluate the folder. ``label`` (or ``LABEL=SPEC``) names it in the tables.
    """
    if not isinstance(spec, (str, os.PathLike, ModelSpec)) and hasattr(spec, "predict") and hasattr(spec, "needs_image"):
        return spec
    parsed = parse_spec(spec, label=label)
    if parsed.source == "maps":
        return precomputed(parsed)
    if parsed.source == "inter_observer":
        return InterObserver() if parsed.label == INTER_OBSERVER else InterObserver(name=parsed.label)
    if parsed.source == "object" and not hasattr(parsed.obj, "saliency_map"):
        raise ModelError(f"cannot evaluate a {type(parsed.obj).__name__}; pass a model name, checkpoint, map folder "
                         "or SaliencyModel")
    return ModelSource(saliency_model(parsed, **placement), name=parsed.label, kind=parsed.kind)


# --------------------------------------------------------------------------- gold maps


def gaussian_density(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], sigma_px: float, truncate: float = 4.0, block: int = 150
) -> np.ndarray:
    """Blurred fixation counts, normalised: ``scipy.ndimage.gaussian_filter(mode="constant")`` of the count map.

    :func:`salscope.metrics.density.fixation_density` (tile-wise products of
    truncated 1-D kernels, exact); equal to
    :meth:`salscope.data.Fixations.density` to rounding.
    """
    return fixation_density(rows, cols, shape, sigma_px, truncate, block)


def _mit_gold(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    binary = np.zeros(shape)
    binary[rows, cols] = 1.0
    return np.maximum(M.antonio_gaussian(binary, 8.0), 0.0)


# --------------------------------------------------------------------------- scoring


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


@dataclass(repr=False)
class EvaluationResult(TabularResult):
    """Per-image scores of several models and their summary.

    ``rows`` holds one dict per (model, image): ``model``, ``image_index``,
    ``image_id``, ``n_fixations`` and one column per metric (the image's mean).
    ``average="fixation"`` pools fixation metrics over all fixations of the
    split; ``"image"`` averages per-image means. Map metrics (CC, KLD, SIM,
    EMD, AUC-Judd, AUC-Borji, MIT sAUC) are always per-image means. ``notes``
    says how information gain was obtained for each model, and why it is NaN
    (``null`` in ``summary.json``) for a model without a density. Tables
    (:class:`~salscope.analysis.tabular.TabularResult`): ``per_image`` (the
    rows) and ``summary`` (one row per model).
    """

    dataset: str
    split: str | None
    convention: str
    average: str
    metrics: list[str]
    models: list[str]
    rows: list[dict] = field(default_factory=list)
    n_images: int = 0
    skipped_images: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)   # model → deep | classical | baseline | precomputed | other
    #: More top-level keys of summary.json from later analyses (salscope.analysis.paired: ``mean_intervals``).
    extra: dict[str, Any] = field(default_factory=dict)
    _sums: dict = field(default_factory=dict, repr=False)

    def _add(self, model: str, index: int, image_id: str, n_fix: int, values: dict[str, np.ndarray]) -> None:
        row: dict[str, Any] = {"model": model, "image_index": index, "image_id": image_id, "n_fixations": n_fix}
        for name, v in values.items():
            row[name] = float(v.mean())
            s = self._sums.setdefault((model, name), [0.0, 0])
            s[0] += float(v.sum())
            s[1] += int(v.size)
        self.rows.append(row)

    def _tables(self) -> dict[str, tuple[list[str], list[dict]]]:
        return {"per_image": (["model", "image_index", "image_id", "n_fixations", *self.metrics], self.rows),
                "summary": lambda: (["model", *self.metrics], [{"model": m, **v} for m, v in self.summary().items()])}

    def summary(self) -> dict[str, dict[str, float]]:
        """``{model: {metric: value}}`` averaged as ``self.average`` says."""
        out: dict[str, dict[str, float]] = {}
        for model in self.models:
            rows = [r for r in self.rows if r["model"] == model]
            out[model] = {}
            for name in self.metrics:
                if not rows:
                    out[model][name] = float("nan")
                elif self.average == "fixation" and name in FIXATION_METRICS and self.convention == "tuebingen":
                    total, count = self._sums[(model, name)]
                    out[model][name] = total / count
                else:
                    out[model][name] = float(np.mean([r[name] for r in rows]))
        return out

    def summary_markdown(self) -> str:
        """The summary as a GitHub markdown table (models × metrics)."""
        summ = self.summary()
        head = "| model | " + " | ".join(_label(m) for m in self.metrics) + " |"
        sep = "|---|" + "---:|" * len(self.metrics)
        body = ["| " + model + " | " + " | ".join(_cell(summ[model][m]) for m in self.metrics) + " |" for model in self.models]
        note = (
            f"\n\n{self.dataset}{'/' + self.split if self.split else ''}: {self.n_images} images scored"
            f" ({len(self.skipped_images)} without fixations skipped), convention '{self.convention}', "
            f"averaged per {self.average}. ↓ = lower is better."
        )
        notes = "".join(f"\n\n- {n}" for n in self.notes)
        return "\n".join([head, sep, *body]) + note + notes + "\n"

    def rich_table(self) -> Any:
        """The summary as a :class:`rich.table.Table` (best value per column in bold)."""
        from rich.table import Table

        summ = self.summary()
        table = Table(title=f"{self.dataset}{'/' + self.split if self.split else ''} — {self.convention}, per {self.average}")
        table.add_column("model")
        for m in self.metrics:
            table.add_column(_label(m), justify="right")
        best = {}
        for m in self.metrics:
            vals = [summ[k][m] for k in self.models if np.isfinite(summ[k][m])]
            if vals:
                best[m] = min(vals) if m in LOWER_IS_BETTER else max(vals)
        for model in self.models:
            cells = []
            for m in self.metrics:
                v = summ[model][m]
                text = _cell(v)
                cells.append(f"[bold]{text}[/bold]" if best.get(m) == v else text)
            table.add_row(model, *cells)
        return table

    def to_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "convention": self.convention,
            "average": self.average,
            "metrics": self.metrics,
            "models": self.models,
            "kinds": self.kinds,
            "n_images": self.n_images,
            "skipped_images": self.skipped_images,
            "notes": self.notes,
            "summary": self.summary(),
            **{k: v for k, v in self.extra.items() if k != "summary"},
        }

    def write(self, out_dir: str | os.PathLike, table_formats: Sequence[str] = ("md",)) -> dict[str, Path]:
        """Write ``per_image.csv``, ``summary.json`` and the summary table as ``summary.<format>`` into ``out_dir``.

        ``table_formats``: ``md`` (with the notes), ``csv``, ``tex`` (booktabs);
        every file atomic.
        """
        from salscope import io

        out = Path(out_dir)
        cols = ["model", "image_index", "image_id", "n_fixations", *self.metrics]
        paths = {
            "per_image": io.write_csv(out / "per_image.csv", self.rows, fieldnames=cols),
            "summary_json": io.write_json(out / "summary.json", self.to_json()),
        }
        for fmt in table_formats:
            if fmt == "md":
                paths["summary_md"] = io.write_text(out / "summary.md", self.summary_markdown())
            elif fmt != "json":   # summary.json is the record above
                caption = f"{self.dataset}{'/' + self.split if self.split else ''}, convention {self.convention}"
                paths[f"summary_{fmt}"] = self.write_tables(out / "summary", [fmt], table="summary", caption=caption)[fmt]
        return paths


def _cell(value: float) -> str:
    return f"{value:.4f}" if np.isfinite(value) else "n/a"


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


def evaluate(
    models: Sequence[Any],
    dataset: Any,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    convention: str = "tuebingen",
    average: str = "fixation",
    baseline: Any = "center_bias",
    max_images: int | None = None,
    skip_empty: bool = True,
    gold_sigma_deg: float = 1.0,
    seed: int = 0,
    workers: int = 1,
    reuse_maps: bool = True,
    map_density: str | None = None,
    device: Any = None,
) -> EvaluationResult:
    """Score models on every image of ``dataset`` with the chosen metrics and convention.

    Parameters
    ----------
    models : sequence
        Specs for :func:`resolve_model` (names, checkpoints, map folders,
        ``"inter_observer"``, model objects).
    dataset : salscope.data.Dataset
        Typically ``load_dataset("osie").split("test")``; ``meta["ppd"]`` sets the
        gold-map blur.
    metrics : sequence of str
        Names from :data:`METRICS`.
    average : {"fixation", "image"}
        How fixation metrics are averaged in the summary.
    baseline : spec
        Model against which information gain is measured; under
        ``"tuebingen"`` it must have a log-density (``center_bias`` does) unless
        ``map_density`` converts its maps.
    max_images : int, optional
        Score only the first ``max_images`` images.
    skip_empty : bool
        Images without fixations are skipped and listed in
        ``result.skipped_images`` (True) or raise :class:`MetricError` (False).
    seed : int
        Seed of the random splits of the MIT AUC-Borji / shuffled AUC. Image
        ``i`` (its position in ``dataset``) draws from its own stream,
        :func:`salscope.metrics.image_rng` ``(seed, i)``, fresh for each metric
        and model, so its score does not depend on the other images, the
        metric list or ``workers``.
    workers : int
        Score images in this many processes, forked from a clean fork server
        (never from this process: safe with torch; :mod:`salscope.analysis.pool`).
        Results come back in image order and are identical to ``workers=1``.
        The models and the data set are pickled to each worker (a model class
        must be importable by name); each worker runs torch with this process's
        thread count, so lower that (``torch.set_num_threads``,
        ``OMP_NUM_THREADS``) to share the cores. The fork server costs one
        start-up per process (about 2 s: Python, torch, scipy), each pool a
        second or so: worth it for hundreds of images, not for five.
    reuse_maps : bool
        When a model returns a map equal (same shape and values) to the one it
        gave for the previous image — the centre-bias baseline, any
        image-independent model — reuse that map's sort and statistics
        (tuebingen suite only; the values are the same bits). Costs one
        comparison per image; ``False`` recomputes everything.
    device : str, optional
        Where deep models built from specs run (``--device``: auto, cpu,
        cuda[:N], mps; see :mod:`salscope.devices`). Metrics run on the CPU.
    map_density : {None, "normalize"}
        Information gain (``"tuebingen"``) needs a log-density. Probabilistic
        models (``center_bias``, deep read-outs with a log-density output,
        ``inter_observer``; see :func:`has_log_density`) give their own. A
        model that gives only saliency maps — a map folder, a classical model —
        gets IG only through a stated conversion: ``None`` (default) gives NaN
        (``null`` in ``summary.json``) and a line in ``result.notes``;
        ``"normalize"`` reads the map as a density as it stands
        (:func:`~salscope.models.base.log_density_from_map`: shift to
        non-negative, floor of 1e-20 of the sum, divide by the sum). As in
        pysaliency, where information gain is a method of probabilistic models
        only and a saliency-map model must first be converted
        (``SaliencyMapConvertor``). Under ``"mit"`` IG follows ``InfoGain.m``,
        which converts every map itself (min-max, divide by the sum).

    Returns
    -------
    EvaluationResult

    Raises
    ------
    MetricError
        When the evaluated images hold no fixations at all (nothing to score),
        or the IG baseline has no density and no ``map_density`` is given.
    """
    M._common.check_convention(convention)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise MetricError(f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METRICS)}")
    if average not in ("fixation", "image"):
        raise MetricError(f"average={average!r} is unknown; use 'fixation' or 'image'")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise AnalysisError(f"workers={workers!r}: give a whole number of processes >= 1 (1 = no extra processes)")
    if not models:
        raise ModelError("no model given; name at least one (e.g. center_bias, inter_observer, a map folder)")
    # deep models built from specs run on ``device`` (auto, cpu, cuda[:N], mps; None: where they are built, the CPU)
    sources = resolve_models(models, **({} if device is None else {"device": device}))
    names = [s.name for s in sources]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MetricError(f"seed={seed!r}: give a whole number >= 0")
    if map_density is not None and map_density not in MAP_DENSITIES:
        raise MetricError(f"map_density={map_density!r} is unknown; use None (IG only for models with a density) "
                          f"or one of {', '.join(MAP_DENSITIES)}")
    base_src = resolve_model(baseline) if "ig" in metrics else None
    notes = _ig_notes(sources, base_src, convention, map_density) if base_src is not None else []
    ppd = dataset.meta.get("ppd")
    if ppd is not None and not (isinstance(ppd, (int, float, np.integer, np.floating)) and np.isfinite(ppd) and ppd > 0):
        raise AnalysisError(f"data set '{dataset.name}' has meta['ppd'] = {ppd!r}; pixels per degree must be a "
                            "number > 0 (fix the data set's meta)")
    if convention == "tuebingen" and any(m in metrics for m in ("cc", "kld", "sim", "emd")) or any(
            isinstance(src, InterObserver) for src in sources):
        if not ppd:
            raise AnalysisError(f"data set '{dataset.name}' has no meta['ppd']; the gold maps need pixels per degree")
    ctx = _Context(metrics, convention, int(seed), float(gold_sigma_deg) * float(ppd or 0), map_density)

    n_images = len(dataset) if max_images is None else min(int(max_images), len(dataset))
    fix_n = np.asarray(dataset.fixations.n)
    if not np.any(fix_n < n_images):
        where = f"the first {n_images} image(s) of" if n_images < len(dataset) else "any image of"
        raise MetricError(f"data set '{dataset.name}': no fixations on {where} it ({len(dataset.fixations)} fixations "
                          "in all); nothing can be scored. Check the fixation file, the split or --max-images")
    result = EvaluationResult(
        dataset=dataset.name,
        split=(dataset.meta.get("split") or {}).get("name"),
        convention=convention,
        average=average,
        metrics=list(metrics),
        models=names,
        kinds={src.name: str(getattr(src, "kind", "other")) for src in sources},
        notes=notes,
    )
    job = _ImageJob(ctx, dataset, sources, base_src, skip_empty, reuse_maps)
    if "sauc" in metrics and convention == "tuebingen" and n_images:
        # built once here, so that every worker receives it with the job
        job.negatives._grid(job.shape(0))
    workers = min(int(workers), max(n_images, 1))
    if workers > 1:
        outputs = imap_ordered(job, n_images, workers, what="evaluation (its models and data set)")
    else:
        outputs = map(job, range(n_images))
    for scored in track(outputs, f"evaluating {', '.join(names)}", total=n_images):
        if isinstance(scored, str):
            result.skipped_images.append(scored)
            continue
        for name, i, image_id, n_fix, values in scored:
            result._add(name, i, image_id, n_fix, values)
        result.n_images += 1
    return result


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
        return _mit_gold(rows, cols, shape)
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


# --------------------------------------------------------------------------- figures


def write_examples(
    result: EvaluationResult,
    models: Sequence[Any],
    dataset: Any,
    out_dir: str | os.PathLike,
    k: int = 3,
    metric: str | None = None,
) -> list[Path]:
    """Save, per model, a figure of its ``k`` best and ``k`` worst images by ``metric``.

    Each panel shows the image, the model's map as an overlay and the
    fixations; the title gives the image id and the score. ``metric`` defaults
    to NSS when scored, else the first metric.
    """
    plt = pyplot()
    metric = metric or ("nss" if "nss" in result.metrics else result.metrics[0])
    if metric not in result.metrics:
        raise MetricError(f"examples: metric {metric!r} was not scored; choose one of {', '.join(result.metrics)}")
    paths = []
    sources = resolve_models(models)
    for src in sources:
        rows = [r for r in result.rows if r["model"] == src.name and np.isfinite(r[metric])]
        if not rows:
            continue
        rows.sort(key=lambda r: r[metric], reverse=metric not in LOWER_IS_BETTER)
        kk = min(int(k), math.ceil(len(rows) / 2))
        picks = [("best", r) for r in rows[:kk]] + [("worst", r) for r in rows[::-1][:kk]]
        fig, axes = plt.subplots(2, kk, figsize=(3.2 * kk, 5.0), squeeze=False)
        for ax, (tag, row) in zip(axes.ravel(), picks):
            i = row["image_index"]
            image = dataset.stimuli[i]
            if isinstance(src, InterObserver):
                f = dataset.fixations.for_image(i)
                smap = gaussian_density(f.row, f.col, image.shape[:2], float(dataset.meta.get("ppd") or image.shape[1] / 32))
            else:
                smap = src.predict(dataset, i, image)[0]
            ax.imshow(image)
            ax.imshow(smap, cmap="jet", alpha=0.45, extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
            f = dataset.fixations.for_image(i)
            ax.scatter(f.x, f.y, s=4, c="white", edgecolors="black", linewidths=0.3)
            ax.set_title(f"{tag}: {row['image_id']} {_label(metric)}={row[metric]:.2f}", fontsize=8)
            ax.axis("off")
        fig.suptitle(f"{src.name}: best and worst images by {_label(metric)}", fontsize=10)
        fig.tight_layout()
        paths.append(save_figure(fig, Path(out_dir) / f"examples_{src.name}.png", dpi=100))
        plt.close(fig)
    return paths
