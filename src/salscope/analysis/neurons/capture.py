"""Stream a data set through an encoder once and keep only what the neuron analyses need.

:func:`run_capture` reads the images in batches, asks the encoder for the
requested layers (``Backbone.forward(x, layers)``, or forward hooks through
:func:`salscope.models.nethook.capture` for any other ``nn.Module``) and feeds
each layer's maps to a :class:`NeuronCapture`, which keeps per layer:

- the running per-channel minimum and maximum (which channels ever fire),
- the region-NSS score of every (region, channel) — the only table that grows
  with the number of images (``R × C`` float32),
- the Network Dissection histograms (:class:`~salscope.analysis.neurons.dissection.DissectionAccumulator`),
  fixed-size whatever the number of images.

No activation map outlives its batch. ``state_dict()``/``load_state_dict()``
resume an interrupted capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from salscope.analysis.neurons.dissection import (
    DEFAULT_QUANTILE,
    DissectionAccumulator,
    category_labels,
    resize_mask_nearest,
)
from salscope.analysis.neurons.region_nss import RegionFixations, region_fixations, region_nss
from salscope.analysis.neurons.runningstats import RunningMinMax
from salscope.errors import AnalysisError

DEFAULT_INPUT_SIZE = (224, 224)
DEFAULT_MASK_SIZE = (112, 112)
RECOUNT_CACHE_MB = 32.0  # maps of the first images kept for the exact recount (fixed, independent of N)
EXACT_CACHE_MB = 256.0   # when every image's maps fit in this, Network Dissection is computed exactly (two passes)


def layer_activations(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Activations ``{layer: (B, C, h, w)}`` of ``model`` for the normalised batch ``x``.

    A :class:`~salscope.models.backbones.Backbone` (anything with ``feature_info``)
    is asked directly and stops after the deepest layer; another module is run
    whole with forward hooks on the named sub-modules.
    """
    with torch.no_grad():
        if hasattr(model, "feature_info") and hasattr(model, "check_layers"):
            return dict(model(x, layers=list(layers)))
        from salscope.models.nethook import capture  # noqa: PLC0415

        with capture(model, list(layers)) as acts:
            model(x)
        missing = [name for name in layers if name not in acts]
        if missing:
            raise AnalysisError(f"layers {missing} produced no output during the forward pass; check the names")
        return {name: acts[name] for name in layers}


def layer_channels(model: nn.Module, layers: Sequence[str]) -> dict[str, int] | None:
    """Channel count per layer from ``feature_info`` (None when the model has none)."""
    if not hasattr(model, "feature_info"):
        return None
    model.check_layers(list(layers))
    return {f.name: int(f.channels) for f in model.feature_info if f.name in set(layers)}


def to_input(model: nn.Module, images: Sequence[np.ndarray], input_size: Sequence[int] | None) -> torch.Tensor:
    """uint8 RGB images → the normalised batch the encoder expects, resized to ``input_size = (H, W)``."""
    from salscope.models.deep import images_to_batch  # noqa: PLC0415

    x = images_to_batch(images, input_size)
    if hasattr(model, "normalize"):
        return model.normalize(x)
    mean = torch.tensor(getattr(model, "mean", (0.485, 0.456, 0.406)), dtype=x.dtype)[:, None, None]
    std = torch.tensor(getattr(model, "std", (0.229, 0.224, 0.225)), dtype=x.dtype)[:, None, None]
    return (x - mean) / std


@dataclass
class ImageRegions:
    """What the analyses need of one annotated image: fixations per region and category masks."""

    index: int
    image_id: str
    fix: RegionFixations
    instances: list[dict[str, Any]]  # instance, category, code, area
    category_masks: np.ndarray  # (K, mh, mw) bool at the dissection mask size
    labels: Any = None  # category_labels(category_masks), shared by all layers


