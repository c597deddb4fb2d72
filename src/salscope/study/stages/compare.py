"""``compare``: linear CKA and Gram-change directions between pretrained, II, II′ and III (task vs domain).

The same :func:`salscope.analysis.representation.compare.compare_models` as ``salscope compare``.
"""

from __future__ import annotations

import csv
from typing import Any

import numpy as np

from salscope.analysis.representation.compare import compare_models
from salscope.analysis.representation.outputs import write_comparison
from salscope.devices import resolve_device
from salscope.study import figures as sf
from salscope.study.figures import compare_figures
from salscope.study.runner import StageContext
from salscope.study.stages.common import (
    data_root,
    encoder_layers,
    limit,
    study_dataset,
    study_encoders,
)


def _scene_mix(ctx: StageContext) -> str:
    """The three commonest scene classes among set-up III's training images and their share (finding 4's text)."""

    ids = set(ctx.upstream["train"]["setups"].get("scene", {}).get("train_ids", []))
    path = data_root(ctx) / ctx.config.data.scenes
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            labels = [row["scene"] for row in csv.DictReader(fh) if row.get("image_id") in ids]
    except (OSError, KeyError, UnicodeDecodeError):
        return ""
    if not labels:
        return ""
    names, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    top = ", ".join(f"{names[i]} {counts[i] / len(labels):.0%}" for i in order[:3])
    return (f" Set-up III's scene labels ({len(names)} classes over {len(labels)} training images) are dominated by "
            f"{top}: the 'domain' control is a classifier of these classes.")


def stage_compare(ctx: StageContext) -> dict[str, Any]:
    """CKA and direction-aware Gram changes between pretrained, II, II′ and III encoders on held-out test images.

    Finding 4 compares how set-up III moved from the pretrained encoder with how
    a same-task replicate (II′, set-up II with another seed) moved, each against
    set-up II (:func:`salscope.analysis.representation.verdict.task_vs_domain_decision`).
    """
    c = ctx.config.compare
    dataset = study_dataset(ctx).split(c.split, seed=ctx.config.data.split_seed)
    dataset = dataset.subset(range(limit(len(dataset), c.max_images)))
    models = study_encoders(ctx)
    layers = encoder_layers(ctx, c.layers, None)
    roles = {"pretrained": "pretrained", "saliency": "saliency", "scene": "scene"}
    if "replicate" in models:
        roles["replicate"] = "replicate"
    comp = compare_models(models, dataset.stimuli, layers, image_ids=dataset.ids,
                          size=tuple(ctx.config.train.input_size), roles=roles, n_boot=c.bootstrap, seed=c.seed,
                          device=resolve_device(ctx.config.run.device))
    files = write_comparison(comp, ctx.folder)
    finetune_from = ctx.upstream["train"]["finetune_from"]
    tuned = layers[layers.index(finetune_from):] if finetune_from in layers else layers
    per_layer = []
    for row in comp.verdict:
        out = {"layer": row["layer"], "fine_tuned": row["layer"] in tuned,
               "cka_pre_saliency": 1 - row["change_saliency"], "cka_pre_scene": 1 - row["change_scene"],
               "cka_saliency_scene": row["cka_saliency_scene"]}
        out.update({k: v for k, v in row.items() if k != "layer"})
        per_layer.append(out)

    figures = compare_figures(comp, files, ctx.folder, len(dataset), finetune_from)
    rows = [{"layer": r["layer"], "task_effect": r.get("task_effect"), "lo": (r.get("task_effect_ci") or [None, None])[0],
             "hi": (r.get("task_effect_ci") or [None, None])[1]} for r in per_layer if r["fine_tuned"]]
    if any(r["task_effect"] is not None for r in rows):

        path = sf.interval_bars(rows, ctx.folder / "task_effect.png", label="layer", value="task_effect", lo="lo",
                                hi="hi", xlabel="cos(D_II, D_II′) − cos(D_II, D_III)",
                                title=f"Finding 4's test per fine-tuned layer (equivalence margin {c.margin})")
        figures.insert(0, {"path": str(path), "alt": "Bars of the task effect per fine-tuned layer with bootstrap intervals",
                           "caption": "How much better a same-task replicate (II′) aligns with set-up II's change than "
                                      "the scene-trained III does, per fine-tuned layer, with 95 % bootstrap intervals "
                                      "over images; 'reproduced' needs the deepest layer's interval above 0 and not "
                                      f"inside [0, {c.margin})."})
    text = (f"{len(dataset)} {c.split} images (none trained on), debiased linear CKA on spatially pooled activations, "
            f"{c.bootstrap} bootstrap resamples of the images; equivalence margin {c.margin} on the direction "
            "statistic." + _scene_mix(ctx))
    return {"per_layer": per_layer, "figures": figures, "layers": layers, "n_images": len(dataset),
            "text": text, "margin": c.margin, "image_ids": [str(i) for i in dataset.ids]}
