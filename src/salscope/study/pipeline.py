"""The study's stages and ``run_study``.

Stages, in order (each cached under ``OUT/stages/<stage>-<hash>/``):

``train``     set-ups I (encoder fixed), II (saliency fine-tune) and III (scene
              fine-tune on the same images) — :func:`salscope.train.train`.
``evaluate``  deep (I, II), classical, centre-bias and inter-observer models on
              the natural test split — :mod:`salscope.analysis.evaluation`.
``popout``    generate the pop-out benchmark and score the same models with
              centre priors off — :mod:`salscope.analysis.popout`.
``neurons``   region-based NSS and Network Dissection of the pretrained, II and
              III encoders — :mod:`salscope.analysis.neurons`.
``compare``   linear CKA between the three encoders, task vs domain —
              :mod:`salscope.analysis.compare`.
``report``    ``OUT/report/index.html`` — :mod:`salscope.study.report_stage`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from salscope.errors import DataError
from salscope.settings import data_dir as resolve_data_dir
from salscope.study.config import StudyConfig
from salscope.study.runner import Stage, StageContext, run_stages

SETUP_LABELS = {"fixed": "I (encoder fixed)", "saliency": "II (saliency fine-tune)", "scene": "III (scene fine-tune)"}


# -- helpers ------------------------------------------------------------------------------------------------
def _data_root(ctx: StageContext) -> Path:
    return resolve_data_dir(ctx.data_dir)


def _dataset(ctx: StageContext):
    from salscope.data.datasets import load_dataset  # noqa: PLC0415

    return load_dataset(ctx.config.data.dataset, _data_root(ctx))


def _weights(ctx: StageContext) -> str | None:
    """``[train] weights``: "imagenet", a file, or "none" (random, for smoke tests) → what get_backbone takes."""
    w = ctx.config.train.weights
    return None if w.lower() == "none" else w


def _encoders(ctx: StageContext) -> dict[str, Any]:
    """The three encoders the analyses compare: ImageNet-pretrained, set-up II and set-up III."""
    from salscope.models.deep import load_encoder  # noqa: PLC0415

    setups = ctx.upstream["train"]["setups"]
    return {
        "pretrained": load_encoder(ctx.config.train.backbone, weights=_weights(ctx)),
        "saliency": load_encoder(setups["saliency"]["checkpoint"]),
        "scene": load_encoder(setups["scene"]["checkpoint"]),
    }


def _limit(n: int, cap: int) -> int:
    return n if cap <= 0 else min(n, cap)


def _encoder_layers(ctx: StageContext, requested: list[str], count: int | None) -> list[str]:
    """The analysed layers: as configured, else the ``count`` exposed layers ending at the decoder's input.

    For VGG-16 with the paper's decoder (which reads conv5_3) and ``count=3``
    this is conv5_1, conv5_2, conv5_3 — the layers of the paper's figures and
    the depth its PyTorch demo fine-tunes. ``count=None`` gives every layer up to
    the decoder's input.
    """
    from salscope.models.backbones import get_backbone  # noqa: PLC0415
    from salscope.train.config import default_layers  # noqa: PLC0415

    if requested:
        return list(requested)
    backbone = get_backbone(ctx.config.train.backbone, weights=None)
    names = [info.name for info in backbone.feature_info]
    deepest = default_layers(backbone, ctx.config.train.decoder, None)[-1]
    names = names[: names.index(deepest) + 1]
    return names if count is None else names[-count:]


def check_inputs(config: StudyConfig, data_dir: Path | None) -> dict[str, str]:
    """Check every input folder/file the study needs before it starts; return their paths (provenance)."""
    root = resolve_data_dir(data_dir)
    needed = {
        "dataset": root / config.data.dataset,
        "regions": root / config.data.regions,
        "scene labels": root / config.data.scenes,
    }
    missing = [f"{what} at {path}" for what, path in needed.items() if not path.exists()]
    if missing:
        raise DataError(
            "the study cannot start: missing " + "; ".join(missing)
            + f" (data root {root}; set SALSCOPE_DATA or --data-dir, or change [data] in the config)"
        )
    provenance = {what: str(path.resolve()) for what, path in needed.items()}
    readme = root / config.data.dataset / "README.md"
    if readme.is_file():
        provenance["dataset README"] = readme.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    return provenance


# -- stages -------------------------------------------------------------------------------------------------
def stage_train(ctx: StageContext) -> dict[str, Any]:
    """Train set-ups I, II, III with the same schedule; resume a cut run from its last checkpoint."""
    from salscope.train import TrainConfig, train  # noqa: PLC0415

    t = ctx.config.train
    finetune_from = t.finetune_from or _encoder_layers(ctx, [], 3)[0]   # the paper's demo: conv5_1 on
    common = dict(
        backbone=t.backbone, weights=_weights(ctx), decoder=t.decoder, loss=t.loss, dataset=ctx.config.data.dataset,
        split_seed=ctx.config.data.split_seed, input_size=tuple(t.input_size), batch_size=t.batch_size, lr=t.lr,
        lr_decay=t.lr_decay, seed=t.seed, epochs=t.epochs, max_images=t.max_train_images or None,
        max_val_images=t.max_val_images or None, data_dir=str(_data_root(ctx)), threads=t.threads or None,
        progress=None,
    )
    setups: dict[str, Any] = {}
    rows = []
    for setup in ("fixed", "saliency", "scene"):
        out = ctx.folder / setup
        extra: dict[str, Any] = {}
        if setup != "fixed":
            extra["finetune_from"] = finetune_from
        if setup == "scene":
            extra["labels"] = str(_data_root(ctx) / ctx.config.data.scenes)
        resume = (out / "checkpoints" / "last.ckpt").is_file()
        ctx.log(f"[train] set-up {SETUP_LABELS[setup]}{' (resuming)' if resume else ''}")
        result = train(TrainConfig(setup=setup, out_dir=str(out), resume=resume, **common, **extra))
        checkpoint = result.best_checkpoint or result.last_checkpoint
        setups[setup] = {"checkpoint": str(checkpoint), "metrics": result.metrics, "epochs": result.epochs_run}
        rows.append({"set-up": SETUP_LABELS[setup], "epochs": result.epochs_run,
                     **{k: round(float(v), 4) for k, v in sorted(result.metrics.items())}})
    text = (f"Encoder {t.backbone} ({t.weights}), decoder '{t.decoder}', input {t.input_size[0]}×{t.input_size[1]}, "
            f"{t.epochs} epochs, Adam lr {t.lr} ×{t.lr_decay} per epoch; set-ups II and III fine-tune from "
            f"{finetune_from} on.")
    return {"setups": setups, "table": rows, "finetune_from": finetune_from, "text": text}


def _deep_models(ctx: StageContext, *, center_prior: bool | None = None) -> dict[str, Any]:
    """Set-ups I and II of this study and the built-in model, as saliency models named for the tables."""
    from salscope.models.deep import builtin_model, load_saliency_model  # noqa: PLC0415

    setups = ctx.upstream["train"]["setups"]
    models = {}
    for label, setup in (("set-up I", "fixed"), ("set-up II", "saliency")):
        model = load_saliency_model(setups[setup]["checkpoint"], center_prior=center_prior)
        model.name = label
        models[label] = model
    models["builtin"] = builtin_model(center_prior=center_prior)
    return models


def stage_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Score deep (I, II, built-in), classical and baseline models on the natural test split."""
    from salscope.analysis.evaluation import INTER_OBSERVER, evaluate  # noqa: PLC0415

    e = ctx.config.evaluate
    dataset = _dataset(ctx).split(e.split, seed=ctx.config.data.split_seed)
    deep = _deep_models(ctx)
    models: list[Any] = list(deep.values())
    kinds: dict[str, str] = {label: "deep" for label in deep}
    for name in e.classical:
        models.append(name)
        kinds[name] = "classical"
    models += ["center_bias", INTER_OBSERVER]
    kinds.update({"center_bias": "baseline", INTER_OBSERVER: "baseline"})
    result = evaluate(models, dataset, metrics=e.metrics, convention=e.convention,
                      max_images=e.max_images or None, seed=ctx.config.data.split_seed)
    result.write(ctx.folder)
    table = [{"model": model, "kind": kinds.get(model, "deep"), **{k: float(v) for k, v in scores.items()}}
             for model, scores in result.summary().items()]
    return {"table": table, "n_images": result.n_images, "split": e.split, "convention": e.convention,
            "metrics": list(e.metrics), "figures": []}