def prepare_image(index: int, image_id: str, regions: Any, xs: np.ndarray, ys: np.ndarray, categories: Sequence[str],
                  mask_size: tuple[int, int], convention: str, image_shape: tuple[int, int] | None = None) -> ImageRegions:
    """Region masks of one image → :class:`ImageRegions` (fixations grouped by region, category masks)."""
    if image_shape is not None and hasattr(regions, "check_shape"):
        regions.check_shape(image_shape)
    insts = list(regions)
    if not insts:
        shape = tuple(regions.shape) if hasattr(regions, "shape") else image_shape
        masks = np.zeros((0,) + tuple(shape), dtype=bool)
    else:
        masks = np.stack([np.asarray(r.mask, dtype=bool) for r in insts])
    fix = region_fixations(masks, xs, ys, convention)
    cat_index = {c: k for k, c in enumerate(categories)}
    cmask = np.zeros((len(categories),) + tuple(mask_size), dtype=bool)
    rows = []
    for r, m in zip(insts, masks):
        if r.category not in cat_index:
            raise AnalysisError(f"image {image_id}: region category {r.category!r} is not among {list(categories)}")
        cmask[cat_index[r.category]] |= resize_mask_nearest(m, mask_size)
        rows.append({"instance": int(r.instance), "category": r.category, "code": int(r.code), "area": int(m.sum())})
    return ImageRegions(int(index), str(image_id), fix, rows, cmask, category_labels(cmask))


