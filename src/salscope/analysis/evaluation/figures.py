"""The best and worst images of each model, as figures."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from salscope.analysis.evaluation.gold import gaussian_density
from salscope.analysis.evaluation.results import EvaluationResult
from salscope.analysis.evaluation.sources import InterObserver, resolve_models
from salscope.errors import MetricError
from salscope.metrics.catalogue import (
    LOWER_IS_BETTER,
)
from salscope.metrics.catalogue import label as _label
from salscope.report.figures import pyplot, save_figure


def write_examples(
    result: EvaluationResult,
    models: Sequence[Any],
    dataset: Any,
    out_dir: str | os.PathLike,
    k: int = 3,
    metric: str | None = None,
) -> list[Path]:
    """Save, per model, a figure of its ``k`` best and ``k`` worst images by ``metric``.

    Each panel shows the image, the model's map as an overlay and the
    fixations; the title gives the image id and the score. ``metric`` defaults
    to NSS when scored, else the first metric.
    """
    plt = pyplot()
    metric = metric or ("nss" if "nss" in result.metrics else result.metrics[0])
    if metric not in result.metrics:
        raise MetricError(f"examples: metric {metric!r} was not scored; choose one of {', '.join(result.metrics)}")
    paths = []
    sources = resolve_models(models)
    for src in sources:
        rows = [r for r in result.rows if r["model"] == src.name and np.isfinite(r[metric])]
        if not rows:
            continue
        rows.sort(key=lambda r: r[metric], reverse=metric not in LOWER_IS_BETTER)
        kk = min(int(k), math.ceil(len(rows) / 2))
        picks = [("best", r) for r in rows[:kk]] + [("worst", r) for r in rows[::-1][:kk]]
        fig, axes = plt.subplots(2, kk, figsize=(3.2 * kk, 5.0), squeeze=False)
        for ax, (tag, row) in zip(axes.ravel(), picks):
            i = row["image_index"]
            image = dataset.stimuli[i]
            if isinstance(src, InterObserver):
                f = dataset.fixations.for_image(i)
                smap = gaussian_density(f.row, f.col, image.shape[:2], float(dataset.meta.get("ppd") or image.shape[1] / 32))
            else:
                smap = src.predict(dataset, i, image)[0]
            ax.imshow(image)
            ax.imshow(smap, cmap="jet", alpha=0.45, extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
            f = dataset.fixations.for_image(i)
            ax.scatter(f.x, f.y, s=4, c="white", edgecolors="black", linewidths=0.3)
            ax.set_title(f"{tag}: {row['image_id']} {_label(metric)}={row[metric]:.2f}", fontsize=8)
            ax.axis("off")
        fig.suptitle(f"{src.name}: best and worst images by {_label(metric)}", fontsize=10)
        fig.tight_layout()
        paths.append(save_figure(fig, Path(out_dir) / f"examples_{src.name}.png", dpi=100))
        plt.close(fig)
    return paths