def stage_popout(ctx: StageContext) -> dict[str, Any]:
    """Generate the pop-out set and score deep and classical models on it, centre priors off."""
    from salscope.analysis.popout import evaluate_popout, resolve_model, write_popout_results  # noqa: PLC0415
    from salscope.data.popout import generate_benchmark  # noqa: PLC0415

    p = ctx.config.popout
    generate_benchmark(ctx.folder / "set", preset=p.preset, seed=p.seed)
    set_dir = ctx.folder / "set"
    deep = _deep_models(ctx, center_prior=False)
    models: list[Any] = list(deep.values())
    kinds: dict[str, str] = {label: "deep" for label in deep}
    for name in p.classical:
        model = resolve_model(name)      # centre prior off where the model has a switch
        models.append(model)
        kinds[model.name] = "classical"
    results = evaluate_popout(models, set_dir, max_images=p.max_images)
    files = write_popout_results(results, ctx.folder / "results")
    overall: dict[str, list[dict]] = {}
    by_dim = []
    for row in results.by_dimension():
        row = {"model": row["model"], "kind": kinds.get(row["model"], "deep"), **{k: v for k, v in row.items() if k != "model"}}
        by_dim.append(row)
        if row["dimension"] != "conjunction":
            overall.setdefault(row["model"], []).append(row)
    overall_rows = []
    for model, rows in overall.items():
        n = sum(r["n_images"] for r in rows)
        overall_rows.append({
            "model": model, "kind": rows[0]["kind"], "n_images": n,
            "fraction_first": sum(r["fraction_first"] * r["n_images"] for r in rows) / n,
            "fraction_found": sum(r["fraction_found"] * r["n_images"] for r in rows) / n,
            "mean_fixations": sum(r["mean_fixations"] * r["n_images"] for r in rows) / n,
        })
    figures = [{"path": str(path), "alt": f"Pop-out results per level for the {key.split('_', 1)[-1]} dimension",
                "caption": f"Fraction of targets found and fixations to find them vs target–distractor difference ({key})."}
               for key, path in files.items() if str(path).endswith(".png")]
    return {"overall": overall_rows, "by_dimension": by_dim, "figures": figures, "set": str(set_dir),
            "n_images": len({r["image"] for r in results.per_image}) if results.per_image and "image" in results.per_image[0] else None}


