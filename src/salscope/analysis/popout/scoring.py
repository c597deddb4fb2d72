"""Run saliency models over a pop-out set: per-image scores, tables and figures.

:func:`evaluate_popout` scores every model on every search array of a set made
by :func:`salscope.data.popout.generate_benchmark` with the odd-one-out metrics
of :mod:`salscope.metrics.popout` (fixations-to-find with inhibition of return,
the target's saliency rank among the items, global saliency index,
max-saliency ratios) and the standard fixation metrics (NSS, AUC-Judd) with
the target centre as the single fixation.

When a fixation counts as "on the target" is the ``hit`` rule:

- ``"item"`` (default): the fixation is assigned to the nearest item (by
  distance to the item centres); a hit when that item is the target. Later
  fixations inhibit the fixated item's whole nearest-item region. This credits
  a coarse map — a stride-16/32 deep map upsampled to the image — whose peak
  falls in the target's cell but beside its ink.
- ``"disc"``: P3's rule — a hit inside a disc around the target centre (radius
  ``disc_radius``, default the target's radius, P3's half target size);
  inhibition of return suppresses a distractor-sized disc.
- ``"ink"``: the rule before item-level scoring — a hit on the target's ink
  mask; inhibition of return as for ``"disc"``. Models are built with ``center_prior=False``
where they support the switch, because the target position is uniform over the
grid. :func:`write_popout_results` writes the per-image CSV, a summary per
model × dimension × level (JSON + markdown) and one figure per dimension.
The results' tables and reading them back are :mod:`salscope.analysis.popout.results`,
the figures :mod:`salscope.analysis.popout.figures`.

References
----------
Kotseruba, I., Wloka, C., Rasouli, A. & Tsotsos, J. K. (2019). Do saliency
    models detect odd-one-out targets? BMVC (P3 protocol).
He, S., Tavakoli, H. R., Borji, A., Mi, Y. & Pugeault, N. (2019).
    Understanding and visualizing deep visual saliency models. CVPR (claim 3:
    deep models beat classical ones on natural images, not on search arrays).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from salscope.analysis.popout.figures import plot_dimension
from salscope.analysis.popout.results import (
    PER_IMAGE_FIELDS,
    PopoutResults,
    fmt_value,
    summarise,
)
from salscope.data.popout import DIMENSIONS, PopoutSet, SearchArray, load_popout_set
from salscope.errors import AnalysisError
from salscope.io import write_csv, write_json, write_text
from salscope.metrics import auc_judd, nss
from salscope.metrics.popout import (
    HIT_RULES,
    MAX_FIXATIONS,
    fixations_to_find,
    fixations_to_find_item,
    global_saliency_index,
    max_saliency_ratios,
    target_rank,
)
from salscope.models.factory import parse_spec, parse_specs, saliency_model
from salscope.progress import track
from salscope.report.figures import pyplot, save_figure


def _check_hit(hit: str, disc_radius: float | None) -> None:
    if hit not in HIT_RULES:
        raise AnalysisError(
            f"hit={hit!r} is unknown; use 'item' (nearest item, the default), 'disc' (P3's disc around the "
            "target) or 'ink' (the target's ink mask)"
        )
    if disc_radius is not None:
        if hit != "disc":
            raise AnalysisError(f"disc_radius={disc_radius!r} applies to hit='disc' only (hit={hit!r})")
        if not (isinstance(disc_radius, (int, float)) and math.isfinite(disc_radius) and disc_radius > 0):
            raise AnalysisError(
                f"disc_radius={disc_radius!r} must be a number > 0 (pixels); omit it for the target's radius"
            )


def resolve_model(spec: Any, device: Any = None) -> Any:
    """The saliency model of a spec, built without its centre prior where it has a switch.

    Goes through :func:`salscope.models.factory.saliency_model`; a model whose
    registration says it takes ``center_prior=False`` is built so, the others
    (``center_bias`` is nothing but a prior) as they are — their
    ``center_prior`` attribute then says whether a prior stays on.
    """
    parsed = parse_spec(spec)
    if parsed.source == "object":
        return parsed.obj
    kwargs: dict[str, Any] = {"center_prior": False} if parsed.center_prior_switch else {}
    if device is not None:
        kwargs["device"] = device       # deep models only; numpy models run on the CPU
    return saliency_model(parsed, **kwargs)


def model_kind(model: Any) -> str:
    """``"deep"``, ``"classical"``, ``"baseline"`` or ``"other"``: the model's ``kind`` (its class says it)."""
    return str(getattr(model, "kind", "other"))


