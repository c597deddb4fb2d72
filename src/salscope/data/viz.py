"""Figures of one stimulus: fixations (by subject), region outlines, empirical density."""

from __future__ import annotations

import numpy as np

from salscope.errors import DataError


def show_image(dataset, image_id: str | int, regions=None, sigma_deg: float = 1.0, sigma_px: float | None = None):
    """Two-panel matplotlib ``Figure``: the image with fixations and region outlines, and the density.

    Left: each fixation as a dot coloured by subject, scanpaths as thin lines,
    annotated instances outlined (``contour`` of each bool mask at 0.5) and labelled
    with their category. Right: the image dimmed under the empirical fixation
    density (σ = ``sigma_deg`` × ``meta["ppd"]`` px, or ``sigma_px``).
    """
    from matplotlib.figure import Figure

    i = dataset.index(image_id)
    img = dataset.stimuli[i]
    h, w = img.shape[:2]
    f = dataset.fixations.for_image(i)
    if sigma_px is None:
        ppd = dataset.meta.get("ppd")
        if ppd is None:
            raise DataError(f"data set {dataset.name} has no ppd in meta; pass sigma_px instead of sigma_deg")
        sigma_px = float(sigma_deg) * float(ppd)
    fig = Figure(figsize=(12, 12 * h / (2 * w) + 0.6), dpi=100)
    ax0, ax1 = fig.subplots(1, 2)
    ax0.imshow(img)
    subjects = np.unique(f.subject)
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    for k, s in enumerate(subjects):
        sel = f.subject == s
        order = np.argsort(f.order[sel], kind="stable")
        xs, ys = f.x[sel][order], f.y[sel][order]
        color = cmap(k % 20)
        ax0.plot(xs, ys, "-", color=color, lw=0.7, alpha=0.6)
        ax0.scatter(xs, ys, s=14, color=color, edgecolors="black", linewidths=0.4, zorder=3)
    n_regions = 0
    if regions is not None:
        regions.check_shape((h, w), "show_image")
        for r in regions:
            m = r.mask
            if not m.any():
                continue
            ax0.contour(m.astype(np.float32), levels=[0.5], colors=["yellow"], linewidths=1.2)
            rows, cols = np.nonzero(m)
            ax0.text(cols.min(), rows.min(), r.category, color="black", fontsize=7,
                     bbox={"facecolor": "yellow", "alpha": 0.7, "pad": 1, "lw": 0})
            n_regions += 1
    ax0.set_title(f"{dataset.name} {dataset.ids[i]}: {len(f)} fixations, {subjects.size} subjects"
                  + (f", {n_regions} regions" if regions is not None else ""), fontsize=9)
    if len(f):
        d = f.density(i, (h, w), sigma_px=sigma_px)
        ax1.imshow(img, alpha=0.35)
        ax1.imshow(d, cmap="inferno", alpha=0.65)
    else:
        ax1.imshow(img)
    ax1.set_title(f"fixation density (Gaussian sigma = {sigma_px:.1f} px)", fontsize=9)
    for ax in (ax0, ax1):
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_axis_off()
    fig.tight_layout()
    return fig
