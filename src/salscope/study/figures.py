"""Figures of the evidence behind the study's verdicts: null distributions and bootstrap intervals.

- :func:`null_histograms`: finding 1 — per category, the permutation null of the
  top-k mean region NSS with the observed value and the random-initialisation
  encoders' values marked.
- :func:`bootstrap_histogram`: a bootstrap distribution with its interval and 0.
- :func:`interval_bars`: estimates with intervals, one bar per row (finding 2's
  gains per category, ranked).
- :func:`layer_change` / :func:`compare_figures`: finding 4 — how far each layer
  moved from the pretrained encoder, and every representation figure with its caption.

Names (categories, models) are drawn as plain text: ``$`` is escaped so
matplotlib's mathtext never parses a user's label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from salscope.report.figures import pyplot as _plt
from salscope.report.figures import save_figure


def plain(text: Any) -> str:
    """``text`` safe for matplotlib: ``$`` escaped, so no mathtext is parsed."""
    return str(text).replace("$", r"\$")


def null_histograms(panels: Sequence[dict[str, Any]], dest: str | Path, *, xlabel: str = "top-k mean region NSS") -> Path:
    """One panel per entry ``{title, null (B,), observed, random: [values], p}``: null histogram + observed line."""
    plt = _plt()
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 2.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        null = np.asarray(panel["null"], dtype=float)
        null = null[np.isfinite(null)]
        if null.size:
            ax.hist(null, bins=30, color="#bbbbbb", label="permutation null")
        obs = panel.get("observed")
        if obs is not None and np.isfinite(obs):
            ax.axvline(obs, color="#c0392b", lw=2, label="pretrained")
        for k, value in enumerate(panel.get("random") or []):
            if value is not None and np.isfinite(value):
                ax.axvline(value, color="#2471a3", lw=1, ls="--", label="random init" if k == 0 else None)
        p = panel.get("p")
        ax.set_title(plain(panel["title"]) + ("" if p is None else f"\n(Holm p = {p:.3g})"), fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out = save_figure(fig, dest, dpi=110)
    plt.close(fig)
    return out


def bootstrap_histogram(samples: Sequence[float], interval: tuple[float | None, float | None], point: float,
                        dest: str | Path, *, xlabel: str, title: str) -> Path:
    """Histogram of bootstrap ``samples`` with the point estimate, the interval and 0 marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 2.8))
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if s.size:
        ax.hist(s, bins=40, color="#bbbbbb")
    ax.axvline(0, color="black", lw=1)
    if np.isfinite(point):
        ax.axvline(point, color="#c0392b", lw=2, label="estimate")
    lo, hi = interval
    if lo is not None and hi is not None:
        ax.axvspan(lo, hi, color="#c0392b", alpha=0.15, label="95 % interval")
    ax.set_xlabel(plain(xlabel), fontsize=8)
    ax.set_title(plain(title), fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = save_figure(fig, dest, dpi=110)
    plt.close(fig)
    return out


def interval_bars(rows: Sequence[dict[str, Any]], dest: str | Path, *, label: str, value: str, lo: str, hi: str,
                  xlabel: str, title: str) -> Path:
    """Horizontal bars ``row[value]`` with error bars ``[row[lo], row[hi]]``, one per row, in the given order."""
    plt = _plt()
    rows = [r for r in rows if r.get(value) is not None]
    fig, ax = plt.subplots(figsize=(5.2, 0.35 * max(3, len(rows)) + 0.9))
    ys = np.arange(len(rows))[::-1]
    vals = np.array([r[value] for r in rows], dtype=float)
    los = np.array([r[lo] if r.get(lo) is not None else r[value] for r in rows], dtype=float)
    his = np.array([r[hi] if r.get(hi) is not None else r[value] for r in rows], dtype=float)
    ax.barh(ys, vals, color="#95a5a6")
    # the interval as a line from lo to hi (a bootstrap point estimate may lie outside its percentile interval)
    ax.hlines(ys, los, his, color="black", lw=1)
    ax.plot(los, ys, "|", color="black", ms=6)
    ax.plot(his, ys, "|", color="black", ms=6)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys, [plain(r[label]) for r in rows], fontsize=8)
    ax.set_xlabel(plain(xlabel), fontsize=8)
    ax.set_title(plain(title), fontsize=9)
    fig.tight_layout()
    out = save_figure(fig, dest, dpi=110)
    plt.close(fig)
    return out


def cka_matrix(labels: Sequence[str], matrix: np.ndarray, dest: str | Path, *, title: str) -> Path:
    """A small square matrix of CKA between models, the value written in each cell."""
    plt = _plt()
    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 1.6, 1.0 * len(labels) + 1.0))
    ax.imshow(m, vmin=0, vmax=1, cmap="viridis")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, "" if not np.isfinite(m[i, j]) else f"{m[i, j]:.2f}", ha="center", va="center",
                    color="white" if m[i, j] < 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(labels)), [plain(v) for v in labels], fontsize=8, rotation=30)
    ax.set_yticks(range(len(labels)), [plain(v) for v in labels], fontsize=8)
    ax.set_title(plain(title), fontsize=9)
    fig.tight_layout()
    out = save_figure(fig, dest, dpi=110)
    plt.close(fig)
    return out


