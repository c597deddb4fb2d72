"""Network Dissection IoU of every channel with every region category, in one streaming pass.

For channel ``c`` with dataset-wide top-quantile threshold ``t_c`` (the value
exceeded by 0.5 % of its raw activations) and category ``k``::

    IoU(c, k) = sum_images |{U_c > t_c} ∩ S_k| / sum_images |{U_c > t_c} ∪ S_k|

where ``U_c`` is the channel map upsampled bilinearly to the mask resolution and
``S_k`` the union of the category's annotated regions. A channel *detects*
``k`` when ``IoU > 0.04``.

NetDissect needs two passes (quantiles first, then IoU at the known threshold).
Here the upsampled values are counted into per-channel histograms with one row
for all pixels and one per category (:class:`~salscope.analysis.neurons.runningstats.RunningHistogram`),
so ``|{U > t}|`` and ``|{U > t} ∩ S_k|`` can be read for any ``t`` chosen at the
end, and the forward pass runs once. Only the upper tail is counted: values
below a running lower bound of the threshold are dropped before counting
(:func:`upsampled_above`), and the histogram grid adapts to the tail, which
makes it both fast and fine. Where a channel's final threshold falls below a
bound already applied, the few images concerned are recounted exactly in a
second pass (:meth:`DissectionAccumulator.refine_plan`).
At bin edges the counts are exact; inside the bin that holds ``t`` they are
interpolated linearly (``tests/analysis``; accuracy on OSIE in ``docs/dissect.md``).
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

from salscope.analysis.neurons.runningstats import RunningHistogram
from salscope.errors import AnalysisError

DEFAULT_QUANTILE = 0.005
DEFAULT_IOU_THRESHOLD = 0.04


def resize_mask_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``size = (h, w)`` (pixel centres sampled)."""
    big_h, big_w = mask.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * big_h / size[0]).astype(np.int64), big_h - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * big_w / size[1]).astype(np.int64), big_w - 1)
    return mask[np.ix_(rows, cols)]


def upsampled_above(fmap: torch.Tensor, cutoff: torch.Tensor, size: tuple[int, int]):
    """Pixels of the bilinear upsampling of ``fmap`` ``(C, h, w)`` to ``size`` whose value exceeds ``cutoff[c]``.

    Returns ``(channel, flat_pixel, value)`` 1-D tensors. (Computing only the
    blocks whose 2×2 raw window exceeds the cutoff was tried and measured slower
    than one dense ``F.interpolate`` at these sizes.)
    """
    c = fmap.shape[0]
    u = F.interpolate(fmap[None], size=(int(size[0]), int(size[1])), mode="bilinear", align_corners=False)[0]
    u = u.reshape(c, -1)
    chan, pix = (u > cutoff[:, None]).nonzero(as_tuple=True)
    return chan, pix, u[chan, pix]


