"""``neurons``: region NSS and Network Dissection of the pretrained, II and III encoders on held-out images.

The same :func:`salscope.analysis.neurons.analyse_neurons` and :func:`~salscope.analysis.neurons.fig5_channel`
as ``salscope dissect``, with permutation nulls, random-initialisation references, bootstrap intervals and
the neuron browser's data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from salscope.analysis.neurons import evidence as ne
from salscope.analysis.neurons import figures as nf
from salscope.analysis.neurons import stats as ns
from salscope.analysis.neurons.analysis import (
    analyse_neurons,
    compare_neurons,
    fig5_channel,
)
from salscope.analysis.neurons.browser import browser_data, largest_gain
from salscope.data.regions import load_voc_regions
from salscope.devices import resolve_device
from salscope.errors import DataError
from salscope.io import finite_or_none as _num
from salscope.models.factory import encoder
from salscope.names import slug
from salscope.study import figures as sf
from salscope.study.runner import StageContext
from salscope.study.stages.common import (
    data_root,
    encoder_layers,
    limit,
    study_dataset,
    study_encoders,
)


def _random_encoder(ctx: StageContext, seed: int):
    """The study's backbone with random weights drawn from ``seed`` (finding 1's reference)."""

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

    n = ctx.config.neurons
    dataset = study_dataset(ctx)
    regions = load_voc_regions(data_root(ctx) / ctx.config.data.regions)
    annotated = [i for i, image_id in enumerate(dataset.ids) if image_id in regions]
    annotated = annotated[: limit(len(annotated), n.max_images)]
    subset = dataset.subset(annotated)
    overlap = check_held_out(list(subset.ids), ctx.upstream["train"], n.allow_trained_images)
    layers = encoder_layers(ctx, n.layers, 3)
    input_size = list(n.input_size) or list(ctx.config.train.input_size)
    encoders = {k: v for k, v in study_encoders(ctx).items() if k != "replicate"}   # II′ serves finding 4 only
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
