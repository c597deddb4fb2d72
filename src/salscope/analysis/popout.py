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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from salscope.analysis.tabular import TabularResult
from salscope.data.popout import DIMENSIONS, LEVEL_UNITS, LEVELS, PopoutSet, SearchArray, load_popout_set
from salscope.errors import AnalysisError, ModelError
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
from salscope.report.figures import pyplot, save_figure
from salscope.report.tables import columns_of

PER_IMAGE_FIELDS = [
    "model",
    "name",
    "dimension",
    "level",
    "level_value",
    "set_size",
    "found",
    "found_first",
    "n_fixations",
    "target_rank",
    "target_rank_norm",
    "gsi",
    "msr_target",
    "msr_background",
    "nss",
    "auc_judd",
    "seconds",
]
SUMMARY_FIELDS = [
    "model",
    "dimension",
    "level",
    "level_value",
    "n_images",
    "fraction_found",
    "fraction_first",
    "mean_fixations",
    "median_fixations",
    "mean_target_rank",
    "fraction_rank1",
    "mean_gsi",
    "median_msr_target",
    "median_msr_background",
    "mean_nss",
    "mean_auc_judd",
    "hit",
]


@dataclass(repr=False)
class PopoutResults(TabularResult):
    """Scores of several models on one pop-out set.

    Attributes
    ----------
    per_image : one dict per (model, image) with the fields of ``PER_IMAGE_FIELDS``:
        ``found``, ``found_first``, ``n_fixations`` under the ``hit`` rule;
        ``target_rank`` (1 = the target is the most salient item, ties
        mid-ranked) and ``target_rank_norm`` ((rank − 1) / (n − 1): 0 best,
        0.5 chance, 1 worst), which do not depend on the rule.
    summary : one dict per (model, dimension, level) with ``SUMMARY_FIELDS``:
        ``fraction_found`` (target hit within ``max_fixations``),
        ``fraction_first`` (hit by the first fixation: the map's maximum),
        ``mean_fixations`` / ``median_fixations`` (unfound searches count as
        ``max_fixations``, so the mean is a lower bound), ``mean_target_rank``,
        ``fraction_rank1`` (target strictly the most salient item), mean GSI,
        median MSRs (medians because a ratio is ``inf`` when its denominator
        is 0), mean NSS and AUC-Judd at the target centre (``None`` when
        unavailable), ``hit``.
    models : ``{"name", "kind", "center_prior"}`` per model, as evaluated.
    set_dir, max_fixations : what was evaluated and how.
    hit, disc_radius : the hit rule (``"item"``, ``"disc"``, ``"ink"``) and the
        disc radius of ``"disc"`` (``None``: each target's radius).

    Tables (:class:`~salscope.analysis.tabular.TabularResult`): ``per_image``,
    ``summary``, ``overall`` and ``by_dimension``.
    """

    per_image: list[dict]
    summary: list[dict]
    models: list[dict]
    set_dir: str
    max_fixations: int = MAX_FIXATIONS
    notes: list[str] = field(default_factory=list)
    hit: str = "item"
    disc_radius: float | None = None

    def _tables(self) -> dict[str, tuple[list[str], list[dict]]]:
        def pooled(rows: list[dict]) -> tuple[list[str], list[dict]]:
            return columns_of(rows), rows

        return {"per_image": (list(PER_IMAGE_FIELDS), self.per_image), "summary": (list(SUMMARY_FIELDS), self.summary),
                "overall": lambda: pooled(self.overall()), "by_dimension": lambda: pooled(self.by_dimension())}

    def by_dimension(self) -> list[dict]:
        """Rows per (model, dimension), pooled over levels and set sizes.

        Fields: model, dimension, n_images, fraction_found, fraction_first,
        mean_fixations, mean_gsi, mean_target_rank, fraction_rank1 (``None``
        for results saved before ranks existed), hit.
        """
        out = []
        for m in [mm["name"] for mm in self.models]:
            for dim in DIMENSIONS:
                rows = [r for r in self.per_image if r["model"] == m and r["dimension"] == dim]
                if rows:
                    out.append({"model": m, "dimension": dim, **_pool(rows), "hit": self.hit})
        return out

    def overall(
        self,
        exclude: Sequence[str] = ("conjunction",),
        *,
        kinds: Mapping[str, str] | None = None,
        default_kind: str | None = None,
    ) -> list[dict]:
        """One row per model pooled over every image whose dimension is not in ``exclude``.

        Fields: model, kind, n_images, fraction_found, fraction_first,
        mean_fixations, mean_gsi, mean_target_rank, fraction_rank1, hit, and
        the conjunction control's conjunction_fraction_found and
        conjunction_fraction_first (``None`` when the set has none). Pooling
        the images equals weighting :meth:`by_dimension` rows by
        ``n_images``. ``kind`` is ``kinds[model]`` when given, else
        ``default_kind`` when given, else the kind recorded at evaluation
        (``classical``/``deep``/``other``, from the model's module).
        """
        unknown = [d for d in exclude if d not in DIMENSIONS]
        if isinstance(exclude, str) or unknown:
            raise AnalysisError(
                f"exclude={exclude!r}: give a sequence of dimensions to leave out, some of {', '.join(DIMENSIONS)}"
            )
        kinds = dict(kinds or {})
        out = []
        for mm in self.models:
            m = mm["name"]
            rows = [r for r in self.per_image if r["model"] == m and r["dimension"] not in exclude]
            conj = [r for r in self.per_image if r["model"] == m and r["dimension"] == "conjunction"]
            kind = kinds.get(m, default_kind if default_kind is not None else mm.get("kind", "other"))
            out.append(
                {
                    "model": m,
                    "kind": kind,
                    **_pool(rows),
                    "hit": self.hit,
                    "conjunction_fraction_found": _mean(conj, "found"),
                    "conjunction_fraction_first": _mean(conj, "found_first"),
                }
            )
        return out

    def markdown(self) -> str:
        """Markdown: a model × dimension overview, then one model × level table per dimension."""
        models = [mm["name"] for mm in self.models]
        lines = [f"# Pop-out evaluation of {self.set_dir}", ""]
        lines.append(f"Hit rule: `{self.hit}` ({_HIT_TEXT[self.hit]}).")
        lines.append("")
        lines.append(
            f"Per dimension, pooled over levels and set sizes: fraction of targets found within "
            f"{self.max_fixations} fixations (inhibition of return) · fraction found by the first fixation · "
            "mean fixations to find · mean target rank among the items (1 = most salient) · "
            "mean global saliency index."
        )
        lines.append("")
        dims = [d for d in DIMENSIONS if any(r["dimension"] == d for r in self.per_image)]
        lines.append("| model | " + " | ".join(dims) + " |")
        lines.append("|---|" + "---|" * len(dims))
        pooled = {(r["model"], r["dimension"]): r for r in self.by_dimension()}
        for m in models:
            cells = []
            for d in dims:
                r = pooled.get((m, d))
                cells.append(
                    "–"
                    if r is None
                    else f"{r['fraction_found']:.2f} · {r['fraction_first']:.2f} · {r['mean_fixations']:.1f} · "
                    f"{_fmt_opt(r['mean_target_rank'], '.1f')} · {r['mean_gsi']:+.2f}"
                )
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        for d in dims:
            rows = [r for r in self.summary if r["dimension"] == d]
            levels = sorted({r["level"] for r in rows})
            lines += ["", f"## {d}", ""]
            lines.append(
                "Fraction found · found first · mean fixations-to-find · mean target rank, per level "
                f"({LEVEL_UNITS[d]} in brackets)."
            )
            lines.append("")
            lines.append(
                "| model | " + " | ".join(f"L{lv} ({_fmt_value(LEVELS[d][lv])})" for lv in levels) + " |"
            )
            lines.append("|---|" + "---|" * len(levels))
            for m in models:
                cells = []
                for lv in levels:
                    hit = [r for r in rows if r["model"] == m and r["level"] == lv]
                    cells.append(
                        "–"
                        if not hit
                        else f"{hit[0]['fraction_found']:.2f} · {hit[0]['fraction_first']:.2f} · "
                        f"{hit[0]['mean_fixations']:.1f} · {_fmt_opt(hit[0]['mean_target_rank'], '.1f')}"
                    )
                lines.append(f"| {m} | " + " | ".join(cells) + " |")
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


