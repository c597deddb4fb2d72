"""``popout``: the pop-out benchmark, the same models with centre priors off.

The same :func:`salscope.analysis.popout.evaluate_popout` as ``salscope popout evaluate``; a gallery.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from salscope.analysis.gallery import pick_arrays, popout_gallery
from salscope.analysis.popout.scoring import (
    evaluate_popout,
    model_kind,
    resolve_model,
    write_popout_results,
)
from salscope.data.popout import generate_benchmark, load_popout_set
from salscope.study.runner import StageContext
from salscope.study.stages.common import (
    ORIGIN,
    TRAINED_HERE,
    deep_models,
    difference_figure,
    paired_contrast,
)


def stage_popout(ctx: StageContext) -> dict[str, Any]:
    """Generate the pop-out set and score deep and classical models on it, centre priors off.

    Finding 3's synthetic half: the best classical model against the best set-up
    trained here in the fraction of targets found by the first fixation
    (``[popout] hit``: item-level by default), paired bootstrap over arrays,
    conjunction controls left out.
    """

    p = ctx.config.popout
    generate_benchmark(ctx.folder / "set", preset=p.preset, seed=p.seed)
    set_dir = ctx.folder / "set"
    deep = deep_models(ctx, center_prior=False)
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
    c = paired_contrast(per_array, means, classical, list(TRAINED_HERE), n_boot=p.bootstrap, seed=p.seed)
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

        pset = load_popout_set(set_dir)
        picks = pick_arrays(pset.entries, sorted({r["name"] for r in results.per_image}))[: p.gallery]
        gallery = popout_gallery({getattr(m, "name", str(m)): m for m in models}, pset, picks, ctx.folder / "gallery",
                                 hit=p.hit)
    if c is not None:
        fig = difference_figure(per_array, c["first"], list(kinds), ctx.folder / "popout_differences.png",
                                 n_boot=p.bootstrap, seed=p.seed, xlabel=f"found first − {c['first']}",
                                 title=f"Pop-out: each model's targets found by the first fixation minus {c['first']}")
        figures = ([fig] if fig else []) + figures
    text = (f"{len(images)} pop-out arrays (conjunction controls left out of the verdict); a fixation hits when the "
            f"{'nearest item to it is the target' if p.hit == 'item' else p.hit + ' rule says so'}; centre priors off.")
    return {"overall": overall, "by_dimension": by_dim, "figures": figures, "set": str(set_dir), "gallery": gallery,
            "n_images": len(images), "contrast": contrast, "text": text, "hit": p.hit}
