"""Pop-out results: the per-image and summary tables, pooled views, markdown, and reading a saved run back."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from salscope.analysis.tabular import TabularResult
from salscope.data.popout import DIMENSIONS, LEVEL_UNITS, LEVELS
from salscope.errors import AnalysisError
from salscope.metrics.popout import HIT_RULES, MAX_FIXATIONS
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
                "| model | " + " | ".join(f"L{lv} ({fmt_value(LEVELS[d][lv])})" for lv in levels) + " |"
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


def fmt_value(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return "×".join(fmt_value(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def summarise(per_image: list[dict], models: list[str], hit: str) -> list[dict]:
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


def load_popout_results(folder: str | Path) -> PopoutResults:
    """Read back what :func:`write_popout_results` wrote (``per_image.csv`` + ``summary.json``).

    The summary is recomputed from the per-image rows, so it matches a fresh
    run exactly. Raises :class:`AnalysisError` naming the file when either is
    missing or malformed.
    """
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
        summary=summarise(rows, names, hit),
        models=models,
        set_dir=meta.get("set_dir", ""),
        max_fixations=int(meta.get("max_fixations", MAX_FIXATIONS)),
        notes=list(meta.get("notes", [])),
        hit=hit,
        disc_radius=meta.get("disc_radius"),
    )