def score_search_array(
    saliency_map: np.ndarray,
    array: SearchArray,
    *,
    max_fixations: int = MAX_FIXATIONS,
    hit: str = "item",
    disc_radius: float | None = None,
) -> dict[str, Any]:
    """Every pop-out score of one map on one search array (a dict of floats/ints/bools).

    ``found``, ``found_first``, ``n_fixations`` follow the ``hit`` rule (see the
    module docstring): ``"item"`` runs :func:`fixations_to_find_item` over the
    array's item centres; ``"disc"`` runs :func:`fixations_to_find` with the
    hit mask ``array.target_disc(disc_radius)``; ``"ink"`` with
    ``array.target_mask``; both of the latter inhibit ``array.ior_radius``.
    ``target_rank`` / ``target_rank_norm`` rank the target among the items by
    the max of the map over each item's nearest-item region.
    """
    _check_hit(hit, disc_radius)
    smap = np.asarray(saliency_map, dtype=np.float64)
    if smap.shape != array.target_mask.shape:
        raise AnalysisError(
            f"saliency map of shape {smap.shape} does not match the search array {array.target_mask.shape}; "
            "models must return maps the size of their input"
        )
    centres, _, target = array.items()
    labels = array.item_labels()
    if hit == "item":
        search = fixations_to_find_item(smap, centres, target, max_fixations=max_fixations, labels=labels)
    else:
        mask = array.target_disc(disc_radius) if hit == "disc" else array.target_mask
        search = fixations_to_find(smap, mask, array.ior_radius, max_fixations=max_fixations)
    rank, rank_norm = target_rank(smap, centres, target, labels=labels)
    gsi = global_saliency_index(smap, array.target_mask, array.distractor_mask)
    msr_t, msr_b = max_saliency_ratios(smap, array.target_mask, array.distractor_mask)
    row: dict[str, Any] = {
        "found": bool(search.found),
        "found_first": bool(search.found and search.n_fixations == 1),
        "n_fixations": int(search.n_fixations),
        "target_rank": rank,
        "target_rank_norm": rank_norm,
        "gsi": gsi,
        "msr_target": msr_t,
        "msr_background": msr_b,
    }
    # The standard metrics with the target centre as the one fixation (P3's protocol).
    tx, ty = np.array([array.target_xy[0]]), np.array([array.target_xy[1]])
    row["nss"] = float(nss(smap, tx, ty))
    row["auc_judd"] = float(auc_judd(smap, tx, ty))
    return row


