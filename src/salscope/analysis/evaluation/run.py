"""``evaluate``: score models on every image of a data set (the function ``salscope evaluate`` and the study call)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope import metrics as M
from salscope.analysis.evaluation.results import EvaluationResult
from salscope.analysis.evaluation.scoring import (
    MAP_DENSITIES,
    _Context,
    _ig_notes,
    _ImageJob,
)
from salscope.analysis.evaluation.sources import (
    InterObserver,
    resolve_model,
    resolve_models,
)
from salscope.analysis.pool import imap_ordered
from salscope.errors import AnalysisError, MetricError, ModelError
from salscope.metrics.catalogue import (
    DEFAULT_METRICS,
    METRICS,
)
from salscope.progress import track


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