def stage_neurons(ctx: StageContext) -> dict[str, Any]:
    """Region-based NSS + Network Dissection for the pretrained, II and III encoders over the annotated images."""
    from salscope.analysis import neuron_figures as nf  # noqa: PLC0415
    from salscope.analysis.neurons import analyse_neurons, compare_neurons  # noqa: PLC0415
    from salscope.data.regions import load_voc_regions  # noqa: PLC0415
    n = ctx.config.neurons
    dataset = _dataset(ctx)
    regions = load_voc_regions(_data_root(ctx) / ctx.config.data.regions)
    annotated = [i for i, image_id in enumerate(dataset.ids) if image_id in regions]
    annotated = annotated[: _limit(len(annotated), n.max_images)]
    subset = dataset.subset(annotated)
    layers = _encoder_layers(ctx, n.layers, 3)
    encoders = _encoders(ctx)
    results = {}
    for name, encoder in encoders.items():
        ctx.log(f"[neurons] {name} encoder, {len(subset)} images, layers {', '.join(layers)}")
        results[name] = analyse_neurons(encoder, subset, regions, layers, name=name, input_size=n.input_size,
                                        batch_size=n.batch_size, top_k=n.top_k, threshold=n.threshold)
        results[name].save(ctx.folder / name)
    comparison = compare_neurons(results, reference="pretrained")
    comparison.save(ctx.folder)
    per_category = []
    for name, res in results.items():
        for row in res.summary_rows():
            if row["n_instances"]:
                per_category.append({"model": name, "layer": row["layer"], "category": row["category"],
                                     "instances": row["n_instances"], "topk_mean": row["top_k_mean"],
                                     "count_above": row["count_above_t"], "iou_detectors": row["iou_detectors"],
                                     "best_channels": row["best_channels"]})
    fig_dir = ctx.folder / "figures"
    figures_encoded = [
        {"path": str(nf.count_heatmap(results["pretrained"], fig_dir / "counts_pretrained.png")),
         "alt": "Heat map of channels with region NSS above T per layer and category, pretrained encoder",
         "caption": f"Channels with region NSS > {n.threshold} per layer and category (pretrained encoder)."},
    ]
    figures_bias = [
        {"path": str(nf.count_heatmap(results["saliency"], fig_dir / "counts_saliency.png")),
         "alt": "Heat map of channels above T per layer and category after saliency fine-tuning",
         "caption": "The same counts after saliency fine-tuning (set-up II)."},
        {"path": str(nf.before_after_bars(results, layers[-1], fig_dir / "before_after.png")),
         "alt": f"Bars of top-{n.top_k} mean region NSS per category before and after fine-tuning in {layers[-1]}",
         "caption": f"Top-{n.top_k} mean region NSS per category in {layers[-1]}: pretrained vs II vs III."},
    ]
    deepest = layers[-1]
    focus = "person head" if "person head" in results["pretrained"].categories else results["pretrained"].categories[0]
    figures_encoded.append({
        "path": str(nf.masked_activation_maps(encoders["pretrained"], subset, results["pretrained"], layers[0], focus,
                                              fig_dir / "masked_pretrained.png", input_size=n.input_size)),
        "alt": f"Images visible only where the pretrained encoder's best {focus} channels of {layers[0]} fire",
        "caption": f"The paper's Fig. 3: the top {focus} channels of {layers[0]} (pretrained), each image shown only "
                   "where the channel's activation is above T."})
    channel = _largest_gain(comparison.changes, "saliency", deepest, focus)
    if channel is not None:
        figures_bias.append({
            "path": str(nf.channel_before_after(encoders, subset, results, deepest, channel,
                                                fig_dir / f"channel_{deepest}_{channel}.png", category=focus,
                                                input_size=n.input_size)),
            "alt": f"Channel {channel} of {deepest} before and after fine-tuning, on the same images",
            "caption": f"The paper's Fig. 5: channel {channel} of {deepest}, the one whose {focus} score rose most "
                       "with saliency fine-tuning — pretrained, set-up II and set-up III rows on the same images."})
    changed = [{"model": r["model"], "layer": r["layer"], **{k: v for k, v in r.items() if k not in ("model", "layer")}}
               for r in comparison.best_rows]
    text = (f"{len(subset)} annotated images, {len(results['pretrained'].regions)} salient regions; layers "
            f"{', '.join(layers)}; top-k = {n.top_k}, T = {n.threshold}.")
    return {"layers": layers, "threshold": n.threshold, "top_k": n.top_k, "per_category": per_category,
            "changed": changed, "figures_encoded": figures_encoded, "figures_bias": figures_bias, "text": text,
            "n_images": len(subset)}


