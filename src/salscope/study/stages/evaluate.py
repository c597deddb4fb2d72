"""``evaluate``: deep (I, II, built-in), classical and baseline models on the natural test split.

The same :func:`salscope.analysis.evaluation.evaluate` as ``salscope evaluate``; a gallery of the maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from salscope.analysis.evaluation import evaluate
from salscope.analysis.gallery import natural_gallery, spread
from salscope.models.factory import INTER_OBSERVER, parse_specs
from salscope.study.runner import StageContext
from salscope.study.stages.common import (
    ORIGIN,
    TRAINED_HERE,
    deep_models,
    difference_figure,
    paired_contrast,
    study_dataset,
)


def stage_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Score deep (I, II, built-in), classical and baseline models on the natural test split.

    Finding 3's natural half: the best set-up trained here against the best
    classical model on ``[evaluate] decide_metric`` (shuffled AUC by default:
    a centre prior cannot win it), paired bootstrap over images.
    """

    e = ctx.config.evaluate
    dataset = study_dataset(ctx).split(e.split, seed=ctx.config.data.split_seed)
    deep = deep_models(ctx)
    others = parse_specs([*e.classical, "center_bias", INTER_OBSERVER])
    models: list[Any] = [*deep.values(), *others]
    kinds: dict[str, str] = {label: m.kind for label, m in deep.items()} | {s.label: s.kind for s in others}
    metrics = list(e.metrics) + ([e.decide_metric] if e.decide_metric not in e.metrics else [])
    result = evaluate(models, dataset, metrics=metrics, convention=e.convention,
                      max_images=e.max_images or None, seed=ctx.config.data.split_seed)
    result.write(ctx.folder)
    summary = result.summary()
    table = [{"model": model, "kind": kinds.get(model, "deep"),
              "origin": ORIGIN.get(model, kinds.get(model, "deep")), **{k: float(v) for k, v in scores.items()}}
             for model, scores in summary.items()]
    metric = e.decide_metric
    per_image = {m: np.asarray([r[metric] for r in result.rows if r["model"] == m], dtype=np.float64)
                 for m in summary}
    means = {m: float(np.nanmean(v)) if v.size else float("nan") for m, v in per_image.items()}
    c = paired_contrast(per_image, means, list(TRAINED_HERE), list(e.classical), n_boot=e.bootstrap,
                  seed=ctx.config.data.split_seed)
    contrast = None if c is None else {"metric": metric, "deep": c["first"], "classical": c["second"],
                                       "deep_value": c["first_value"], "classical_value": c["second_value"],
                                       "diff": c["diff"], "lo": c["lo"], "hi": c["hi"], "n_images": c["n_units"]}
    figures = []
    if c is not None:
        fig = difference_figure(per_image, c["second"], list(deep) + [m for m in e.classical if m != c["second"]],
                                 ctx.folder / "figures" / "natural_differences.png", n_boot=e.bootstrap,
                                 seed=ctx.config.data.split_seed, xlabel=f"{metric} − {c['second']}",
                                 title=f"Natural images: each model's {metric} minus the best classical ({c['second']})")
        figures += [fig] if fig else []
    gallery = None
    if e.gallery:

        label = "nss" if "nss" in metrics else metric
        gallery = natural_gallery([m for m in models if m != INTER_OBSERVER], dataset,
                                  spread(sorted({r["image_index"] for r in result.rows}), e.gallery),
                                  ctx.folder / "gallery", scores={(r["model"], r["image_id"]): r[label] for r in result.rows},
                                  metric=label.upper())
    text = (f"{result.n_images} {e.split} images. Finding 3 is decided on {metric} (mean of per-image values) by the "
            "set-ups trained in this study; the built-in model is shipped, trained on the OSIE train split, and "
            "shown for reference only.")
    return {"table": table, "n_images": result.n_images, "split": e.split, "convention": e.convention,
            "metrics": metrics, "figures": figures, "contrast": contrast, "text": text, "gallery": gallery,
            "image_ids": [str(i) for i in dataset.ids[: result.n_images]]}
