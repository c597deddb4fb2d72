"""The evaluation's result: per-image rows, the summary and its tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from salscope.analysis.tabular import TabularResult
from salscope.metrics.catalogue import (
    FIXATION_METRICS,
    LOWER_IS_BETTER,
)
from salscope.metrics.catalogue import label as _label


@dataclass(repr=False)
class EvaluationResult(TabularResult):
    """Per-image scores of several models and their summary.

    ``rows`` holds one dict per (model, image): ``model``, ``image_index``,
    ``image_id``, ``n_fixations`` and one column per metric (the image's mean).
    ``average="fixation"`` pools fixation metrics over all fixations of the
    split; ``"image"`` averages per-image means. Map metrics (CC, KLD, SIM,
    EMD, AUC-Judd, AUC-Borji, MIT sAUC) are always per-image means. ``notes``
    says how information gain was obtained for each model, and why it is NaN
    (``null`` in ``summary.json``) for a model without a density. Tables
    (:class:`~salscope.analysis.tabular.TabularResult`): ``per_image`` (the
    rows) and ``summary`` (one row per model).
    """

    dataset: str
    split: str | None
    convention: str
    average: str
    metrics: list[str]
    models: list[str]
    rows: list[dict] = field(default_factory=list)
    n_images: int = 0
    skipped_images: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)   # model → deep | classical | baseline | precomputed | other
    #: More top-level keys of summary.json from later analyses (salscope.analysis.evaluation.paired: ``mean_intervals``).
    extra: dict[str, Any] = field(default_factory=dict)
    _sums: dict = field(default_factory=dict, repr=False)

    def _add(self, model: str, index: int, image_id: str, n_fix: int, values: dict[str, np.ndarray]) -> None:
        row: dict[str, Any] = {"model": model, "image_index": index, "image_id": image_id, "n_fixations": n_fix}
        for name, v in values.items():
            row[name] = float(v.mean())
            s = self._sums.setdefault((model, name), [0.0, 0])
            s[0] += float(v.sum())
            s[1] += int(v.size)
        self.rows.append(row)

    def _tables(self) -> dict[str, tuple[list[str], list[dict]]]:
        return {"per_image": (["model", "image_index", "image_id", "n_fixations", *self.metrics], self.rows),
                "summary": lambda: (["model", *self.metrics], [{"model": m, **v} for m, v in self.summary().items()])}

    def summary(self) -> dict[str, dict[str, float]]:
        """``{model: {metric: value}}`` averaged as ``self.average`` says."""
        out: dict[str, dict[str, float]] = {}
        for model in self.models:
            rows = [r for r in self.rows if r["model"] == model]
            out[model] = {}
            for name in self.metrics:
                if not rows:
                    out[model][name] = float("nan")
                elif self.average == "fixation" and name in FIXATION_METRICS and self.convention == "tuebingen":
                    total, count = self._sums[(model, name)]
                    out[model][name] = total / count
                else:
                    out[model][name] = float(np.mean([r[name] for r in rows]))
        return out

    def summary_markdown(self) -> str:
        """The summary as a GitHub markdown table (models × metrics)."""
        summ = self.summary()
        head = "| model | " + " | ".join(_label(m) for m in self.metrics) + " |"
        sep = "|---|" + "---:|" * len(self.metrics)
        body = ["| " + model + " | " + " | ".join(_cell(summ[model][m]) for m in self.metrics) + " |" for model in self.models]
        note = (
            f"\n\n{self.dataset}{'/' + self.split if self.split else ''}: {self.n_images} images scored"
            f" ({len(self.skipped_images)} without fixations skipped), convention '{self.convention}', "
            f"averaged per {self.average}. ↓ = lower is better."
        )
        notes = "".join(f"\n\n- {n}" for n in self.notes)
        return "\n".join([head, sep, *body]) + note + notes + "\n"

    def rich_table(self) -> Any:
        """The summary as a :class:`rich.table.Table` (best value per column in bold)."""
        from rich.table import Table

        summ = self.summary()
        table = Table(title=f"{self.dataset}{'/' + self.split if self.split else ''} — {self.convention}, per {self.average}")
        table.add_column("model")
        for m in self.metrics:
            table.add_column(_label(m), justify="right")
        best = {}
        for m in self.metrics:
            vals = [summ[k][m] for k in self.models if np.isfinite(summ[k][m])]
            if vals:
                best[m] = min(vals) if m in LOWER_IS_BETTER else max(vals)
        for model in self.models:
            cells = []
            for m in self.metrics:
                v = summ[model][m]
                text = _cell(v)
                cells.append(f"[bold]{text}[/bold]" if best.get(m) == v else text)
            table.add_row(model, *cells)
        return table

    def to_json(self) -> dict:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "convention": self.convention,
            "average": self.average,
            "metrics": self.metrics,
            "models": self.models,
            "kinds": self.kinds,
            "n_images": self.n_images,
            "skipped_images": self.skipped_images,
            "notes": self.notes,
            "summary": self.summary(),
            **{k: v for k, v in self.extra.items() if k != "summary"},
        }

    def write(self, out_dir: str | os.PathLike, table_formats: Sequence[str] = ("md",)) -> dict[str, Path]:
        """Write ``per_image.csv``, ``summary.json`` and the summary table as ``summary.<format>`` into ``out_dir``.

        ``table_formats``: ``md`` (with the notes), ``csv``, ``tex`` (booktabs);
        every file atomic.
        """
        from salscope import io

        out = Path(out_dir)
        cols = ["model", "image_index", "image_id", "n_fixations", *self.metrics]
        paths = {
            "per_image": io.write_csv(out / "per_image.csv", self.rows, fieldnames=cols),
            "summary_json": io.write_json(out / "summary.json", self.to_json()),
        }
        for fmt in table_formats:
            if fmt == "md":
                paths["summary_md"] = io.write_text(out / "summary.md", self.summary_markdown())
            elif fmt != "json":   # summary.json is the record above
                caption = f"{self.dataset}{'/' + self.split if self.split else ''}, convention {self.convention}"
                paths[f"summary_{fmt}"] = self.write_tables(out / "summary", [fmt], table="summary", caption=caption)[fmt]
        return paths


def _cell(value: float) -> str:
    return f"{value:.4f}" if np.isfinite(value) else "n/a"
