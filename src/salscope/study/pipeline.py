"""The study's stages and ``run_study``.

Stages, in order (each cached under ``OUT/stages/<stage>-<hash>/``):

``train``     set-ups I (encoder fixed), II (saliency fine-tune), II′ (II again
              with seed + 1) and III (scene fine-tune on the same images), none
              of them on the region-annotated images — :func:`salscope.train.train`.
``evaluate``  deep (I, II), classical, centre-bias and inter-observer models on
              the natural test split — :mod:`salscope.analysis.evaluation`; a
              gallery of their maps — :mod:`salscope.analysis.gallery`.
``popout``    generate the pop-out benchmark and score the same models with
              centre priors off — :mod:`salscope.analysis.popout`; a gallery.
``neurons``   region-based NSS and Network Dissection of the pretrained, II and
              III encoders on held-out annotated images, with permutation nulls,
              random-initialisation references and bootstrap intervals —
              :mod:`salscope.analysis.neurons`, :mod:`salscope.analysis.neuron_stats`;
              the neuron browser's data and thumbnails (``browser/``) —
              :mod:`salscope.analysis.neuron_browser`.
``compare``   linear CKA and Gram-change directions between pretrained, II, II′
              and III, task vs domain — :mod:`salscope.analysis.compare`.
``report``    ``OUT/report/index.html`` — :mod:`salscope.study.report_stage`; the
              verdicts are decided in :mod:`salscope.study.findings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from salscope.devices import lightning_devices, resolve_device
from salscope.errors import DataError
from salscope.io import finite_or_none as _num
from salscope.models.factory import INTER_OBSERVER, encoder, parse_spec, parse_specs, saliency_model
from salscope.names import slug
from salscope.settings import data_dir as resolve_data_dir
from salscope.report.figures import figure_formats, missing_formats
from salscope.study.config import StudyConfig
from salscope.study.runner import Stage, StageContext, run_stages

SETUP_LABELS = {"fixed": "I (encoder fixed)", "saliency": "II (saliency fine-tune)", "scene": "III (scene fine-tune)"}


# -- helpers ------------------------------------------------------------------------------------------------
def _data_root(ctx: StageContext) -> Path:
    return resolve_data_dir(ctx.data_dir)


def _dataset(ctx: StageContext):
    from salscope.data.loaders import load_dataset  # noqa: PLC0415

    return load_dataset(ctx.config.data.dataset, _data_root(ctx))


def _weights(ctx: StageContext) -> str | None:
    """``[train] weights``: "imagenet", a file, or "none" (random, for smoke tests) → what get_backbone takes."""
    w = ctx.config.train.weights
    return None if w.lower() == "none" else w


def _encoders(ctx: StageContext) -> dict[str, Any]:
    """The encoders the analyses compare: ImageNet-pretrained, set-up II, II′ (when trained) and set-up III."""
    setups = ctx.upstream["train"]["setups"]
    out = {"pretrained": encoder(ctx.config.train.backbone, weights=_weights(ctx))}
    for role in ("saliency", "replicate", "scene"):
        if role in setups:
            out[role] = encoder(f"ckpt:{setups[role]['checkpoint']}")
    return out


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
        # errors="replace": a README that is not UTF-8 is provenance, not input; never a reason to stop.
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
        provenance["dataset README"] = lines[0].lstrip("# ").strip() if lines else ""
    return provenance


# -- stages -------------------------------------------------------------------------------------------------
def annotated_ids(ctx: StageContext) -> list[str]:
    """Ids of the data set's images that have salient-region annotations (the neuron analysis' images)."""
    from salscope.data.regions import load_voc_regions  # noqa: PLC0415

    regions = load_voc_regions(_data_root(ctx) / ctx.config.data.regions)
    return [image_id for image_id in _dataset(ctx).ids if image_id in regions]


#: The set-ups the study trains: key, TrainConfig setup, seed offset, label.
SETUPS = (("fixed", "fixed", 0), ("saliency", "saliency", 0), ("replicate", "saliency", 1), ("scene", "scene", 0))
SETUP_LABELS["replicate"] = "II′ (saliency fine-tune, seed + 1)"


def stage_train(ctx: StageContext) -> dict[str, Any]:
    """Train set-ups I, II, II′ (II with another seed) and III with the same schedule; resume a cut run.

    The region-annotated images are kept out of training and validation
    (``[train] exclude_annotated``), so the neuron analysis never scores an
    encoder on the images it was fine-tuned on; the ids each set-up trained and
    validated on are recorded.
    """
    from salscope.train import TrainConfig, train  # noqa: PLC0415

    t = ctx.config.train
    finetune_from = t.finetune_from or _encoder_layers(ctx, [], 3)[0]   # the paper's demo: conv5_1 on
    exclude = annotated_ids(ctx) if t.exclude_annotated else []
    common = dict(
        backbone=t.backbone, weights=_weights(ctx), decoder=t.decoder, loss=t.loss, dataset=ctx.config.data.dataset,
        split_seed=ctx.config.data.split_seed, input_size=tuple(t.input_size), batch_size=t.batch_size, lr=t.lr,
        lr_decay=t.lr_decay, epochs=t.epochs, max_images=t.max_train_images or None,
        max_val_images=t.max_val_images or None, data_dir=str(_data_root(ctx)), threads=t.threads or None,
        progress=None, exclude_ids=exclude or None, patience=t.patience or None,
    )
    common["accelerator"], common["devices"] = lightning_devices(ctx.config.run.device)
    setups: dict[str, Any] = {}
    rows, images = [], []
    for key, setup, seed_offset in SETUPS:
        if key == "replicate" and not t.replicate:
            continue
        out = ctx.folder / key
        extra: dict[str, Any] = {"seed": t.seed + seed_offset}
        if setup != "fixed":
            extra["finetune_from"] = finetune_from
        if setup == "scene":
            extra["labels"] = str(_data_root(ctx) / ctx.config.data.scenes)
        resume = (out / "checkpoints" / "last.ckpt").is_file()
        ctx.log(f"[train] set-up {SETUP_LABELS[key]}{' (resuming)' if resume else ''}")
        result = train(TrainConfig(setup=setup, out_dir=str(out), resume=resume, **common, **extra))
        checkpoint = result.best_checkpoint or result.last_checkpoint
        setups[key] = {"checkpoint": str(checkpoint), "metrics": result.metrics, "epochs": result.epochs_run,
                       "train_ids": list(result.train_ids), "val_ids": list(result.val_ids), "seed": t.seed + seed_offset}
        rows.append({"set-up": SETUP_LABELS[key], "seed": t.seed + seed_offset, "epochs": result.epochs_run,
                     "train images": len(result.train_ids), "val images": len(result.val_ids),
                     **{k: round(float(v), 4) for k, v in sorted(result.metrics.items())}})
        images.append({"stage": "train", "use": f"set-up {SETUP_LABELS[key]}: training", "images": len(result.train_ids)})
        images.append({"stage": "train", "use": f"set-up {SETUP_LABELS[key]}: validation (chose the checkpoint)",
                       "images": len(result.val_ids)})
    stop = f", early stopping after {t.patience} epochs without gain on validation" if t.patience else ""
    text = (f"Encoder {t.backbone} ({t.weights}), decoder '{t.decoder}', input {t.input_size[0]}×{t.input_size[1]}, "
            f"up to {t.epochs} epochs{stop}, Adam lr {t.lr} ×{t.lr_decay} per epoch; set-ups II, II′ and III "
            f"fine-tune from {finetune_from} on. "
            + (f"The {len(exclude)} region-annotated images were kept out of training and validation."
               if exclude else "The region-annotated images were NOT kept out of training ([train] exclude_annotated = false)."))
    return {"setups": setups, "table": rows, "finetune_from": finetune_from, "text": text,
            "excluded_ids": exclude, "images_table": images}


TRAINED_HERE = ("set-up I", "set-up II")
ORIGIN = {"set-up I": "trained in this study (set-up I)", "set-up II": "trained in this study (set-up II)",
          "builtin": "shipped built-in model (not trained in this study)"}


def _deep_models(ctx: StageContext, *, center_prior: bool | None = None) -> dict[str, Any]:
    """Set-ups I and II of this study and the shipped built-in model, as saliency models named for the tables."""
    setups = ctx.upstream["train"]["setups"]
    specs = [parse_spec(f"ckpt:{setups[setup]['checkpoint']}", label=label)
             for label, setup in (("set-up I", "fixed"), ("set-up II", "saliency"))] + [parse_spec("builtin")]
    kwargs = {} if center_prior is None else {"center_prior": center_prior}
    return {s.label: saliency_model(s, device=ctx.config.run.device, **kwargs) for s in specs}


def _contrast(per_unit: dict[str, np.ndarray], summary: dict[str, float], first: list[str], second: list[str],
              *, n_boot: int, seed: int) -> dict[str, Any] | None:
    """Best of ``first`` minus best of ``second`` (by ``summary``), paired bootstrap over the units."""
    from salscope.analysis.intervals import paired_bootstrap  # noqa: PLC0415

    a = [m for m in first if m in per_unit and np.isfinite(summary.get(m, np.nan))]
    b = [m for m in second if m in per_unit and np.isfinite(summary.get(m, np.nan))]
    if not a or not b:
        return None
    best_a, best_b = max(a, key=lambda m: summary[m]), max(b, key=lambda m: summary[m])
    diff, lo, hi = paired_bootstrap(per_unit[best_a], per_unit[best_b], n_boot=n_boot, seed=seed)
    return {"first": best_a, "second": best_b, "first_value": float(np.nanmean(per_unit[best_a])),
            "second_value": float(np.nanmean(per_unit[best_b])), "diff": diff, "lo": lo, "hi": hi,
            "n_units": int(len(per_unit[best_a])), "n_boot": n_boot}


def _difference_figure(per_unit: dict[str, np.ndarray], reference: str, models: list[str], dest: Path, *,
                       n_boot: int, seed: int, xlabel: str, title: str) -> dict[str, Any] | None:
    """Bars of ``model − reference`` per model with paired-bootstrap 95 % intervals (finding 3's evidence)."""
    from salscope.analysis.intervals import paired_bootstrap  # noqa: PLC0415
    from salscope.study import figures as sf  # noqa: PLC0415

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


def stage_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Score deep (I, II, built-in), classical and baseline models on the natural test split.

    Finding 3's natural half: the best set-up trained here against the best
    classical model on ``[evaluate] decide_metric`` (shuffled AUC by default:
    a centre prior cannot win it), paired bootstrap over images.
    """
    from salscope.analysis.evaluation import evaluate  # noqa: PLC0415

    e = ctx.config.evaluate
    dataset = _dataset(ctx).split(e.split, seed=ctx.config.data.split_seed)
    deep = _deep_models(ctx)
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
    c = _contrast(per_image, means, list(TRAINED_HERE), list(e.classical), n_boot=e.bootstrap,
                  seed=ctx.config.data.split_seed)
    contrast = None if c is None else {"metric": metric, "deep": c["first"], "classical": c["second"],
                                       "deep_value": c["first_value"], "classical_value": c["second_value"],
                                       "diff": c["diff"], "lo": c["lo"], "hi": c["hi"], "n_images": c["n_units"]}
    figures = []
    if c is not None:
        fig = _difference_figure(per_image, c["second"], list(deep) + [m for m in e.classical if m != c["second"]],
                                 ctx.folder / "figures" / "natural_differences.png", n_boot=e.bootstrap,
                                 seed=ctx.config.data.split_seed, xlabel=f"{metric} − {c['second']}",
                                 title=f"Natural images: each model's {metric} minus the best classical ({c['second']})")
        figures += [fig] if fig else []
    gallery = None
    if e.gallery:
        from salscope.analysis.gallery import natural_gallery, spread  # noqa: PLC0415

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


def stage_popout(ctx: StageContext) -> dict[str, Any]:
    """Generate the pop-out set and score deep and classical models on it, centre priors off.

    Finding 3's synthetic half: the best classical model against the best set-up
    trained here in the fraction of targets found by the first fixation
    (``[popout] hit``: item-level by default), paired bootstrap over arrays,
    conjunction controls left out.
    """
    from salscope.analysis.popout import evaluate_popout, model_kind, resolve_model, write_popout_results  # noqa: PLC0415
    from salscope.data.popout import generate_benchmark  # noqa: PLC0415

    p = ctx.config.popout
    generate_benchmark(ctx.folder / "set", preset=p.preset, seed=p.seed)
    set_dir = ctx.folder / "set"
    deep = _deep_models(ctx, center_prior=False)
    models: list[Any] = list(deep.values())
    models += [resolve_model(name) for name in p.classical]   # centre prior off where the model has a switch
    kinds: dict[str, str] = {m.name: model_kind(m) for m in models}
    results = evaluate_popout(models, set_dir, spread_images=p.spread_images, hit=p.hit, device=ctx.config.run.device)
    files = write_popout_results(results, ctx.folder / "results")
    by_dim = [{"model": r["model"], "kind": kinds.get(r["model"], "deep"), "origin": ORIGIN.get(r["model"], "classical"),
               **{k: v for k, v in r.items() if k != "model"}} for r in results.by_dimension()]
    overall = [{"model": r["model"], "kind": kinds.get(r["model"], "deep"), "origin": ORIGIN.get(r["model"], "classical"),
                **{k: v for k, v in r.items() if k != "model"}} for r in results.overall(exclude=("conjunction",))]
    natural = [r for r in results.per_image if r.get("dimension") != "conjunction"]
    images = sorted({r["name"] for r in natural})
    per_array = {}
    for m in kinds:
        hits = {r["name"]: float(r["found_first"]) for r in natural if r["model"] == m}
        per_array[m] = np.asarray([hits.get(i, np.nan) for i in images])
    means = {m: float(np.nanmean(v)) if v.size else float("nan") for m, v in per_array.items()}
    classical = [m for m, k in kinds.items() if k == "classical"]
    c = _contrast(per_array, means, classical, list(TRAINED_HERE), n_boot=p.bootstrap, seed=p.seed)
    contrast = None if c is None else {"metric": "found at the first fixation", "hit": p.hit, "classical": c["first"],
                                       "deep": c["second"], "classical_value": c["first_value"],
                                       "deep_value": c["second_value"], "diff": c["diff"], "lo": c["lo"],
                                       "hi": c["hi"], "n_arrays": c["n_units"]}
    figures = [{"path": str(path), "alt": f"Pop-out results per level for the {key.split('_', 1)[-1]} dimension",
                "caption": f"Pop-out arrays of the {key.split('_', 1)[-1]} dimension: per model, the fraction of targets "
                           "found, found by the first fixation, the fixations needed to find them and the target's "
                           "saliency rank among the items, against the target–distractor difference (level)."}
               for key, path in files.items() if str(path).endswith(".png")]
    gallery = None
    if p.gallery:
        from salscope.analysis.gallery import pick_arrays, popout_gallery  # noqa: PLC0415
        from salscope.data.popout import load_popout_set  # noqa: PLC0415

        pset = load_popout_set(set_dir)
        picks = pick_arrays(pset.entries, sorted({r["name"] for r in results.per_image}))[: p.gallery]
        gallery = popout_gallery({getattr(m, "name", str(m)): m for m in models}, pset, picks, ctx.folder / "gallery",
                                 hit=p.hit)
    if c is not None:
        fig = _difference_figure(per_array, c["first"], list(kinds), ctx.folder / "popout_differences.png",
                                 n_boot=p.bootstrap, seed=p.seed, xlabel=f"found first − {c['first']}",
                                 title=f"Pop-out: each model's targets found by the first fixation minus {c['first']}")
        figures = ([fig] if fig else []) + figures
    text = (f"{len(images)} pop-out arrays (conjunction controls left out of the verdict); a fixation hits when the "
            f"{'nearest item to it is the target' if p.hit == 'item' else p.hit + ' rule says so'}; centre priors off.")
    return {"overall": overall, "by_dimension": by_dim, "figures": figures, "set": str(set_dir), "gallery": gallery,
            "n_images": len(images), "contrast": contrast, "text": text, "hit": p.hit}


def _random_encoder(ctx: StageContext, seed: int):
    """The study's backbone with random weights drawn from ``seed`` (finding 1's reference)."""
    import torch  # noqa: PLC0415

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return encoder(ctx.config.train.backbone, weights=None)


def _trained_ids(train: dict[str, Any]) -> dict[str, set[str]]:
    """``{set-up: ids it trained or validated on}`` for the encoders the neuron analysis scores."""
    return {key: set(info.get("train_ids", [])) | set(info.get("val_ids", []))
            for key, info in train["setups"].items() if key in ("saliency", "replicate", "scene")}


def check_held_out(analysed: list[str], train: dict[str, Any], allow: bool) -> list[str]:
    """Refuse (DataError) analysed images that a fine-tuned encoder trained on; return the overlap when allowed."""
    overlap = sorted(set(analysed) & set().union(*_trained_ids(train).values()))
    if overlap and not allow:
        raise DataError(
            f"{len(overlap)} of the {len(analysed)} images of the neuron analysis were used to train or validate "
            f"set-up II/III (e.g. {', '.join(overlap[:5])}): their neurons would be scored on their own training "
            "images. Keep [train] exclude_annotated = true, or set [neurons] allow_trained_images = true "
            "(the report then flags it)"
        )
    return overlap


def stage_neurons(ctx: StageContext) -> dict[str, Any]:
    """Region-based NSS + Network Dissection of the pretrained, II and III encoders, with finding 1–2 statistics.

    Images: the region-annotated images, none of which II/III trained on
    (:func:`check_held_out`). Finding 1: per layer and category a permutation
    null of the pretrained encoder's top-k mean and count above T (labels
    shuffled across region instances), Holm over categories × layers, and
    ``[neurons] random_seeds`` random-initialisation encoders as a second
    reference; cross-fitted top-k means and selective channels beside them.
    Finding 2: the gain pretrained → II per category over the channels scored in
    both, with a bootstrap interval over images, and person head − text.
    """
    from salscope.analysis import neuron_figures as nf  # noqa: PLC0415
    from salscope.analysis import neuron_evidence as ne  # noqa: PLC0415
    from salscope.analysis import neuron_stats as ns  # noqa: PLC0415
    from salscope.analysis.neurons import analyse_neurons, compare_neurons, fig5_channel  # noqa: PLC0415
    from salscope.data.regions import load_voc_regions  # noqa: PLC0415
    from salscope.study import figures as sf  # noqa: PLC0415

    n = ctx.config.neurons
    dataset = _dataset(ctx)
    regions = load_voc_regions(_data_root(ctx) / ctx.config.data.regions)
    annotated = [i for i, image_id in enumerate(dataset.ids) if image_id in regions]
    annotated = annotated[: _limit(len(annotated), n.max_images)]
    subset = dataset.subset(annotated)
    overlap = check_held_out(list(subset.ids), ctx.upstream["train"], n.allow_trained_images)
    layers = _encoder_layers(ctx, n.layers, 3)
    input_size = list(n.input_size) or list(ctx.config.train.input_size)
    encoders = {k: v for k, v in _encoders(ctx).items() if k != "replicate"}   # II′ serves finding 4 only
    kw = dict(input_size=input_size, batch_size=n.batch_size, top_k=n.top_k, threshold=n.threshold,
              device=resolve_device(ctx.config.run.device))
    results = {}
    for name, enc in encoders.items():
        ctx.log(f"[neurons] {name} encoder, {len(subset)} images, layers {', '.join(layers)}")
        results[name] = analyse_neurons(enc, subset, regions, layers, name=name, **kw)
        results[name].save(ctx.folder / slug(name))
    randoms = {}
    for k in range(n.random_seeds):
        name = f"random{k}"
        ctx.log(f"[neurons] random-initialisation encoder (seed {k})")
        randoms[name] = analyse_neurons(_random_encoder(ctx, 1000 + k), subset, regions, layers, name=name,
                                        dissection=False, **kw)
    comparison = compare_neurons(results, reference="pretrained")
    comparison.save(ctx.folder)
    pre = results["pretrained"]
    cats = pre.categories
    region_cat = [r["category"] for r in pre.regions]
    region_img = [r["image_id"] for r in pre.regions]
    seed = ctx.config.data.split_seed

    # -- finding 1: permutation null, random-init reference, Holm over categories × layers ----------------
    encoded, nulls = ne.encoding_table(pre, list(randoms.values()), layers, top_k=n.top_k, threshold=n.threshold,
                                       n_perm=n.permutations, alpha=n.alpha, seed=seed)

    # -- finding 2: gain pretrained → II with a bootstrap over images ----------------------------------------
    deepest = layers[-1]
    sal = results["saliency"]
    common = pre.layer(deepest).fires & sal.layer(deepest).fires
    gain_kw = dict(channels=common, top_k=n.top_k, n_boot=n.bootstrap, seed=seed)
    before_scores, after_scores = pre.layer(deepest).region_scores, sal.layer(deepest).region_scores
    boot = ns.bootstrap_gain(before_scores, after_scores, region_cat, region_img, cats, selection="cross_fitted",
                             **gain_kw)
    naive = ns.bootstrap_gain(before_scores, after_scores, region_cat, region_img, cats, **gain_kw)
    gain_rows = []
    n_instances = pre.category_scores(deepest).n_instances
    for k in np.argsort(-np.where(np.isfinite(boot.gain), boot.gain, -np.inf), kind="stable"):
        if not np.isfinite(boot.gain[k]):
            continue
        gain_rows.append({"category": cats[k], "instances": int(n_instances[k]),
                          "gain": _num(boot.gain[k]), "gain_lo": _num(boot.gain_ci[k, 0]),
                          "gain_hi": _num(boot.gain_ci[k, 1]), "gain_in_sample": _num(naive.gain[k]),
                          "excludes_0": bool(boot.gain_ci[k, 0] > 0 or boot.gain_ci[k, 1] < 0)})
    fav, dis = "person head", "text"
    contrast = None
    if fav in cats and dis in cats and np.isfinite(boot.contrast_diff):
        contrast = {"layer": deepest, "favoured": fav, "disfavoured": dis,
                    "gain_favoured": _num(boot.gain[cats.index(fav)]), "gain_disfavoured": _num(boot.gain[cats.index(dis)]),
                    "diff": _num(boot.contrast_diff), "lo": _num(boot.contrast_ci[0]), "hi": _num(boot.contrast_ci[1]),
                    "n_boot": n.bootstrap, "channels": int(common.sum()), "selection": "cross-fitted",
                    "diff_in_sample": _num(naive.contrast_diff), "lo_in_sample": _num(naive.contrast_ci[0]),
                    "hi_in_sample": _num(naive.contrast_ci[1])}

    per_category = []
    for name, res in {**results, **randoms}.items():
        for row in res.summary_rows():
            if row["n_instances"]:
                per_category.append({"model": name, "layer": row["layer"], "category": row["category"],
                                     "instances": row["n_instances"], "topk_mean": row["top_k_mean"],
                                     "count_above": row["count_above_t"], "iou_detectors": row["iou_detectors"],
                                     "best_channels": row["best_channels"]})
    fig_dir = ctx.folder / "figures"
    panels = []
    for cat in ("person head", "text", "symbol", "vehicle"):
        rows = [r for r in encoded if r["category"] == cat and r["instances"]]
        if not rows:
            continue
        row = min(rows, key=lambda r: r["p_holm"] if r["p_holm"] is not None else 2.0)
        k = cats.index(cat)
        rvals = [float(rnd.category_scores(row["layer"]).top_k_mean[k]) for rnd in randoms.values()]
        panels.append({"title": f"{cat}, {row['layer']}", "null": nulls[row["layer"]].null_top_k[:, k],
                       "observed": row["top_k_mean"], "random": rvals, "p": row["p_holm"]})
    figures_encoded = [
        {"path": str(sf.null_histograms(panels, fig_dir / "null_encoded.png")),
         "alt": "Permutation null distributions of the top-k mean region NSS for person head, text, symbol and vehicle",
         "caption": f"Finding 1's test: the pretrained encoder's top-{n.top_k} mean (red) against {n.permutations} "
                    "label permutations (grey) and the random-initialisation encoders (blue dashes), in each "
                    "category's most significant layer."},
        {"path": str(nf.count_heatmap(pre, fig_dir / "counts_pretrained.png")),
         "alt": "Heat map of channels with region NSS above T per layer and category, pretrained encoder",
         "caption": f"Channels with region NSS > {n.threshold} per layer and category (pretrained encoder)."},
    ]
    figures_bias = []
    if contrast is not None:
        figures_bias.append({
            "path": str(sf.bootstrap_histogram(boot.contrast_boot, (contrast["lo"], contrast["hi"]), contrast["diff"],
                                               fig_dir / "bootstrap_bias.png",
                                               xlabel=f"gain({fav}) − gain({dis}), top-{n.top_k} mean region NSS",
                                               title=f"Finding 2's test in {deepest}: {n.bootstrap} image resamples")),
            "alt": "Bootstrap distribution of the person-head minus text gain with its 95 % interval",
            "caption": "Finding 2's test: the head − text gain difference over image resamples; the verdict needs the "
                       "shaded 95 % interval to exclude 0."})
    if gain_rows:
        figures_bias.append({
            "path": str(sf.interval_bars(gain_rows, fig_dir / "gain_ranked.png", label="category", value="gain",
                                         lo="gain_lo", hi="gain_hi", xlabel="gain of the top-k mean region NSS",
                                         title=f"Pretrained → set-up II in {deepest}, ranked")),
            "alt": "Bars of the fine-tuning gain per category with bootstrap intervals, ranked",
            "caption": "Which categories saliency fine-tuning favours: gain per category with 95 % bootstrap intervals."})
    figures_bias += [
        {"path": str(nf.count_heatmap(sal, fig_dir / "counts_saliency.png")),
         "alt": "Heat map of channels above T per layer and category after saliency fine-tuning",
         "caption": "The same counts after saliency fine-tuning (set-up II)."},
        {"path": str(nf.before_after_bars(results, deepest, fig_dir / "before_after.png", metric="top_k_mean")),
         "alt": f"Bars of top-{n.top_k} mean region NSS per category before and after fine-tuning in {deepest}",
         "caption": f"Top-{n.top_k} mean region NSS per category in {deepest}: pretrained vs II vs III."},
    ]
    focus = "person head" if "person head" in cats else cats[0]
    figures_encoded.append({
        "path": str(nf.masked_activation_maps(encoders["pretrained"], subset, pre, layers[0], focus,
                                              fig_dir / "masked_pretrained.png", input_size=input_size)),
        "alt": f"Images visible only where the pretrained encoder's best {focus} channels of {layers[0]} fire",
        "caption": f"The paper's Fig. 3: the top {focus} channels of {layers[0]} (pretrained), each image shown only "
                   "where the channel's activation is above T."})
    pick = fig5_channel(comparison, "saliency", deepest, focus)
    channel = None if pick is None else pick[1]
    if channel is not None:
        figures_bias.append({
            "path": str(nf.channel_before_after(encoders, subset, results, deepest, channel,
                                                fig_dir / f"channel_{slug(deepest)}_{channel}.png", category=focus,
                                                input_size=input_size)),
            "alt": f"Channel {channel} of {deepest} before and after fine-tuning, on the same images",
            "caption": f"The paper's Fig. 5: channel {channel} of {deepest}, the one whose {focus} score rose most "
                       "with saliency fine-tuning — pretrained, set-up II and set-up III rows on the same images."})
    browser = None
    if n.browser_images:
        from salscope.analysis.neuron_browser import browser_data, largest_gain  # noqa: PLC0415

        ctx.log(f"[neurons] neuron browser: {n.browser_images} images per channel and encoder")
        browser_data(results, encoders, subset, regions, ctx.folder / "browser", reference="pretrained",
                     labels={"pretrained": "pretrained", "saliency": "II (saliency)", "scene": "III (scene)"},
                     n_images=n.browser_images, batch_size=n.batch_size)
        browser = {"folder": str(ctx.folder / "browser"),
                   "largest_gain": largest_gain(results, "pretrained", "saliency", deepest, focus)}
    changed = [{"model": r["model"], "layer": r["layer"], **{k: v for k, v in r.items() if k not in ("model", "layer")}}
               for r in comparison.best_rows]
    few = sum(1 for r in pre.regions if r["n_fixations"] < 3)
    text = (f"{len(subset)} annotated images, {len(pre.regions)} salient regions ({few} with fewer than 3 fixations "
            f"inside the exact mask); layers {', '.join(layers)} at {input_size[0]}×{input_size[1]} (the training "
            f"input size unless [neurons] input_size says otherwise); top-k = {n.top_k}, T = {n.threshold}. "
            + ("None of these images was used to train or validate set-ups II, II′ or III."
               if not overlap else f"WARNING: {len(overlap)} of these images were used to train or validate a "
               "fine-tuned set-up ([neurons] allow_trained_images = true): its scores are biased upwards."))
    encoded_text = (f"A category is encoded in a layer when its top-{n.top_k} mean beats {n.permutations} label "
                    f"permutations (Holm over {len(encoded)} category × layer tests, α = {n.alpha}) and its excess "
                    f"over the null is larger than in each of {len(randoms)} random-initialisation encoders. "
                    "'count_excess' is the count above T minus its null mean: a category with few instances has a "
                    "noisier mean and crosses T more often by chance. 'cross_top_k' selects the top-k channels on "
                    "half of the images and scores them on the other half (the in-sample figure is inflated by "
                    "selection; the permutation null selects the same way, so its test is fair).")
    gain_text = (f"Gains over the {int(common.sum())} channels of {deepest} scored in both encoders, cross-fitted: each "
                 "model's top-k channels are chosen on a random half of the images and scored on the other half "
                 "(in-sample gains, inflated by the selection, beside them); intervals from "
                 f"{n.bootstrap} resamples of the annotated images (all regions of a drawn image come along).")
    return {"layers": layers, "threshold": n.threshold, "top_k": n.top_k, "per_category": per_category,
            "changed": changed, "figures_encoded": figures_encoded, "figures_bias": figures_bias, "text": text,
            "n_images": len(subset), "image_ids": list(subset.ids), "overlap_ids": overlap, "encoded": encoded,
            "alpha": n.alpha, "random_seeds": len(randoms), "permutations": n.permutations, "gain": gain_rows, "contrast": contrast,
            "encoded_text": encoded_text, "gain_text": gain_text, "regions_few_fixations": few,
            "input_size": input_size, "n_regions": len(pre.regions), "browser": browser}


def _scene_mix(ctx: StageContext) -> str:
    """The three commonest scene classes among set-up III's training images and their share (finding 4's text)."""
    import csv  # noqa: PLC0415

    ids = set(ctx.upstream["train"]["setups"].get("scene", {}).get("train_ids", []))
    path = _data_root(ctx) / ctx.config.data.scenes
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
    set-up II (:func:`salscope.analysis.compare_verdict.task_vs_domain_decision`).
    """
    from salscope.analysis.compare import compare_models  # noqa: PLC0415
    from salscope.analysis.compare_outputs import write_comparison  # noqa: PLC0415
    c = ctx.config.compare
    dataset = _dataset(ctx).split(c.split, seed=ctx.config.data.split_seed)
    dataset = dataset.subset(range(_limit(len(dataset), c.max_images)))
    models = _encoders(ctx)
    layers = _encoder_layers(ctx, c.layers, None)
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
    from salscope.study.figures import compare_figures  # noqa: PLC0415

    figures = compare_figures(comp, files, ctx.folder, len(dataset), finetune_from)
    rows = [{"layer": r["layer"], "task_effect": r.get("task_effect"), "lo": (r.get("task_effect_ci") or [None, None])[0],
             "hi": (r.get("task_effect_ci") or [None, None])[1]} for r in per_layer if r["fine_tuned"]]
    if any(r["task_effect"] is not None for r in rows):
        from salscope.study import figures as sf  # noqa: PLC0415

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


def build_stages(report: Any) -> list[Stage]:
    """The study's stages in order (``report`` is the report stage's function)."""
    return [
        Stage("train", ("data", "train"), stage_train, title="Train set-ups I, II, II′, III"),
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
    with figure_formats(config.report.figure_formats):   # every stage figure in the formats [report] names
        records = run_stages(config, build_stages(None), out_dir, data_dir=data_dir, only=only, force=force, log=log)
    for r in records:
        if r.status == "cached" and (lacking := missing_formats(r.results, config.report.figure_formats)):
            log(f"[{r.name}] its cached figures have no {'/'.join(lacking)} files ([report] figure_formats changed "
                f"since the stage ran); rerun with --force {r.name} to draw them")
    results = {r.name: r.results for r in records if r.results}
    stages = [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 1), "folder": str(r.folder.relative_to(out_dir))}
              for r in records]
    index = report_stage.render(config, results, stages, provenance, out_dir / "report")
    log(f"[report] {index}")
    return index
