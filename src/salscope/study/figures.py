"""Figures of the evidence behind the study's verdicts: null distributions and bootstrap intervals.

- :func:`null_histograms`: finding 1 — per category, the permutation null of the
  top-k mean region NSS with the observed value and the random-initialisation
  encoders' values marked.
- :func:`bootstrap_histogram`: a bootstrap distribution with its interval and 0.
- :func:`interval_bars`: estimates with intervals, one bar per row (finding 2's
  gains per category, ranked).

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