_HIT_TEXT = {
    "item": "a fixation is on the item whose centre is nearest; inhibition of return suppresses that item's region",
    "disc": "P3's rule: a fixation within a disc around the target centre; inhibition of return suppresses a "
    "distractor-sized disc",
    "ink": "a fixation on the target's ink; inhibition of return suppresses a distractor-sized disc",
}


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def _pool(rows: list[dict]) -> dict[str, Any]:
    """Pooled scores of per-image rows (one model): the fields by_dimension and overall share."""
    ranks = [r.get("target_rank") for r in rows]
    have_ranks = bool(rows) and all(v is not None for v in ranks)
    return {
        "n_images": len(rows),
        "fraction_found": _mean(rows, "found"),
        "fraction_first": _mean(rows, "found_first"),
        "mean_fixations": _mean(rows, "n_fixations"),
        "mean_gsi": _mean(rows, "gsi"),
        "mean_target_rank": float(np.mean(ranks)) if have_ranks else None,
        "fraction_rank1": float(np.mean([v == 1.0 for v in ranks])) if have_ranks else None,
    }


def _fmt_opt(v: float | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


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


def _fmt_value(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return "×".join(_fmt_value(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def resolve_model(spec: Any) -> Any:
    """A model instance from a registry name / checkpoint path, or the object itself.

    Names are built with ``center_prior=False``; a factory that does not take
    the switch, or refuses it (``center_bias`` is nothing but a prior), is built
    without it (its ``center_prior`` attribute says whether a prior stays on).
    """
    if hasattr(spec, "saliency_map"):
        return spec
    from salscope.models.registry import get_model  # noqa: PLC0415

    try:
        return get_model(str(spec), center_prior=False)
    except (TypeError, ModelError) as exc:
        if "center_prior" not in str(exc):
            raise
        return get_model(str(spec))


def model_kind(model: Any) -> str:
    """``"classical"`` or ``"deep"`` from the module that defines the model's class, else ``"other"``."""
    module = type(model).__module__
    if module.startswith("salscope.models.classical"):
        return "classical"
    if module.startswith(("salscope.models.deep", "salscope.train")):
        return "deep"
    return "other"


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


def _summarise(per_image: list[dict], models: list[str], hit: str) -> list[dict]:
    out = []
    for m in models:
        for dim in DIMENSIONS:
            for lv in range(len(LEVELS[dim])):
                rows = [r for r in per_image if r["model"] == m and r["dimension"] == dim and r["level"] == lv]
                if not rows:
                    continue
                fix = np.array([r["n_fixations"] for r in rows], dtype=np.float64)
                pooled = _pool(rows)
                out.append(
                    {
                        "model": m,
                        "dimension": dim,
                        "level": lv,
                        "level_value": rows[0]["level_value"],
                        "n_images": len(rows),
                        "fraction_found": float(np.mean([r["found"] for r in rows])),
                        "fraction_first": float(np.mean([r["found_first"] for r in rows])),
                        "mean_fixations": float(fix.mean()),
                        "median_fixations": float(np.median(fix)),
                        "mean_target_rank": pooled["mean_target_rank"],
                        "fraction_rank1": pooled["fraction_rank1"],
                        "mean_gsi": _mean(rows, "gsi"),
                        "median_msr_target": float(np.median([r["msr_target"] for r in rows])),
                        "median_msr_background": float(np.median([r["msr_background"] for r in rows])),
                        "mean_nss": _mean(rows, "nss"),
                        "mean_auc_judd": _mean(rows, "auc_judd"),
                        "hit": hit,
                    }
                )
    return out


def evaluate_popout(
    models: Sequence[Any],
    set_dir: str | Path | PopoutSet,
    *,
    max_fixations: int = MAX_FIXATIONS,
    dimensions: Sequence[str] | None = None,
    max_images: int = 0,
    hit: str = "item",
    disc_radius: float | None = None,
) -> PopoutResults:
    """Score each model on each search array of a set; see :class:`PopoutResults`.

    ``models`` holds registry names, checkpoint paths or model objects with a
    ``saliency_map(image)`` method. ``dimensions`` restricts the set (default:
    all it holds); ``max_images > 0`` keeps that many images evenly spaced
    through the (dimension-ordered) index, so every dimension stays. ``hit``
    is the rule for a fixation on the target — ``"item"`` (nearest item,
    default), ``"disc"`` (P3: a disc of ``disc_radius`` px around the target
    centre, default each target's radius) or ``"ink"`` (the target's ink
    mask) — see :func:`score_search_array`. Raises :class:`AnalysisError` for
    an empty model list, an unknown ``hit``, or a model whose map does not
    match its input's size.
    """
    from salscope.progress import track  # noqa: PLC0415

    _check_hit(hit, disc_radius)
    if not models:
        raise AnalysisError("models is empty: name at least one model (e.g. --models spectral_residual)")
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) or max_images < 0:
        raise AnalysisError(f"max_images={max_images!r} (--max-images) must be a whole number ≥ 0 (0 = all)")
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
        keep = np.unique(np.linspace(0, len(indices) - 1, max_images).round().astype(int))
        indices = [indices[k] for k in keep]

    built = [resolve_model(m) for m in models]
    names = []
    for i, (spec, model) in enumerate(zip(models, built)):
        name = spec if isinstance(spec, str) else getattr(model, "name", f"model{i}")
        names.append(name if name not in names else f"{name}#{i}")
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
                    "level_value": _fmt_value(meta["level_value"]),
                    "set_size": int(meta["set_size"]),
                    **row,
                    "seconds": seconds,
                }
            )
    return PopoutResults(
        per_image=per_image,
        summary=_summarise(per_image, names, hit),
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


def plot_dimension(results: PopoutResults, dimension: str) -> Any:
    """Figure: fraction found, found first, mean fixations-to-find and mean target rank vs level, per model."""
    plt = pyplot()

    rows = [r for r in results.summary if r["dimension"] == dimension]
    if not rows:
        raise AnalysisError(f"no results for dimension '{dimension}'")
    levels = sorted({r["level"] for r in rows})
    fig, axes = plt.subplots(1, 4, figsize=(15.5, 3.2), constrained_layout=True)
    for m in [mm["name"] for mm in results.models]:
        mr = sorted((r for r in rows if r["model"] == m), key=lambda r: r["level"])
        if not mr:
            continue
        xs = [r["level"] for r in mr]
        axes[0].plot(xs, [r["fraction_found"] for r in mr], marker="o", label=m)
        axes[1].plot(xs, [r["fraction_first"] for r in mr], marker="o", label=m)
        axes[2].plot(xs, [r["mean_fixations"] for r in mr], marker="o", label=m)
        if all(r["mean_target_rank"] is not None for r in mr):
            axes[3].plot(xs, [r["mean_target_rank"] for r in mr], marker="o", label=m)
    labels = [_fmt_value(LEVELS[dimension][lv]) for lv in levels]
    for ax in axes:
        ax.set_xticks(levels)
        ax.set_xticklabels(labels)
        ax.set_xlabel(f"level: {dimension} difference")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_ylabel(f"fraction found (≤ {results.max_fixations} fixations)")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("fraction found by the 1st fixation")
    axes[2].set_ylabel(f"mean fixations to find (cap {results.max_fixations})")
    axes[2].set_yscale("log")
    axes[3].set_ylabel("mean target rank among the items")
    axes[3].set_yscale("log")
    # Results saved before ranks existed leave the rank panel empty; the legend goes beside the last drawn one.
    (axes[3] if axes[3].lines else axes[2]).legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"pop-out: {dimension} (hit rule: {results.hit})")
    return fig


def write_popout_results(results: PopoutResults, out: str | Path, table_formats: Sequence[str] = ("md",)) -> dict[str, Path]:
    """Write ``per_image.csv``, ``summary.json``, ``summary.md`` and ``fig_<dimension>.png`` into ``out``.

    ``table_formats`` other than ``md`` (``csv``, ``tex``, ``json``) also
    write the key tables ``overall.<format>`` and ``by_dimension.<format>``.
    Figures come in the formats of :func:`salscope.report.figures.save_figure`.
    """
    plt = pyplot()
    from salscope.io import write_csv, write_json, write_text  # noqa: PLC0415

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


def montage(arrays: Sequence[SearchArray], columns: int, *, gap: int = 4, background: int = 255) -> np.ndarray:
    """Tile search-array images (equal size) into one uint8 RGB image, ``columns`` per row."""
    if not arrays:
        raise AnalysisError("montage needs at least one search array")
    h, w = arrays[0].image.shape[:2]
    if any(a.image.shape[:2] != (h, w) for a in arrays):
        raise AnalysisError("montage needs search arrays of one image size")
    rows = math.ceil(len(arrays) / columns)
    canvas = np.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), background, np.uint8)
    for k, a in enumerate(arrays):
        r, c = divmod(k, columns)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = a.image
    return canvas