class NeuronCapture:
    """Per-layer streaming state of the neuron analysis (see the module notes).

    ``add(features, images)``: ``features`` ``{layer: (B, C, h, w)}`` and one
    :class:`ImageRegions` per batch item.
    """

    def __init__(self, channels: Mapping[str, int], categories: Sequence[str], *, convention: str = "tuebingen",
                 mask_size: tuple[int, int] = DEFAULT_MASK_SIZE, bins: int = 256, dissection: bool = True,
                 quantile: float = DEFAULT_QUANTILE):
        self.layers = list(channels)
        self.channels = {k: int(v) for k, v in channels.items()}
        self.categories = list(categories)
        self.convention = convention
        self.mask_size = (int(mask_size[0]), int(mask_size[1]))
        self.bins = int(bins)
        self.minmax = {k: RunningMinMax(c) for k, c in self.channels.items()}
        self.scores: dict[str, list[np.ndarray]] = {k: [] for k in self.layers}  # (R_i, C) float32 per image
        self.quantile = float(quantile)
        self.dissect = ({k: DissectionAccumulator(c, len(self.categories), self.mask_size, bins, quantile)
                         for k, c in self.channels.items()} if dissection else None)
        self.regions: list[dict[str, Any]] = []
        self.image_ids: list[str] = []
        self.flat_maps = {k: 0 for k in self.layers}
        self.refined: list[str] = []  # layers recounted in a second pass (see run_capture)
        self.exact: dict[str, Any] = {}  # layer -> exact two-pass DissectionResult when all maps fit in memory

    def add(self, features: Mapping[str, torch.Tensor], images: Sequence[ImageRegions]) -> None:
        for layer in self.layers:
            f = features[layer]
            if f.ndim != 4 or f.shape[0] != len(images) or f.shape[1] != self.channels[layer]:
                raise AnalysisError(
                    f"layer {layer}: got activations of shape {tuple(f.shape)}, expected ({len(images)}, "
                    f"{self.channels[layer]}, h, w)"
                )
            f = f.detach().float()
            self.minmax[layer].add(f.permute(1, 0, 2, 3).reshape(f.shape[1], -1))
            for i, im in enumerate(images):
                s = region_nss(f[i], im.fix, self.convention)  # (C, R)
                self.scores[layer].append(s.T.to(torch.float32).numpy())
                flat = f[i].reshape(f.shape[1], -1)
                self.flat_maps[layer] += int((flat.amax(1) == flat.amin(1)).sum())
            if self.dissect is not None:
                self.dissect[layer].add(f, [im.category_masks for im in images], [im.labels for im in images])
        for im in images:
            self.image_ids.append(im.image_id)
            for row, n in zip(im.instances, im.fix.n_fixations):
                self.regions.append({"image_id": im.image_id, "image_index": im.index, **row, "n_fixations": int(n)})

    # -- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: per-layer stats, score tables, region rows."""
        return {
            "version": 1, "layers": self.layers, "channels": self.channels, "categories": self.categories,
            "convention": self.convention, "mask_size": list(self.mask_size), "bins": self.bins,
            "quantile": self.quantile,
            "minmax": {k: v.state_dict() for k, v in self.minmax.items()},
            "scores": {k: self.region_scores(k) for k in self.layers},
            "dissect": None if self.dissect is None else {k: v.state_dict() for k, v in self.dissect.items()},
            "regions": list(self.regions), "image_ids": list(self.image_ids), "flat_maps": dict(self.flat_maps),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> "NeuronCapture":
        if state.get("version") != 1:
            raise AnalysisError("NeuronCapture state has an unknown version; recompute the capture")
        cap = cls(state["channels"], state["categories"], convention=state["convention"],
                  mask_size=tuple(state["mask_size"]), bins=state["bins"], dissection=state["dissect"] is not None,
                  quantile=state["quantile"])
        for k in cap.layers:
            cap.minmax[k].load_state_dict(state["minmax"][k])
            cap.scores[k] = [np.asarray(state["scores"][k], dtype=np.float32)]
            if cap.dissect is not None:
                cap.dissect[k].load_state_dict(state["dissect"][k])
        cap.regions = list(state["regions"])
        cap.image_ids = list(state["image_ids"])
        cap.flat_maps = dict(state["flat_maps"])
        return cap

    def region_scores(self, layer: str) -> np.ndarray:
        """``(R, C)`` float32 region-NSS table of ``layer`` (rows follow :attr:`regions`)."""
        parts = self.scores[layer]
        if not parts:
            return np.zeros((0, self.channels[layer]), dtype=np.float32)
        if len(parts) > 1:
            self.scores[layer] = [np.concatenate(parts, 0)]
        return self.scores[layer][0]


def iter_batches(indices: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Consecutive chunks of ``indices`` of at most ``batch_size``."""
    if batch_size < 1:
        raise AnalysisError(f"batch_size={batch_size}: use a positive number of images per batch")
    idx = [int(i) for i in indices]
    for start in range(0, len(idx), batch_size):
        yield idx[start:start + batch_size]


def run_capture(model: nn.Module, dataset: Any, regions: Mapping[str, Any], layers: Sequence[str], *,
                categories: Sequence[str] | None = None, input_size: Sequence[int] | None = DEFAULT_INPUT_SIZE,
                batch_size: int = 8, max_images: int | None = None, convention: str = "tuebingen",
                mask_size: tuple[int, int] = DEFAULT_MASK_SIZE, bins: int = 256, dissection: bool = True,
                quantile: float = DEFAULT_QUANTILE, device: str | torch.device | None = None,
                description: str = "neuron analysis", recount_cache_mb: float = RECOUNT_CACHE_MB,
                exact_cache_mb: float = EXACT_CACHE_MB) -> NeuronCapture:
    """One pass of ``model`` over the annotated images of ``dataset``; returns the filled :class:`NeuronCapture`.

    Only images with an entry in ``regions`` (keyed by image id) are used, in
    data-set order, at most ``max_images`` of them. ``categories`` defaults to
    the categories present, ordered by their code. If Network Dissection flags
    channels whose tail counts may be incomplete, a second pass recounts the
    affected layers exactly (``cap.refined`` lists them). Recounts concern the
    first, short segments, so the maps of the first images are kept (at most
    ``recount_cache_mb`` MiB in all, whatever the number of images) and recounted
    without running the encoder again; later images are read and encoded again.

    When the maps of *all* images fit in ``exact_cache_mb`` MiB (small sets, where
    the streaming histogram's threshold is least accurate: at 20 OSIE images it
    found 150 detectors where the exact quantile gives 175), Network Dissection is
    instead computed exactly in two passes over the maps in memory
    (:func:`~salscope.analysis.neurons.dissection.dissect_literal`: exact quantile, then
    IoU); ``cap.exact`` holds those results and the neuron results use them.
    """
    from salscope.progress import track  # noqa: PLC0415

    layers = list(layers)
    if not layers:
        raise AnalysisError("layers: empty; name at least one layer (e.g. --layers conv4_3,conv5_1,conv5_3)")
    ids = list(dataset.stimuli.ids)
    chosen = [i for i, image_id in enumerate(ids) if image_id in regions]
    if not chosen:
        raise AnalysisError(
            f"none of the {len(ids)} images of data set '{getattr(dataset, 'name', '?')}' has region annotations; "
            "check that --regions belongs to --dataset (annotation ids must equal the image file stems)"
        )
    if max_images is not None:
        if max_images < 1:
            raise AnalysisError(f"max_images={max_images}: use a positive number")
        chosen = chosen[:max_images]
    if categories is None:
        found = {}
        for i in chosen:
            for r in regions[ids[i]]:
                found[r.category] = int(r.code)
        categories = [c for c, _ in sorted(found.items(), key=lambda kv: (kv[1], kv[0]))]
    model = model.eval()
    if device is not None:
        model = model.to(device)
    channels = layer_channels(model, layers)
    fix = dataset.fixations
    order = np.argsort(fix.n, kind="stable")
    starts = np.searchsorted(fix.n[order], np.arange(len(ids) + 1))
    cap: NeuronCapture | None = None
    mask_size = (int(mask_size[0]), int(mask_size[1]))
    batches = list(iter_batches(chosen, batch_size))

    def batch_inputs(batch: list[int]):
        images = [dataset.stimuli[i] for i in batch]
        prepared = []
        for i, img in zip(batch, images):
            sel = order[starts[i]:starts[i + 1]]
            prepared.append(prepare_image(i, ids[i], regions[ids[i]], fix.x[sel], fix.y[sel], categories, mask_size,
                                          convention, image_shape=img.shape[:2]))
        x = to_input(model, images, input_size)
        return (x.to(device) if device is not None else x), prepared

    budget = max(0.0, float(recount_cache_mb)) * 2**20 if dissection else 0.0
    exact_budget = max(0.0, float(exact_cache_mb)) * 2**20 if dissection else 0.0
    kept: dict[int, tuple[dict[str, torch.Tensor], np.ndarray]] = {}  # position -> (maps per layer, category masks)
    every: list[tuple[dict[str, torch.Tensor], np.ndarray]] | None = [] if exact_budget > 0 else None
    position = 0
    for batch in track(batches, description):
        x, prepared = batch_inputs(batch)
        feats = {k: v.detach().cpu() for k, v in layer_activations(model, x, layers).items()}
        if cap is None:
            chans = channels or {k: int(v.shape[1]) for k, v in feats.items()}
            cap = NeuronCapture(chans, categories, convention=convention, mask_size=mask_size, bins=bins,
                                dissection=dissection, quantile=quantile)
        cap.add(feats, prepared)
        for b, im in enumerate(prepared):
            if every is None:
                break
            size = sum(v[b].numel() * v[b].element_size() for v in feats.values()) + im.category_masks.nbytes
            if exact_budget < size:
                every = None  # not all maps fit: stream (histogram thresholds and recount)
                break
            exact_budget -= size
            every.append(({k: v[b].clone() for k, v in feats.items()}, im.category_masks))
        for b, im in enumerate(prepared):
            size = sum(v[b].numel() * v[b].element_size() for v in feats.values()) + im.category_masks.nbytes
            if budget < size:
                budget = 0.0  # full: keep a prefix of the images only
                break
            budget -= size
            kept[position + b] = ({k: v[b].clone() for k, v in feats.items()}, im.category_masks)
        position += len(batch)
        del feats, x
    assert cap is not None
    cap.refined = []
    if cap.dissect is not None and every is not None and len(every) == position:
        from salscope.analysis.neurons.dissection import dissect_literal  # noqa: PLC0415

        cmasks = [m for _, m in every]
        cap.exact = {k: dissect_literal([maps[k] for maps, _ in every], cmasks, mask_size, quantile) for k in cap.layers}
        every = None
    if cap.dissect is not None and not cap.exact:
        # Second pass only over the images of segments whose cutoff was above a channel's final threshold.
        plans = {k: cap.dissect[k].refine_plan() for k in cap.layers}
        todo = sorted({j for plan in plans.values() for a, b, _ in plan for j in range(a, b)})
        if todo:
            redo = [k for k in cap.layers if plans[k]]
            for j in todo:
                if j in kept:  # the very maps counted in the first pass
                    maps, cmasks = kept[j]
                    for k in redo:
                        cap.dissect[k].add_refine(maps[k], cmasks, j)
            encode = [j for j in todo if j not in kept]
            kept.clear()
            for part in track(list(iter_batches(encode, batch_size)), f"{description} (exact recount of {len(todo)} images)"):
                x, prepared = batch_inputs([chosen[j] for j in part])
                feats = layer_activations(model, x, redo)
                for k in redo:
                    for b, j in enumerate(part):
                        cap.dissect[k].add_refine(feats[k][b].detach().cpu(), prepared[b].category_masks, j)
            for k in redo:  # thresholds the corrections belong to, also for layers without a bad segment
                cap.dissect[k].corrected_for = cap.dissect[k].thresholds()
            cap.refined = [f"{k}:{len({j for a, b, _ in plans[k] for j in range(a, b)})}" for k in redo]
    return cap