def layer_change(layers: Sequence[str], changes: dict[str, dict[str, Any]], dest: str | Path, *,
                 reference: str, start: str | None = None) -> Path:
    """How far each layer moved from ``reference``: 1 − CKA (left) and relative weight change (right), per model.

    ``changes[model] = {"change": (L,), "lo": (L,) | None, "hi": (L,) | None, "weights": (L,)}``. Layers run
    down the page (shallowest on top) so the figure stays readable at page width with any number of
    layers; ``start`` (the first fine-tuned layer) is marked with a dashed line.
    """
    plt = _plt()
    models = list(changes)
    n_layers = len(layers)
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 1.0 + 0.1 * n_layers * max(1, len(models))), sharey=True)
    height = 0.8 / max(1, len(models))
    ys = np.arange(n_layers)
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]
    for k, model in enumerate(models):
        c = changes[model]
        y = ys + (k - (len(models) - 1) / 2) * height
        vals = np.asarray(c["change"], dtype=float)
        err = None
        if c.get("lo") is not None and c.get("hi") is not None:
            lo = np.asarray([np.nan if v is None else v for v in c["lo"]], dtype=float)
            hi = np.asarray([np.nan if v is None else v for v in c["hi"]], dtype=float)
            err = np.nan_to_num(np.clip(np.vstack([vals - lo, hi - vals]), 0, None))
        colour = colours[k % len(colours)]
        axes[0].barh(y, vals, height, xerr=err, color=colour, label=plain(model), error_kw={"lw": 0.8, "capsize": 1.5})
        axes[1].barh(y, np.asarray(c["weights"], dtype=float), height, color=colour, label=plain(model))
    for ax, title in zip(axes, (f"1 − linear CKA to {reference}", f"‖W − W₀‖ / ‖W₀‖ (W₀: {reference})")):
        ax.set_title(plain(title), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.axvline(0, color="black", lw=0.6)
        if start in layers:
            ax.axhline(layers.index(start) - 0.5, color="#777777", lw=0.8, ls="--")
    axes[0].set_yticks(ys, [plain(v) for v in layers])
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    out = save_figure(fig, dest, dpi=110)
    plt.close(fig)
    return out


def compare_figures(comp: Any, files: dict[str, Path], folder: Path, n_images: int, start: str) -> list[dict[str, Any]]:
    """Finding 4's figures with real captions; the layer-change bars redrawn by :func:`layer_change` to read at page width.

    ``comp``: the :class:`~salscope.analysis.representation.compare.Comparison`; ``files``: what
    :func:`~salscope.analysis.representation.compare.write_comparison` wrote; ``start``: the first fine-tuned layer.
    """

    ref = comp.models[0]
    verdict = {r["layer"]: r for r in comp.verdict}
    roles = {m: r for r, m in (comp.roles or {}).items()}
    changes = {}
    for label in comp.models[1:]:
        key = f"change_{roles.get(label)}_ci"      # intervals exist for II and III only
        bounds = ([verdict[lay].get(key) or (None, None) for lay in comp.layers]
                  if roles.get(label) in ("saliency", "scene") and comp.verdict and key in comp.verdict[0] else None)
        changes[label] = {"change": 1 - comp.diagonal(ref, label), "weights": comp.weight_change[label],
                          "lo": [b[0] for b in bounds] if bounds else None, "hi": [b[1] for b in bounds] if bounds else None}
    out = [{"path": str(layer_change(comp.layers, changes, folder / "layer_change_bars.png", reference=ref, start=start)),
            "alt": f"Bars per layer of 1 − CKA to the {ref} encoder and of the relative weight change, per encoder",
            "caption": f"How far each layer moved from the {ref} encoder: left, 1 − linear CKA between the two encoders' "
                       f"layer on the {n_images} test images (95 % bootstrap intervals for II and III); right, the "
                       f"relative change of the layer's weights. The dashed line marks where fine-tuning starts "
                       f"({start}); layers above it are frozen and do not move."}]
    for key, path in files.items():
        if not str(path).endswith(".png") or key == "fig_layer_change":
            continue
        if key == "fig_cka_models":
            out.append({"path": str(path), "alt": f"Matrix of linear CKA between every pair of encoders at {comp.layers[-1]}",
                        "caption": f"Linear CKA between every pair of encoders (pretrained, II, II′, III) at the deepest "
                                   f"layer, {comp.layers[-1]}, on the {n_images} test images: 1 means the same "
                                   "representation up to rotation and scale."})
        elif key.startswith("fig_cka_"):
            a, _, b = key[len("fig_cka_"):].partition("__")
            out.append({"path": str(path), "alt": f"Heat map of linear CKA between every layer of {a} and every layer of {b}",
                        "caption": f"Linear CKA between every layer of the {a} encoder (rows) and every layer of the {b} "
                                   f"encoder (columns) on the {n_images} test images; the diagonal compares a layer "
                                   "with itself, a bright diagonal means fine-tuning left that layer as it was."})
    return out