def example_figure(
    *,
    set_size: int = 25,
    seed: int = 0,
    image_size: tuple[int, int] = (192, 192),
    item_size: float = 14.0,
    jitter: float = 3.0,
) -> Any:
    """Figure: one search array per dimension (rows) and level (columns), for the docs."""
    plt = pyplot()

    from salscope.data.popout import image_seed, make_search_array  # noqa: PLC0415

    n_levels = max(len(v) for v in LEVELS.values())
    fig, axes = plt.subplots(len(DIMENSIONS), n_levels, figsize=(1.7 * n_levels, 1.75 * len(DIMENSIONS)))
    for r, dim in enumerate(DIMENSIONS):
        for c in range(n_levels):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(LEVELS[dim]):
                ax.axis("off")
                continue
            arr = make_search_array(
                dim,
                c,
                set_size=set_size,
                image_size=image_size,
                item_size=item_size,
                jitter=jitter,
                seed=image_seed(seed, dim, c, set_size, 0),
            )
            ax.imshow(arr.image, interpolation="nearest")
            ax.set_title(f"L{c}: {_fmt_value(LEVELS[dim][c])}", fontsize=7, pad=2)
            if c == 0:
                ax.set_ylabel(dim, fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.97, bottom=0.01, wspace=0.05, hspace=0.22)
    return fig


