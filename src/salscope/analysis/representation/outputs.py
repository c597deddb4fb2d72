"""What :func:`~salscope.analysis.representation.compare.compare_models` writes: JSON, CSV tables and their figures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from salscope.analysis.representation.compare import Comparison
from salscope.analysis.representation.verdict import REPLICATE
from salscope.io import write_csv, write_json
from salscope.names import slug
from salscope.report.figures import pyplot, save_figure


def write_comparison(comp: Comparison, out_dir: str | os.PathLike, figures: bool = True,
                     table_formats: Sequence[str] = ("csv",)) -> dict[str, Path]:
    """Write ``comparison.json``, ``cka_<a>__<b>.csv``, ``layer_change.csv``, ``verdict.csv``, ``cka_models.csv`` and figures.

    ``table_formats`` other than ``csv`` (``md``, ``tex``, ``json``) also write
    ``layer_change`` and ``verdict`` in those formats (``verdict.tex`` …).

    Every figure (PNG) has its data beside it: the heat map's CSV,
    ``layer_change.csv`` for the bar plot, and ``cka_models.csv`` (CKA between
    every pair of models — pre, II, II′, III in role order — at the last,
    deepest, layer) for ``fig_cka_models.png``. ``verdict.csv`` has one row per
    layer with every statistic, ``<name>_lo``/``<name>_hi`` for its interval
    (empty when undefined) and the decision.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"json": write_json(out / "comparison.json", comp.to_dict())}
    for (a, b), m in comp.cka.items():
        rows = [{"layer": la, **{lb: float(m[i, j]) for j, lb in enumerate(comp.layers)}} for i, la in enumerate(comp.layers)]
        paths[f"cka_{a}__{b}"] = write_csv(out / f"cka_{slug(a)}__{slug(b)}.csv", rows)
    tables = comp._tables()
    paths["layer_change"] = write_csv(out / "layer_change.csv", tables["layer_change"][1])
    if comp.verdict:
        paths["verdict"] = write_csv(out / "verdict.csv", tables["verdict"][1])
    for fmt in table_formats:   # the key tables for papers, beside the CSVs above
        if fmt != "csv":
            for name in ("layer_change", "verdict") if comp.verdict else ("layer_change",):
                paths[f"{name}_{fmt}"] = comp.write_tables(out / name, [fmt], table=name)[fmt]
    order, matrix = model_cka_matrix(comp)
    deepest = comp.layers[-1]
    paths["cka_models"] = write_csv(out / "cka_models.csv",
                                    [{"layer": deepest, "model": a, **{b: float(matrix[i, j]) for j, b in enumerate(order)}}
                                     for i, a in enumerate(order)])
    if comp.category_shift:
        paths["category_shift"] = write_csv(out / "category_shift.csv", comp.category_shift["categories"])
        paths["best_category_changed"] = write_csv(out / "best_category_changed.csv", comp.category_shift["best_category_changed"])
    if figures:
        paths.update(_figures(comp, out))
    return paths


def model_cka_matrix(comp: Comparison, layer: str | None = None) -> tuple[list[str], np.ndarray]:
    """CKA between every pair of models at one layer (default the last, deepest): ``(labels, M)``.

    Models with roles come first, in the order pretrained, saliency (II),
    replicate (II′), scene (III); the diagonal is 1.
    """
    layer = comp.layers[-1] if layer is None else layer
    i = comp.layers.index(layer)
    roles = comp.roles or {}
    first = [roles[r] for r in ("pretrained", "saliency", REPLICATE, "scene") if r in roles]
    order = first + [m for m in comp.models if m not in first]
    out = np.eye(len(order))
    for a_i, a in enumerate(order):
        for b_i, b in enumerate(order):
            if a_i != b_i:
                out[a_i, b_i] = comp.cka[(a, b)][i, i] if (a, b) in comp.cka else comp.cka[(b, a)][i, i]
    return order, out


def _figures(comp: Comparison, out: Path) -> dict[str, Path]:
    plt = pyplot()
    paths = {}
    L = len(comp.layers)
    for (a, b), m in comp.cka.items():
        fig, ax = plt.subplots(figsize=(1.2 + 0.45 * L, 1.0 + 0.45 * L))
        im = ax.imshow(m, vmin=0, vmax=1, cmap="magma", origin="lower")
        ax.set_xticks(range(L), comp.layers, rotation=90, fontsize=7)
        ax.set_yticks(range(L), comp.layers, fontsize=7)
        ax.set_xlabel(b)
        ax.set_ylabel(a)
        ax.set_title(f"{'debiased' if comp.debiased else 'biased'} linear CKA ({comp.reduce})", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        paths[f"fig_cka_{a}__{b}"] = save_figure(fig, out / f"fig_cka_{slug(a)}__{slug(b)}.png", dpi=120)
        plt.close(fig)

    ref = comp.models[0]
    others = comp.models[1:]
    fig, axes = plt.subplots(1, 2, figsize=(2 + 0.5 * L * len(others), 3.2))
    width = 0.8 / len(others)
    x = np.arange(L)
    verdict = {r["layer"]: r for r in comp.verdict}
    for k, label in enumerate(others):
        change = 1 - comp.diagonal(ref, label)
        err = None
        if verdict and comp.roles and label in (comp.roles["saliency"], comp.roles["scene"]):
            name = "change_saliency" if label == comp.roles["saliency"] else "change_scene"
            if f"{name}_ci" in comp.verdict[0]:
                lo = np.array([verdict[l][f"{name}_ci"][0] for l in comp.layers])
                hi = np.array([verdict[l][f"{name}_ci"][1] for l in comp.layers])
                err = np.clip(np.vstack([change - lo, hi - change]), 0, None)
        axes[0].bar(x + k * width, change, width, yerr=err, label=label, capsize=2)
        axes[1].bar(x + k * width, comp.weight_change[label], width, label=label)
    for ax, title in zip(axes, ("1 − CKA(reference, model)", "‖W − W₀‖ / ‖W₀‖")):
        ax.set_xticks(x + 0.4 - width / 2, comp.layers, rotation=90, fontsize=7)
        ax.set_title(f"{title}; reference {ref}", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths["fig_layer_change"] = save_figure(fig, out / "fig_layer_change.png", dpi=120)
    plt.close(fig)

    order, matrix = model_cka_matrix(comp)
    names = {m: r for r, m in (comp.roles or {}).items()}
    short = {"pretrained": "pre", "saliency": "II", REPLICATE: "II′", "scene": "III"}
    ticks = [f"{m}\n({short[names[m]]})" if m in names else m for m in order]
    k = len(order)
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * k, 1.2 + 0.9 * k))
    im = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma")
    for a in range(k):
        for b in range(k):
            ax.text(b, a, f"{matrix[a, b]:.3f}", ha="center", va="center", fontsize=8,
                    color="black" if matrix[a, b] > 0.6 else "white")
    ax.set_xticks(range(k), ticks, fontsize=7)
    ax.set_yticks(range(k), ticks, fontsize=7)
    ax.set_title(f"{'debiased' if comp.debiased else 'biased'} linear CKA, {comp.layers[-1]} ({comp.reduce})", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    paths["fig_cka_models"] = save_figure(fig, out / "fig_cka_models.png", dpi=120)
    plt.close(fig)
    return paths