def _largest_gain(changes: list[dict[str, Any]], model: str, layer: str, category: str) -> int | None:
    """The channel of ``layer`` whose ``category`` score rose most from the reference to ``model``."""
    best, channel = -np.inf, None
    for row in changes:
        if row["model"] == model and row["layer"] == layer and row["category"] == category:
            gain = (row["score_after"] or 0.0) - (row["score_before"] or 0.0)
            if gain > best:
                best, channel = gain, int(row["channel"])
    return channel


def stage_compare(ctx: StageContext) -> dict[str, Any]:
    """Linear CKA between the pretrained, II and III encoders on the test images, with bootstrap intervals."""
    from salscope.analysis.compare import compare_models, write_comparison  # noqa: PLC0415
    c = ctx.config.compare
    dataset = _dataset(ctx).split(c.split, seed=ctx.config.data.split_seed)
    dataset = dataset.subset(range(_limit(len(dataset), c.max_images)))
    models = _encoders(ctx)
    layers = _encoder_layers(ctx, c.layers, None)
    comp = compare_models(models, dataset.stimuli, layers, image_ids=dataset.ids,
                          size=tuple(ctx.config.train.input_size), roles=["pretrained", "saliency", "scene"],
                          n_boot=c.bootstrap, seed=c.seed)
    files = write_comparison(comp, ctx.folder)
    per_layer = []
    for row in comp.verdict:
        out = {"layer": row["layer"], "cka_pre_saliency": 1 - row["change_saliency"],
               "cka_pre_scene": 1 - row["change_scene"], "cka_saliency_scene": row["cka_saliency_scene"]}
        if "task_minus_domain" in row:
            out["delta"] = row["task_minus_domain"]
            out["delta_ci"] = row.get("task_minus_domain_ci")
        per_layer.append(out)
    figures = [{"path": str(path), "alt": f"CKA figure {key.replace('_', ' ')}", "caption": key.replace("_", " ")}
               for key, path in files.items() if str(path).endswith(".png")]
    return {"per_layer": per_layer, "figures": figures, "layers": layers, "n_images": len(dataset),
            "text": f"{len(dataset)} {c.split} images, debiased linear CKA on spatially pooled activations, "
                    f"{c.bootstrap} bootstrap resamples."}