def evaluate_popout(
    models: Sequence[Any],
    set_dir: str | Path | PopoutSet,
    *,
    max_fixations: int = MAX_FIXATIONS,
    dimensions: Sequence[str] | None = None,
    max_images: int = 0,
    spread_images: int = 0,
    hit: str = "item",
    disc_radius: float | None = None,
    device: Any = None,
) -> PopoutResults:
    """Score each model on each search array of a set; see :class:`PopoutResults`.

    ``models`` holds registry names, checkpoint paths or model objects with a
    ``saliency_map(image)`` method. ``dimensions`` restricts the set (default:
    all it holds); ``max_images > 0`` keeps the first that many images of the
    (dimension-ordered) index, ``spread_images > 0`` that many evenly spaced
    through it, so that every dimension stays (what the study uses). ``hit``
    is the rule for a fixation on the target — ``"item"`` (nearest item,
    default), ``"disc"`` (P3: a disc of ``disc_radius`` px around the target
    centre, default each target's radius) or ``"ink"`` (the target's ink
    mask) — see :func:`score_search_array`. ``device`` places deep models built
    from specs (:mod:`salscope.devices`). Raises :class:`AnalysisError` for
    an empty model list, an unknown ``hit``, or a model whose map does not
    match its input's size.
    """
    _check_hit(hit, disc_radius)
    if not models:
        raise AnalysisError("models is empty: name at least one model (e.g. --models spectral_residual)")
    for arg, value in (("max_images", max_images), ("spread_images", spread_images)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise AnalysisError(f"{arg}={value!r} (--{arg.replace('_', '-')}) must be a whole number ≥ 0 (0 = all)")
    if max_images and spread_images:
        raise AnalysisError("max_images (the first N) and spread_images (N spread evenly) exclude each other; give one")
    if isinstance(max_fixations, bool) or not isinstance(max_fixations, (int, np.integer)) or max_fixations < 1:
        raise AnalysisError(f"max_fixations={max_fixations!r} (--max-fixations) must be a whole number ≥ 1 "
                            f"(P3: {MAX_FIXATIONS})")
    pset = set_dir if isinstance(set_dir, PopoutSet) else load_popout_set(set_dir)
    if dimensions is not None:
        unknown = [d for d in dimensions if d not in DIMENSIONS]
        if unknown:
            raise AnalysisError(f"dimensions {unknown} are unknown; use some of {', '.join(DIMENSIONS)}")
    indices = [i for i, e in enumerate(pset.entries) if dimensions is None or e["dimension"] in dimensions]
    if not indices:
        raise AnalysisError(f"no search arrays of dimensions {list(dimensions or [])} in {pset.folder}")
    if 0 < max_images < len(indices):
        indices = indices[:max_images]
    if 0 < spread_images < len(indices):
        keep = np.unique(np.linspace(0, len(indices) - 1, spread_images).round().astype(int))
        indices = [indices[k] for k in keep]

    specs = parse_specs(models)
    built = [resolve_model(s, device=device) for s in specs]
    names = [s.label for s in specs]
    notes = []
    for name, model in zip(names, built):
        if getattr(model, "center_prior", False):
            notes.append(f"{name}: its centre prior could not be switched off (center_prior=True)")

    per_image: list[dict] = []
    for i in track(indices, f"popout × {len(built)} models"):
        array = pset[i]
        meta = array.meta
        for name, model in zip(names, built):
            t0 = time.perf_counter()
            smap = model.saliency_map(array.image)
            seconds = time.perf_counter() - t0
            row = score_search_array(smap, array, max_fixations=max_fixations, hit=hit, disc_radius=disc_radius)
            per_image.append(
                {
                    "model": name,
                    "name": pset.entries[i]["name"],
                    "dimension": meta["dimension"],
                    "level": int(meta["level"]),
                    "level_value": fmt_value(meta["level_value"]),
                    "set_size": int(meta["set_size"]),
                    **row,
                    "seconds": seconds,
                }
            )
    return PopoutResults(
        per_image=per_image,
        summary=summarise(per_image, names, hit),
        models=[
            {"name": n, "kind": model_kind(m), "center_prior": bool(getattr(m, "center_prior", False))}
            for n, m in zip(names, built)
        ],
        set_dir=str(pset.folder),
        max_fixations=int(max_fixations),
        notes=notes,
        hit=hit,
        disc_radius=None if disc_radius is None else float(disc_radius),
    )


def write_popout_results(results: PopoutResults, out: str | Path, table_formats: Sequence[str] = ("md",)) -> dict[str, Path]:
    """Write ``per_image.csv``, ``summary.json``, ``summary.md`` and ``fig_<dimension>.png`` into ``out``.

    ``table_formats`` other than ``md`` (``csv``, ``tex``, ``json``) also
    write the key tables ``overall.<format>`` and ``by_dimension.<format>``.
    Figures come in the formats of :func:`salscope.report.figures.save_figure`.
    """
    plt = pyplot()

    out = Path(out)
    paths = {
        "per_image": write_csv(out / "per_image.csv", results.per_image, PER_IMAGE_FIELDS),
        "summary_json": write_json(
            out / "summary.json",
            {
                "set_dir": results.set_dir,
                "max_fixations": results.max_fixations,
                "hit": results.hit,
                "disc_radius": results.disc_radius,
                "models": results.models,
                "summary": [_jsonable(r) for r in results.summary],
                "overall": [_jsonable(r) for r in results.overall()],
                "by_dimension": results.by_dimension(),
                "notes": results.notes,
            },
        ),
        "summary_md": write_text(out / "summary.md", results.markdown()),
    }
    for fmt in table_formats:
        if fmt != "md":
            for name in ("overall", "by_dimension"):
                paths[f"{name}_{fmt}"] = results.write_tables(out / name, [fmt], table=name,
                                                              caption=f"Pop-out targets found ({name.replace('_', ' ')}), "
                                                                      f"hit rule {results.hit}")[fmt]
    for dim in DIMENSIONS:
        if any(r["dimension"] == dim for r in results.summary):
            fig = plot_dimension(results, dim)
            paths[f"fig_{dim}"] = save_figure(fig, out / f"fig_{dim}.png", dpi=100)
            plt.close(fig)
    return paths


def _jsonable(row: dict) -> dict:
    # JSON has no inf: write it as the string "inf" so the file stays strict JSON.
    return {k: ("inf" if isinstance(v, float) and math.isinf(v) else v) for k, v in row.items()}
