"""Pop-out figures: scores against level per dimension, and example search arrays for the docs.

matplotlib's pyplot is imported inside the figure functions (with the Agg
backend unless one is chosen), so evaluating without figures never loads it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from salscope.analysis.popout.results import PopoutResults, fmt_value
from salscope.data.popout import (
    DIMENSIONS,
    LEVELS,
    SearchArray,
    image_seed,
    make_search_array,
)
from salscope.errors import AnalysisError
from salscope.report.figures import pyplot


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
    labels = [fmt_value(LEVELS[dimension][lv]) for lv in levels]
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
            ax.set_title(f"L{c}: {fmt_value(LEVELS[dim][c])}", fontsize=7, pad=2)
            if c == 0:
                ax.set_ylabel(dim, fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.97, bottom=0.01, wspace=0.05, hspace=0.22)
    return fig