def load_popout_results(folder: str | Path) -> PopoutResults:
    """Read back what :func:`write_popout_results` wrote (``per_image.csv`` + ``summary.json``).

    The summary is recomputed from the per-image rows, so it matches a fresh
    run exactly. Raises :class:`AnalysisError` naming the file when either is
    missing or malformed.
    """
    import csv  # noqa: PLC0415
    import json  # noqa: PLC0415

    folder = Path(folder)
    csv_path, json_path = folder / "per_image.csv", folder / "summary.json"
    try:
        meta = json.loads(json_path.read_text())
        with csv_path.open(newline="") as fh:
            raw = list(csv.DictReader(fh))
        rows = []
        for r in raw:
            row: dict[str, Any] = dict(r)
            row["level"] = int(r["level"])
            row["set_size"] = int(r["set_size"])
            row["n_fixations"] = int(r["n_fixations"])
            row["found"] = r["found"] == "True"
            row["found_first"] = r["found_first"] == "True"
            floats = ("target_rank", "target_rank_norm", "gsi", "msr_target", "msr_background", "seconds", "nss")
            for key in (*floats, "auc_judd"):
                row[key] = float(r[key]) if r.get(key) not in (None, "") else None
            rows.append(row)
        models = meta["models"]
    except (OSError, ValueError, KeyError) as exc:
        raise AnalysisError(
            f"cannot read pop-out results in {folder} ({exc}); rerun `salscope popout evaluate --out {folder}`"
        ) from exc
    names = [m["name"] for m in models]
    # Results written before the hit option existed were scored on the target's ink.
    hit = meta.get("hit", "ink")
    if hit not in HIT_RULES:
        raise AnalysisError(f"{json_path}: hit={hit!r} is not one of {', '.join(HIT_RULES)}; rerun the evaluation")
    return PopoutResults(
        per_image=rows,
        summary=_summarise(rows, names, hit),
        models=models,
        set_dir=meta.get("set_dir", ""),
        max_fixations=int(meta.get("max_fixations", MAX_FIXATIONS)),
        notes=list(meta.get("notes", [])),
        hit=hit,
        disc_radius=meta.get("disc_radius"),
    )