def category_labels(stack: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """``(K, h, w)`` category masks → ``(masks (K, h·w) bool, label (h·w,) int64, overlap)``.

    ``label`` is 0 off every category and ``1 + k`` for the first category ``k``
    of a pixel; ``overlap`` says whether some pixel has several categories.
    """
    masks = torch.from_numpy(np.ascontiguousarray(stack, dtype=bool).reshape(len(stack), -1))
    n_cat = masks.sum(0)
    label = torch.zeros(masks.shape[1], dtype=torch.int64)
    for k in range(len(stack) - 1, -1, -1):  # last write wins: the first category of each pixel
        label.masked_fill_(masks[k], k + 1)
    return masks, label, bool((n_cat > 1).any())


class DissectionAccumulator:
    """Streaming state of one layer: raw-activation quantile histogram and labelled upsampled-tail histograms.

    ``add(features, category_masks)`` takes one batch ``(B, C, h, w)`` and, per
    image, a ``(K, mh, mw)`` bool stack of category masks at ``mask_size``.

    Only the tail is counted. Images are grouped in segments of doubling length
    (1, 1, 2, 4, 8, ... images); at the start of a segment each channel gets a
    cutoff, a running lower estimate of its final threshold (the raw
    ``1 - m q`` quantile of the images seen so far, less one bin, with ``m``
    shrinking from ``3·margin`` to ``margin`` as data accumulates, but not
    below the channel's minimum so far, since the threshold is a quantile and
    only values strictly above it count), and upsampled values at or below it
    are dropped before counting (:func:`upsampled_above`).
    The first image is counted in full. When a channel's final threshold lies
    below a segment's cutoff, :meth:`refine_plan` names the segment and a second
    pass over its images (:meth:`add_refine`) adds the missing values in
    ``(t, cutoff]`` exactly; segments are short early on, where this can happen.
    """

    def __init__(self, channels: int, n_categories: int, mask_size: tuple[int, int] = (112, 112), bins: int = 256,
                 quantile: float = DEFAULT_QUANTILE, margin: float = 2.0):
        if not 0 < quantile < 1:
            raise AnalysisError(f"quantile={quantile}: give the top fraction, e.g. 0.005 for the top 0.5 %")
        self.channels = int(channels)
        self.n_categories = int(n_categories)
        self.mask_size = (int(mask_size[0]), int(mask_size[1]))
        self.quantile = float(quantile)
        self.margin = float(margin)
        self.bins = int(bins)
        self.raw = RunningHistogram(self.channels, bins=bins, n_labels=1)
        # label 0: pixels of no category; 1 + k: pixels whose first category is k (values above the cutoff only).
        # Pixels in several categories count again in ``extra`` for their other categories (created on demand).
        self.up = RunningHistogram(self.channels, bins=bins, n_labels=1 + self.n_categories)
        self.extra: RunningHistogram | None = None
        self.mask_area = torch.zeros(self.n_categories, dtype=torch.float64)
        self.n_images = 0
        # segments: [start image, end image (exclusive), float32 cutoff per channel]
        self.segments: list[list[Any]] = []
        self.corr_inter = torch.zeros((self.channels, self.n_categories), dtype=torch.float64)
        self.corr_act = torch.zeros(self.channels, dtype=torch.float64)
        self.corrected_for: torch.Tensor | None = None  # thresholds the corrections belong to

    # -- segments -------------------------------------------------------------------------------------
    def _segment_cutoff(self) -> torch.Tensor:
        """Cutoff for the image about to be added (constant within a segment)."""
        n = self.n_images
        if self.segments and n < self.segments[-1][1]:
            return self.segments[-1][2]
        if n == 0:
            cut = torch.full((self.channels,), float("-inf"), dtype=torch.float32)
            end = 1
        else:
            m = self.margin * min(1.0 + 16.0 / n, 3.0)
            q = max(0.0, 1.0 - m * self.quantile)
            # The threshold is never below the channel's minimum (a quantile), and only values strictly above
            # it count: values at the minimum so far (e.g. ReLU zeros of a channel that rarely fires) are
            # dropped too. Should the minimum fall later, refine_plan recounts as for any cutoff.
            est = torch.maximum(self.raw.quantile(q) - self.raw.width, self.raw.min)
            cut = est.to(torch.float32)
            # float32 rounding must never move the cutoff above the float64 estimate
            cut = torch.where(cut.to(torch.float64) > est, torch.nextafter(cut, torch.tensor(float("-inf"))), cut)
            end = 2 * n
        self.segments.append([n, end, cut])
        return cut

    def add(self, features: torch.Tensor, category_masks: Sequence[np.ndarray],
            labels: Sequence[tuple[torch.Tensor, torch.Tensor, bool]] | None = None) -> None:
        """Add a batch; ``labels`` (optional) are :func:`category_labels` of the masks, computed once per image."""
        if features.ndim != 4 or features.shape[1] != self.channels:
            raise AnalysisError(f"DissectionAccumulator.add: expected (B, {self.channels}, h, w), got {tuple(features.shape)}")
        if len(category_masks) != features.shape[0]:
            raise AnalysisError("DissectionAccumulator.add: one mask stack per image is needed")
        feats = features.detach().float()
        for i in range(feats.shape[0]):
            fmap = feats[i]
            cut = self._segment_cutoff()
            self.raw.add(fmap.reshape(self.channels, -1))
            masks, label, overlap = labels[i] if labels is not None else category_labels(category_masks[i])
            if label.numel() != self.mask_size[0] * self.mask_size[1]:
                raise AnalysisError(f"category masks must be {self.mask_size} (the mask size), got {tuple(masks.shape)}")
            if masks.shape[0] != self.n_categories:
                raise AnalysisError(f"expected {self.n_categories} category masks per image, got {masks.shape[0]}")
            self.mask_area += masks.sum(1).to(torch.float64)
            if not bool(torch.isfinite(cut).any()):
                u = F.interpolate(fmap[None], size=self.mask_size, mode="bilinear", align_corners=False)[0]
                u = u.reshape(self.channels, -1)
                self.up.add(u, label)
                if overlap:
                    chan, pix = torch.ones_like(u, dtype=torch.bool).nonzero(as_tuple=True)
                    self._add_overlaps(masks, label, chan, pix, u.reshape(-1))
            else:
                # Bilinear values never exceed the raw maximum: channels whose raw map stays at or below the
                # cutoff in this image have no tail here and are not upsampled at all.
                active = torch.nonzero(fmap.reshape(self.channels, -1).amax(1) > cut).flatten()
                if active.numel() == 0:
                    self.n_images += 1
                    continue
                u = F.interpolate(fmap[None, active], size=self.mask_size, mode="bilinear", align_corners=False)[0]
                u = u.reshape(active.numel(), -1)
                n_pix = u.shape[1]
                # flat indices of the tail, sorted by channel (nonzero is far faster than masked_select here)
                idx = (u > cut[active, None]).view(-1).nonzero().squeeze(1)
                counts = torch.zeros(self.channels, dtype=torch.int64)
                counts[active] = torch.searchsorted(idx, torch.arange(active.numel() + 1) * n_pix).diff()
                vals = u.view(-1)[idx]
                pix = idx % n_pix
                hi = torch.full((self.channels,), float("-inf"), dtype=torch.float64)
                hi[active] = u.amax(1).to(torch.float64)
                # values are finite (the raw map was checked) and labels lie in 0..K by construction
                self.up._add_runs(counts, vals, (label * self.bins)[pix], cut.to(torch.float64), hi)
                if overlap:
                    self._add_overlaps(masks, label, active[idx // n_pix], pix, vals)
            self.n_images += 1

    def _add_overlaps(self, masks: torch.Tensor, label: torch.Tensor, chan: torch.Tensor, pix: torch.Tensor,
                      vals: torch.Tensor) -> None:
        # Categories of a pixel beyond its first one (overlapping annotations, e.g. labelme/COCO).
        second = masks.clone()
        has = torch.nonzero(label > 0).flatten()
        second[label[has] - 1, has] = False
        k_idx, j_idx = second[:, pix].nonzero(as_tuple=True)
        if k_idx.numel() == 0:
            return
        if self.extra is None:
            self.extra = RunningHistogram(self.channels, bins=self.bins, n_labels=self.n_categories)
        self.extra.add_sparse(chan[j_idx], vals[j_idx], k_idx)

    # -- exactness and the optional second pass ------------------------------------------------------
    def thresholds(self) -> torch.Tensor:
        """Per-channel threshold: the dataset-wide ``1 - quantile`` quantile of raw activations."""
        return self.raw.quantile(1.0 - self.quantile)

    def refine_plan(self, threshold: torch.Tensor | None = None) -> list[tuple[int, int, np.ndarray]]:
        """Segments whose cutoff exceeds the threshold of some channel: ``(start, end, channel mask)``."""
        t = self.thresholds() if threshold is None else threshold
        plan = []
        for start, end, cut in self.segments:
            bad = (cut.to(torch.float64) > t) & torch.isfinite(t)
            if bool(bad.any()):
                plan.append((int(start), int(min(end, self.n_images)), bad.numpy()))
        return plan

    def add_refine(self, features: torch.Tensor, category_masks: Sequence[np.ndarray], image_index: int,
                   threshold: np.ndarray | None = None) -> None:
        """Second pass over image ``image_index``: add its upsampled values in ``(t, cutoff]`` exactly.

        ``threshold`` defaults to :meth:`thresholds`; use the same one for every
        refined image and for :meth:`result`.
        """
        t = self.thresholds() if threshold is None else torch.as_tensor(np.asarray(threshold, dtype=np.float64)).reshape(-1)
        if self.corrected_for is not None and not torch.equal(self.corrected_for, t):
            raise AnalysisError("add_refine: a different threshold was used for earlier refined images")
        seg = next((sg for sg in self.segments if sg[0] <= image_index < sg[1]), None)
        if seg is None:
            raise AnalysisError(f"add_refine: image {image_index} was not part of the first pass")
        cut = seg[2].to(torch.float64)
        todo = torch.nonzero((cut > t) & torch.isfinite(t)).flatten()
        if self.corrected_for is None:
            self.corrected_for = t.clone()
        if todo.numel() == 0:
            return
        f = features.detach().float()[:, todo] if features.ndim == 4 else features.detach().float()[None, todo]
        u = F.interpolate(f, size=self.mask_size, mode="bilinear", align_corners=False)[0].reshape(todo.numel(), -1)
        u64 = u.to(torch.float64)
        inside = ((u64 > t[todo, None]) & (u64 <= cut[todo, None])).to(torch.float32)
        masks = torch.from_numpy(np.ascontiguousarray(category_masks, dtype=np.float32).reshape(self.n_categories, -1))
        self.corr_inter[todo] += (inside @ masks.T).to(torch.float64)
        self.corr_act[todo] += inside.sum(1).to(torch.float64)

    def state_dict(self) -> dict[str, Any]:
        return {"raw": self.raw.state_dict(), "up": self.up.state_dict(), "n_images": self.n_images,
                "mask_size": list(self.mask_size), "n_categories": self.n_categories, "quantile": self.quantile,
                "margin": self.margin, "bins": self.bins, "mask_area": self.mask_area.numpy().copy(),
                "segments": [[a, b, c.numpy().copy()] for a, b, c in self.segments],
                "extra": None if self.extra is None else self.extra.state_dict(),
                "corr_inter": self.corr_inter.numpy().copy(), "corr_act": self.corr_act.numpy().copy(),
                "corrected_for": None if self.corrected_for is None else self.corrected_for.numpy().copy()}

    def load_state_dict(self, state: dict[str, Any]) -> "DissectionAccumulator":
        self.raw.load_state_dict(state["raw"])
        self.up.load_state_dict(state["up"])
        self.channels = self.raw.channels
        self.n_images = int(state["n_images"])
        self.mask_size = tuple(int(v) for v in state["mask_size"])
        self.n_categories = int(state["n_categories"])
        self.quantile = float(state["quantile"])
        self.margin = float(state["margin"])
        self.bins = int(state["bins"])
        self.mask_area = torch.as_tensor(np.asarray(state["mask_area"]), dtype=torch.float64)
        self.segments = [[int(a), int(b), torch.as_tensor(np.asarray(c), dtype=torch.float32)] for a, b, c in state["segments"]]
        self.extra = None
        if state.get("extra") is not None:
            self.extra = RunningHistogram(self.channels, bins=self.bins, n_labels=self.n_categories)
            self.extra.load_state_dict(state["extra"])
        self.corr_inter = torch.as_tensor(np.asarray(state["corr_inter"]), dtype=torch.float64)
        self.corr_act = torch.as_tensor(np.asarray(state["corr_act"]), dtype=torch.float64)
        cf = state.get("corrected_for")
        self.corrected_for = None if cf is None else torch.as_tensor(np.asarray(cf), dtype=torch.float64)
        return self

    def result(self, threshold: np.ndarray | None = None) -> "DissectionResult":
        """IoU per (channel, category) at the top-``quantile`` threshold of each channel.

        ``threshold`` ``(C,)`` overrides the per-channel thresholds (e.g. to score a
        fine-tuned model at the reference model's thresholds). At a bin edge
        (:meth:`RunningHistogram.edges`) the counts are exact; between edges they
        are interpolated linearly. ``exact`` is false for channels whose counts
        miss values below a segment cutoff (see :meth:`refine_plan`).
        """
        if threshold is None:
            threshold = self.thresholds()
        else:
            threshold = torch.as_tensor(np.asarray(threshold, dtype=np.float64)).reshape(-1)
            if threshold.numel() != self.channels:
                raise AnalysisError(f"threshold: {threshold.numel()} values for {self.channels} channels")
        above = self.up.count_above(threshold)  # (C, 1 + K)
        area_act = above.sum(1)
        inter = above[:, 1:]
        if self.extra is not None:
            inter = inter + self.extra.count_above(threshold)
        missing = torch.zeros(self.channels, dtype=torch.bool)
        for _, _, cut in self.segments:
            missing |= cut.to(torch.float64) > threshold
        if self.corrected_for is not None and torch.equal(self.corrected_for, threshold):
            inter = inter + self.corr_inter
            area_act = area_act + self.corr_act
            missing[:] = False
        area_mask = self.mask_area[None, :].expand(self.channels, -1)
        union = area_act[:, None] + area_mask - inter
        iou = torch.where(union > 0, inter / union.clamp_min(1e-300), torch.zeros_like(union))
        return DissectionResult(iou.numpy(), threshold.numpy(), inter.numpy(), union.numpy(),
                                self.mask_area.numpy().copy(), (~missing).numpy())


@dataclass
class DissectionResult:
    """IoU ``(C, K)``, per-channel thresholds ``(C,)``, intersection/union sums ``(C, K)``, mask areas ``(K,)``."""


    iou: np.ndarray
    threshold: np.ndarray
    intersection: np.ndarray
    union: np.ndarray
    mask_area: np.ndarray
    exact: np.ndarray | None = None  # (C,) counts complete above the threshold (see DissectionAccumulator)

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
    The threshold is the exact ``1 - quantile`` order statistic — the smallest
    value ``t`` with at least ``1 - quantile`` of the raw activations ``<= t``
    (``numpy.quantile(..., method="inverted_cdf")``), the value the streaming
    histogram estimates — unless ``threshold`` ``(C,)`` is given.
    """
    raw = torch.cat([f.reshape(f.shape[0], -1).double() for f in features], 1)
    if threshold is None:
        n = raw.shape[1]
        k = min(n, max(1, int(np.ceil((1.0 - quantile) * n - 1e-9))))
        thr = torch.kthvalue(raw, k, dim=1).values
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
    return DissectionResult(iou.numpy(), thr.numpy(), inter.numpy(), union.numpy(), np.asarray(area, dtype=np.float64),
                            np.ones(thr.numel(), dtype=bool))