def build_stages(report: Any) -> list[Stage]:
    """The study's stages in order (``report`` is the report stage's function)."""
    return [
        Stage("train", ("data", "train"), stage_train, title="Train set-ups I, II, III"),
        Stage("evaluate", ("data", "evaluate"), stage_evaluate, upstream=("train",), title="Natural images"),
        Stage("popout", ("popout",), stage_popout, upstream=("train",), title="Pop-out arrays"),
        Stage("neurons", ("data", "neurons"), stage_neurons, upstream=("train",), title="Neuron analysis"),
        Stage("compare", ("data", "compare"), stage_compare, upstream=("train",), title="Representation change"),
    ]


def run_study(config: StudyConfig, out_dir: str | Path, *, data_dir: str | Path | None = None,
              only: list[str] | None = None, force: list[str] | None = None, log=print) -> Path:
    """Run (or resume) the study into ``out_dir`` and write ``out_dir/report/index.html``; return its path."""
    from salscope.study import report_stage  # noqa: PLC0415

    out_dir = Path(out_dir)
    data_dir = Path(data_dir) if data_dir is not None else None
    provenance = check_inputs(config, data_dir)
    records = run_stages(config, build_stages(None), out_dir, data_dir=data_dir, only=only, force=force, log=log)
    results = {r.name: r.results for r in records if r.results}
    stages = [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 1), "folder": str(r.folder.relative_to(out_dir))}
              for r in records]
    index = report_stage.render(config, results, stages, provenance, out_dir / "report")
    log(f"[report] {index}")
    return index
