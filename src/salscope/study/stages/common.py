"""What the study's stages share: the data set, the encoders and models of each set-up, paired contrasts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from salscope.analysis.intervals import paired_bootstrap
from salscope.data.loaders import load_dataset
from salscope.data.regions import load_voc_regions
from salscope.models.backbones import get_backbone
from salscope.models.factory import encoder, parse_spec, saliency_model
from salscope.settings import data_dir as resolve_data_dir
from salscope.study import figures as sf
from salscope.study.runner import StageContext
from salscope.train.config import default_layers

SETUP_LABELS = {"fixed": "I (encoder fixed)", "saliency": "II (saliency fine-tune)",
                "replicate": "II′ (saliency fine-tune, seed + 1)", "scene": "III (scene fine-tune)"}


def data_root(ctx: StageContext) -> Path:
    return resolve_data_dir(ctx.data_dir)


def study_dataset(ctx: StageContext):

    return load_dataset(ctx.config.data.dataset, data_root(ctx))


def study_weights(ctx: StageContext) -> str | None:
    """``[train] weights``: "imagenet", a file, or "none" (random, for smoke tests) → what get_backbone takes."""
    w = ctx.config.train.weights
    return None if w.lower() == "none" else w


def study_encoders(ctx: StageContext) -> dict[str, Any]:
    """The encoders the analyses compare: ImageNet-pretrained, set-up II, II′ (when trained) and set-up III."""
    setups = ctx.upstream["train"]["setups"]
    out = {"pretrained": encoder(ctx.config.train.backbone, weights=study_weights(ctx))}
    for role in ("saliency", "replicate", "scene"):
        if role in setups:
            out[role] = encoder(f"ckpt:{setups[role]['checkpoint']}")
    return out


def limit(n: int, cap: int) -> int:
    return n if cap <= 0 else min(n, cap)


def encoder_layers(ctx: StageContext, requested: list[str], count: int | None) -> list[str]:
    """The analysed layers: as configured, else the ``count`` exposed layers ending at the decoder's input.

    For VGG-16 with the paper's decoder (which reads conv5_3) and ``count=3``
    this is conv5_1, conv5_2, conv5_3 — the layers of the paper's figures and
    the depth its PyTorch demo fine-tunes. ``count=None`` gives every layer up to
    the decoder's input.
    """

    if requested:
        return list(requested)
    backbone = get_backbone(ctx.config.train.backbone, weights=None)
    names = [info.name for info in backbone.feature_info]
    deepest = default_layers(backbone, ctx.config.train.decoder, None)[-1]
    names = names[: names.index(deepest) + 1]
    return names if count is None else names[-count:]


def annotated_ids(ctx: StageContext) -> list[str]:
    """Ids of the data set's images that have salient-region annotations (the neuron analysis' images)."""

    regions = load_voc_regions(data_root(ctx) / ctx.config.data.regions)
    return [image_id for image_id in study_dataset(ctx).ids if image_id in regions]


TRAINED_HERE = ("set-up I", "set-up II")


ORIGIN = {"set-up I": "trained in this study (set-up I)", "set-up II": "trained in this study (set-up II)",
          "builtin": "shipped built-in model (not trained in this study)"}


def deep_models(ctx: StageContext, *, center_prior: bool | None = None) -> dict[str, Any]:
    """Set-ups I and II of this study and the shipped built-in model, as saliency models named for the tables."""
    setups = ctx.upstream["train"]["setups"]
    specs = [parse_spec(f"ckpt:{setups[setup]['checkpoint']}", label=label)
             for label, setup in (("set-up I", "fixed"), ("set-up II", "saliency"))] + [parse_spec("builtin")]
    kwargs = {} if center_prior is None else {"center_prior": center_prior}
    return {s.label: saliency_model(s, device=ctx.config.run.device, **kwargs) for s in specs}


def paired_contrast(per_unit: dict[str, np.ndarray], summary: dict[str, float], first: list[str], second: list[str],
              *, n_boot: int, seed: int) -> dict[str, Any] | None:
    """Best of ``first`` minus best of ``second`` (by ``summary``), paired bootstrap over the units."""

    a = [m for m in first if m in per_unit and np.isfinite(summary.get(m, np.nan))]
    b = [m for m in second if m in per_unit and np.isfinite(summary.get(m, np.nan))]
    if not a or not b:
        return None
    best_a, best_b = max(a, key=lambda m: summary[m]), max(b, key=lambda m: summary[m])
    diff, lo, hi = paired_bootstrap(per_unit[best_a], per_unit[best_b], n_boot=n_boot, seed=seed)
    return {"first": best_a, "second": best_b, "first_value": float(np.nanmean(per_unit[best_a])),
            "second_value": float(np.nanmean(per_unit[best_b])), "diff": diff, "lo": lo, "hi": hi,
            "n_units": int(len(per_unit[best_a])), "n_boot": n_boot}


def difference_figure(per_unit: dict[str, np.ndarray], reference: str, models: list[str], dest: Path, *,
                       n_boot: int, seed: int, xlabel: str, title: str) -> dict[str, Any] | None:
    """Bars of ``model − reference`` per model with paired-bootstrap 95 % intervals (finding 3's evidence)."""

    rows = []
    for m in models:
        if m in per_unit and m != reference:
            d, lo, hi = paired_bootstrap(per_unit[m], per_unit[reference], n_boot=n_boot, seed=seed)
            rows.append({"model": m, "diff": d if np.isfinite(d) else None, "lo": lo, "hi": hi})
    if not rows:
        return None
    path = sf.interval_bars(rows, dest, label="model", value="diff", lo="lo", hi="hi", xlabel=xlabel, title=title)
    return {"path": str(path), "alt": f"Bars of each model minus {reference} with 95 % bootstrap intervals",
            "caption": title + " (paired bootstrap over the same units; finding 3 needs the trained set-ups' "
                               "interval on the right side of 0)."}
