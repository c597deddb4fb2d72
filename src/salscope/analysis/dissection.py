"""Network Dissection IoU of every channel with every region category, in one streaming pass.

For channel ``c`` with dataset-wide top-quantile threshold ``t_c`` (the value
exceeded by 0.5 % of its raw activations) and category ``k``::

    IoU(c, k) = sum_images |{U_c > t_c} ∩ S_k| / sum_images |{U_c > t_c} ∪ S_k|

where ``U_c`` is the channel map upsampled bilinearly to the mask resolution and
``S_k`` the union of the category's annotated regions. A channel *detects*
``k`` when ``IoU > 0.04``.

NetDissect needs two passes (quantiles first, then IoU at the known threshold).
Here the upsampled values are counted into per-channel histograms with one row
for all pixels and one per category (:class:`~salscope.analysis.runningstats.RunningHistogram`),
so ``|{U > t}|`` and ``|{U > t} ∩ S_k|`` can be read for any ``t`` chosen at the
end, and the forward pass runs once. Inside the bin that holds ``t`` the counts
are interpolated linearly; with the default 256 bins per channel the IoU agrees
with the exact two-pass computation to about 1e-3 (``tests/analysis``).
Masks are compared at ``mask_size`` (default 112×112 for a 224 input, Broden's
segmentation resolution), nearest-neighbour resized from the annotation.

References
----------
Bau, D., Zhou, B., Khosla, A., Oliva, A., Torralba, A. "Network Dissection:
Quantifying Interpretability of Deep Visual Representations", CVPR 2017
(top 0.5 % quantile, IoU > 0.04, upsampled activations vs. segmentation masks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from salscope.analysis.runningstats import RunningHistogram
from salscope.errors import AnalysisError

DEFAULT_QUANTILE = 0.005
DEFAULT_IOU_THRESHOLD = 0.04


def resize_mask_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``size = (h, w)`` (pixel centres sampled)."""
    big_h, big_w = mask.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * big_h / size[0]).astype(np.int64), big_h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * big_w / size[1]).astype(np.int64), big_w - 1)
    return mask[np.ix_(rows, cols)]


class DissectionAccumulator:
    """Streaming state of one layer: raw-activation quantile histogram and labelled upsampled histograms.

    ``add(features, category_masks)`` takes one batch ``(B, C, h, w)`` and, per
    image, a ``(K, mh, mw)`` bool stack of category masks at ``mask_size``.
    """

    def __init__(self, channels: int, n_categories: int, mask_size: tuple[int, int] = (112, 112), bins: int = 256):
        self.channels = int(channels)
        self.n_categories = int(n_categories)
        self.mask_size = (int(mask_size[0]), int(mask_size[1]))
        self.raw = RunningHistogram(self.channels, bins=bins, n_labels=1)
        # label 0: every pixel; label 1 + k: pixels of category k
        self.up = RunningHistogram(self.channels, bins=bins, n_labels=1 + self.n_categories)
        self.n_images = 0

    def add(self, features: torch.Tensor, category_masks: Sequence[np.ndarray]) -> None:
        if features.ndim != 4 or features.shape[1] != self.channels:
            raise AnalysisError(f"DissectionAccumulator.add: expected (B, {self.channels}, h, w), got {tuple(features.shape)}")
        if len(category_masks) != features.shape[0]:
            raise AnalysisError("DissectionAccumulator.add: one mask stack per image is needed")
        feats = features.detach().float()
        up = F.interpolate(feats, size=self.mask_size, mode="bilinear", align_corners=False)
        for i in range(feats.shape[0]):
            raw = feats[i].reshape(self.channels, -1)
            self.raw.add(raw)
            u = up[i].reshape(self.channels, -1)
            masks = np.asarray(category_masks[i], dtype=bool).reshape(self.n_categories, -1)
            cat_idx, pix = np.nonzero(masks)
            pix_t = torch.from_numpy(pix)
            values = torch.cat([u, u[:, pix_t]], 1)
            labels = torch.cat([torch.zeros(u.shape[1], dtype=torch.int64), torch.from_numpy(cat_idx + 1)])
            self.up.add(values, labels, range_values=raw)
            self.n_images += 1

    def state_dict(self) -> dict[str, Any]:
        return {"raw": self.raw.state_dict(), "up": self.up.state_dict(), "n_images": self.n_images,
                "mask_size": list(self.mask_size), "n_categories": self.n_categories}

    def load_state_dict(self, state: dict[str, Any]) -> "DissectionAccumulator":
        self.raw.load_state_dict(state["raw"])
        self.up.load_state_dict(state["up"])
        self.n_images = int(state["n_images"])
        self.mask_size = tuple(int(v) for v in state["mask_size"])
        self.n_categories = int(state["n_categories"])
        self.channels = self.raw.channels
        return self

    def result(self, quantile: float = DEFAULT_QUANTILE, threshold: np.ndarray | None = None) -> "DissectionResult":
        """IoU per (channel, category) at the top-``quantile`` threshold of each channel.

        ``threshold`` ``(C,)`` overrides the per-channel thresholds (e.g. to score a
        fine-tuned model at the reference model's thresholds). At a bin edge
        (:meth:`RunningHistogram.edges`) the counts are exact; between edges they
        are interpolated linearly.
        """
        if not 0 < quantile < 1:
            raise AnalysisError(f"quantile={quantile}: give the top fraction, e.g. 0.005 for the top 0.5 %")
        if threshold is None:
            threshold = self.raw.quantile(1.0 - quantile)
        else:
            threshold = torch.as_tensor(np.asarray(threshold, dtype=np.float64)).reshape(-1)
            if threshold.numel() != self.channels:
                raise AnalysisError(f"threshold: {threshold.numel()} values for {self.channels} channels")
        above = self.up.count_above(threshold)  # (C, 1 + K)
        area_act = above[:, 0:1]
        inter = above[:, 1:]
        area_mask = self.up.counts[:, 1:, :].sum(2).to(torch.float64)  # (C, K), same for every channel
        union = area_act + area_mask - inter
        iou = torch.where(union > 0, inter / union.clamp_min(1e-300), torch.zeros_like(union))
        return DissectionResult(iou.numpy(), threshold.numpy(), inter.numpy(), union.numpy(),
                                area_mask[0].numpy() if self.channels else np.zeros(self.n_categories))


