"""Figures of the neuron analysis (He et al. Figs. 3–5 style), each a PNG with a JSON data file beside it.

Category, model and layer names are drawn as plain text (:func:`salscope.names.plain_text`: a ``$``
in a name is shown, never parsed as mathtext); file names come from the caller (build them with
:func:`salscope.names.slug`).

- :func:`count_heatmap`: layers × categories, number of channels above T.
- :func:`before_after_bars`: per category, counts (or top-k means) of several encoders for one layer.
- :func:`masked_activation_maps`: for one category, its best channels on example images, the image
  shown only where the channel fires (upsampled activation whose z-score over the image exceeds T,
  :func:`fire_opacity`), black elsewhere.
- :func:`channel_before_after`: one channel of several encoders on the same images (Fig. 5: conv5_3
  channel 288 becoming a person-head detector after fine-tuning).

References
----------
He, S. et al. "Understanding and Visualizing Deep Visual Saliency Models", CVPR 2019, Figs. 3–5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch.nn.functional as F

from salscope.analysis.neurons.capture import layer_activations, to_input
from salscope.analysis.neurons.analysis import NeuronResults
from salscope.errors import AnalysisError
from salscope.io import write_json
from salscope.names import plain_text
from salscope.report.figures import pyplot, save_figure


def _save(fig: Any, dest: str | Path, data: dict[str, Any]) -> Path:
    """Save ``fig`` (every chosen format) with its data as ``<stem>.json`` beside it; return the PNG's path."""
    out = save_figure(fig, dest, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    write_json(out.with_suffix(".json"), {"figure": out.name, **data})
    return out


def count_heatmap(results: NeuronResults, dest: str | Path, *, layers: Sequence[str] | None = None) -> Path:
    """Heat map of the number of channels above T per layer (rows) and category (columns)."""
    plt = pyplot()
    layers = list(layers or results.layer_names)
    counts = np.stack([results.category_scores(lay).count for lay in layers]).astype(int)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(results.categories), 1.2 + 0.45 * len(layers)))
    im = ax.imshow(counts, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(results.categories)), [plain_text(c) for c in results.categories], rotation=45, ha="right")
    ax.set_yticks(range(len(layers)), [plain_text(lay) for lay in layers])
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    color="white" if counts[i, j] < counts.max() / 2 else "black", fontsize=8)
    t = results.settings.get("threshold", 1.5)
    ax.set_title(plain_text(f"{results.model}: channels with region NSS > {t}"))
    fig.colorbar(im, ax=ax, fraction=0.03)
    return _save(fig, dest, {"model": results.model, "layers": layers, "categories": results.categories,
                             "threshold": t, "counts": counts})


def before_after_bars(results: Mapping[str, NeuronResults], layer: str, dest: str | Path, *,
                      metric: str = "count") -> Path:
    """Grouped bars per category for one layer: ``metric`` = ``"count"`` (above T) or ``"top_k_mean"``."""
    if metric not in ("count", "top_k_mean"):
        raise AnalysisError(f"metric={metric!r}: use 'count' or 'top_k_mean'")
    plt = pyplot()
    names = list(results)
    cats = results[names[0]].categories
    values = np.stack([getattr(results[n].category_scores(layer), metric).astype(float) for n in names])
    fig, ax = plt.subplots(figsize=(1.2 + 0.8 * len(cats), 3.2))
    width = 0.8 / len(names)
    for i, n in enumerate(names):
        ax.bar(np.arange(len(cats)) + (i - (len(names) - 1) / 2) * width, np.nan_to_num(values[i]), width,
               label=plain_text(n))
    ax.set_xticks(range(len(cats)), [plain_text(c) for c in cats], rotation=45, ha="right")
    ax.set_ylabel("channels above T" if metric == "count" else "mean of top-k region NSS")
    ax.set_title(plain_text(layer))
    ax.legend(fontsize=8)
    return _save(fig, dest, {"layer": layer, "metric": metric, "models": names, "categories": cats,
                             "values": [[None if not np.isfinite(v) else float(v) for v in row] for row in values]})


def channel_maps(model: Any, images: Sequence[np.ndarray], layer: str, channel: int,
                 input_size: Sequence[int] | None) -> list[np.ndarray]:
    """Per image the ``H×W`` activation of ``channel``, upsampled bilinearly to the image size."""
    out = []
    for img in images:
        x = to_input(model, [img], input_size)
        f = layer_activations(model, x, [layer])[layer][0, int(channel)].float()
        up = F.interpolate(f[None, None], size=img.shape[:2], mode="bilinear", align_corners=False)[0, 0]
        out.append(up.numpy())
    return out


def fire_opacity(activation: np.ndarray, threshold: float = 1.5) -> np.ndarray:
    """Opacity in [0, 1]: 0 where the channel does not fire in this image, rising to 1 at its peak.

    With ``z`` the map z-scored over the image (the z-score of region NSS),
    ``alpha = sqrt(clip((z - T) / (max(z) - T), 0, 1))``: a pixel is shown when
    its z-score exceeds ``T`` (the count threshold, 1.5). A map that never
    exceeds ``T`` is fully transparent (the panel stays black). A stack
    ``(..., H, W)`` gives one opacity per map.
    """
    from salscope.metrics import zscore  # noqa: PLC0415

    z = zscore(np.asarray(activation, dtype=np.float64))
    top = z.max(axis=(-2, -1), keepdims=True)
    fires = top > threshold
    span = np.where(fires, top - threshold, 1.0)
    return np.where(fires, np.sqrt(np.clip((z - threshold) / span, 0.0, 1.0)), 0.0)


def _fire_threshold(results: NeuronResults, layer: str, channel: int) -> float:
    return float(results.settings.get("threshold", 1.5))


def _masked(img: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return (img.astype(np.float32) * alpha[..., None]).astype(np.uint8)


def _example_images(results: NeuronResults, layer: str, category: str, channel: int, n: int) -> list[str]:
    ln = results.layer(layer)
    rows = [i for i, r in enumerate(results.regions) if r["category"] == category]
    order = sorted(rows, key=lambda i: -np.nan_to_num(ln.region_scores[i, channel], nan=-np.inf))
    ids: list[str] = []
    for i in order:
        image_id = results.regions[i]["image_id"]
        if image_id not in ids:
            ids.append(image_id)
        if len(ids) == n:
            break
    return ids


def masked_activation_maps(model: Any, dataset: Any, results: NeuronResults, layer: str, category: str,
                           dest: str | Path, *, n_channels: int = 4, n_images: int = 3,
                           input_size: Sequence[int] | None = None) -> Path:
    """Fig. 3 style: the ``n_channels`` best channels of ``category`` (rows) on their best images (columns).

    Each panel is the image times :func:`fire_opacity` of the channel's upsampled
    activation (z-score above T): the image is visible only where the channel fires.
    """
    if category not in results.categories:
        raise AnalysisError(f"category {category!r} not analysed; categories: {', '.join(results.categories)}")
    plt = pyplot()
    cs = results.category_scores(layer)
    k = results.categories.index(category)
    chans = [int(c) for c in cs.ranking[k] if np.isfinite(cs.scores[k, c])][:n_channels]
    if not chans:
        raise AnalysisError(f"no channel of {layer} has a score for {category!r}")
    input_size = input_size if input_size is not None else results.settings.get("input_size")
    fig, axes = plt.subplots(len(chans), n_images, figsize=(2.4 * n_images, 1.9 * len(chans)), squeeze=False)
    panels = []
    for row, c in enumerate(chans):
        ids = _example_images(results, layer, category, c, n_images)
        imgs = [dataset.stimuli[dataset.stimuli.index(i)] for i in ids]
        maps = channel_maps(model, imgs, layer, c, input_size)
        t = _fire_threshold(results, layer, c)
        for col in range(n_images):
            ax = axes[row, col]
            ax.axis("off")
            if col >= len(ids):
                continue
            alpha = fire_opacity(maps[col], t)
            ax.imshow(_masked(imgs[col], alpha))
            if col == 0:
                ax.set_title(f"ch {c}  NSS {cs.scores[k, c]:.2f}", fontsize=8, loc="left")
            panels.append({"channel": c, "image_id": ids[col], "score": float(cs.scores[k, c]), "threshold": t,
                           "visible_fraction": float((alpha > 0).mean())})
    fig.suptitle(plain_text(f"{results.model} {layer}: {category}"), fontsize=10)
    return _save(fig, dest, {"model": results.model, "layer": layer, "category": category, "channels": chans,
                             "panels": panels})


def channel_before_after(models: Mapping[str, Any], dataset: Any, results: Mapping[str, NeuronResults], layer: str,
                         channel: int, dest: str | Path, *, image_ids: Sequence[str] | None = None,
                         n_images: int = 4, category: str | None = None,
                         input_size: Sequence[int] | None = None) -> Path:
    """Fig. 5 style: one channel of each encoder (rows) on the same images (columns).

    Without ``image_ids`` the images are those where the last encoder's channel
    scores highest for ``category`` (default: its best category there).
    """
    plt = pyplot()
    names = list(models)
    if set(names) != set(results):
        raise AnalysisError(f"models {names} and results {list(results)} must have the same names")
    last = results[names[-1]]
    if image_ids is None:
        if category is None:
            cs = last.category_scores(layer)
            col = np.where(np.isfinite(cs.scores[:, channel]), cs.scores[:, channel], -np.inf)
            category = last.categories[int(np.argmax(col))]
        image_ids = _example_images(last, layer, category, channel, n_images)
    imgs = [dataset.stimuli[dataset.stimuli.index(i)] for i in image_ids]
    fig, axes = plt.subplots(len(names), len(imgs), figsize=(2.4 * len(imgs), 2.0 * len(names)), squeeze=False)
    data = []
    for row, n in enumerate(names):
        size = input_size if input_size is not None else results[n].settings.get("input_size")
        maps = channel_maps(models[n], imgs, layer, channel, size)
        t = _fire_threshold(results[n], layer, channel)
        for col, (img, m) in enumerate(zip(imgs, maps)):
            ax = axes[row, col]
            ax.axis("off")
            alpha = fire_opacity(m, t)
            ax.imshow(_masked(img, alpha))
            if col == 0:
                ax.set_title(plain_text(n), fontsize=8, loc="left")
            data.append({"model": n, "image_id": image_ids[col], "threshold": t,
                         "visible_fraction": float((alpha > 0).mean())})
    fig.suptitle(plain_text(f"{layer} channel {channel}" + (f" ({category})" if category else "")), fontsize=10)
    return _save(fig, dest, {"layer": layer, "channel": int(channel), "category": category,
                             "models": names, "image_ids": list(image_ids), "panels": data})