@dataclass
class DissectionResult:
    """IoU ``(C, K)``, per-channel thresholds ``(C,)``, intersection/union sums ``(C, K)``, mask areas ``(K,)``."""

    iou: np.ndarray
    threshold: np.ndarray
    intersection: np.ndarray
    union: np.ndarray
    mask_area: np.ndarray

    def detectors(self, iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> np.ndarray:
        """Bool ``(C, K)``: channel detects category (IoU above ``iou_threshold``)."""
        return self.iou > iou_threshold

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Best category index and its IoU per channel."""
        k = np.argmax(self.iou, axis=1)
        return k, self.iou[np.arange(self.iou.shape[0]), k]


def dissect_literal(features: Sequence[torch.Tensor], category_masks: Sequence[np.ndarray],
                    mask_size: tuple[int, int], quantile: float = DEFAULT_QUANTILE,
                    threshold: np.ndarray | None = None) -> DissectionResult:
    """Reference two-pass Network Dissection with every map in memory (tests, small sets).

    ``features``: per image ``(C, h, w)``; ``category_masks``: per image ``(K, mh, mw)``.
    The threshold is the exact ``1 - quantile`` quantile (``torch.quantile``, linear)
    unless ``threshold`` ``(C,)`` is given.
    """
    raw = torch.cat([f.reshape(f.shape[0], -1).double() for f in features], 1)
    if threshold is None:
        thr = torch.quantile(raw, 1.0 - quantile, dim=1)
    else:
        thr = torch.as_tensor(np.asarray(threshold, dtype=np.float64))
    inter = 0
    union = 0
    area = 0
    for f, m in zip(features, category_masks):
        up = F.interpolate(f[None].double(), size=mask_size, mode="bilinear", align_corners=False)[0]
        act = up > thr[:, None, None]  # (C, mh, mw)
        mk = torch.from_numpy(np.asarray(m, dtype=bool))  # (K, mh, mw)
        inter = inter + (act[:, None] & mk[None]).sum((2, 3))
        union = union + (act[:, None] | mk[None]).sum((2, 3))
        area = area + mk.sum((1, 2))
    inter, union = inter.double(), union.double()
    iou = torch.where(union > 0, inter / union.clamp_min(1e-300), torch.zeros_like(union))
    return DissectionResult(iou.numpy(), thr.numpy(), inter.numpy(), union.numpy(), np.asarray(area, dtype=np.float64))
