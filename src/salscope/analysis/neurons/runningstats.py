"""Streaming per-channel statistics with a resumable state: min, max, quantiles, labelled histograms.

The neuron analysis sees every activation once and may keep only a fixed amount
of memory per channel. :class:`RunningHistogram` keeps, for each channel, a
histogram on a grid of equal bins whose width is a power of two; when a value
falls outside the current window the width is doubled (pairs of bins merge
exactly, because every edge of the coarse grid is an edge of the fine one) and
the window slides. The state is therefore independent of the number of values
seen, and two passes over the data are never needed: quantiles and "how many
values lie above ``t``" are read off the cumulative counts at the end, linearly
interpolated inside the bin that holds ``t``.

An optional *label* axis (``n_labels``) keeps one histogram per label (e.g. the
region category of each upsampled pixel), which is what Network Dissection's IoU
needs: the intersection of ``{a > t}`` with a category's mask is the count of
that category's histogram above ``t``, for any ``t`` decided later.

Accuracy: with ``bins`` bins the width is at most ``4 * (max - min) / bins``
(``2*span/bins`` rounded up to a power of two), so a quantile is off by less
than one bin width before interpolation (far less after it for smooth data).

References
----------
Bau, D., Zhou, B., Khosla, A., Oliva, A., Torralba, A. "Network Dissection:
Quantifying Interpretability of Deep Visual Representations", CVPR 2017
(``runningstats.py`` of davidbau/dissect keeps a resumable streaming quantile
sketch; this module keeps a mergeable fixed-size histogram instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from salscope.errors import AnalysisError

_STATE_VERSION = 1


class RunningMinMax:
    """Per-channel running minimum and maximum of a stream of ``(values, C)`` batches."""

    def __init__(self, channels: int):
        self.channels = int(channels)
        self.min = torch.full((self.channels,), float("inf"), dtype=torch.float64)
        self.max = torch.full((self.channels,), float("-inf"), dtype=torch.float64)
        self.count = 0

    def add(self, values: torch.Tensor) -> None:
        """Add ``values`` of shape ``(C, n)``."""
        if values.ndim != 2 or values.shape[0] != self.channels:
            raise AnalysisError(f"RunningMinMax.add: expected shape ({self.channels}, n), got {tuple(values.shape)}")
        if values.shape[1] == 0:
            return
        v = values.detach()
        self.min = torch.minimum(self.min, v.amin(dim=1).to(torch.float64))
        self.max = torch.maximum(self.max, v.amax(dim=1).to(torch.float64))
        self.count += int(values.shape[1])

    def state_dict(self) -> dict[str, Any]:
        return {"version": _STATE_VERSION, "channels": self.channels, "min": self.min.numpy().copy(),
                "max": self.max.numpy().copy(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> "RunningMinMax":
        _check_state(state, "RunningMinMax")
        self.channels = int(state["channels"])
        self.min = torch.as_tensor(np.asarray(state["min"]), dtype=torch.float64)
        self.max = torch.as_tensor(np.asarray(state["max"]), dtype=torch.float64)
        self.count = int(state["count"])
        return self


def _check_state(state: dict[str, Any], who: str) -> None:
    if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
        raise AnalysisError(
            f"{who}.load_state_dict: state has version {state.get('version') if isinstance(state, dict) else None!r}, "
            f"expected {_STATE_VERSION}; recompute the statistics with this salscope version"
        )


class RunningHistogram:
    """Per-channel histograms on power-of-two grids that widen as the range grows.

    Channel ``c`` has bin width ``2**exponent[c]`` and bins
    ``[(offset[c] + j) * width, (offset[c] + j + 1) * width)`` for ``j < bins``.
    ``counts`` has shape ``(C, n_labels, bins)`` (int64). Values are added with
    :meth:`add` (``(C, n)`` values, optional ``(n,)`` labels shared by all channels).
    Exact ``min``/``max`` per channel are kept beside the histogram.
    """

    def __init__(self, channels: int, bins: int = 256, n_labels: int = 1):
        if bins < 8 or bins % 2:
            raise AnalysisError(f"RunningHistogram: bins={bins}; use an even number of at least 8")
        if n_labels < 1:
            raise AnalysisError(f"RunningHistogram: n_labels={n_labels}; use at least 1")
        self.channels = int(channels)
        self.bins = int(bins)
        self.n_labels = int(n_labels)
        self.counts = torch.zeros((self.channels, self.n_labels, self.bins), dtype=torch.int64)
        self.exponent = torch.zeros(self.channels, dtype=torch.int64)
        self.offset = torch.zeros(self.channels, dtype=torch.int64)
        self.initialised = torch.zeros(self.channels, dtype=torch.bool)
        self.minmax = RunningMinMax(self.channels)

    # -- grid ---------------------------------------------------------------
    @property
    def width(self) -> torch.Tensor:
        """Bin width per channel (float64)."""
        return torch.pow(2.0, self.exponent.to(torch.float64))

    def edges(self) -> torch.Tensor:
        """Bin edges, shape ``(C, bins + 1)``."""
        j = torch.arange(self.bins + 1, dtype=torch.float64)
        return (self.offset.to(torch.float64)[:, None] + j[None, :]) * self.width[:, None]

    def _fit(self, lo: torch.Tensor, hi: torch.Tensor) -> None:
        """Widen/slide each channel's window so that ``[lo, hi]`` (and what was seen) fits."""
        new_lo = torch.minimum(lo, self.minmax.min)
        new_hi = torch.maximum(hi, self.minmax.max)
        has = torch.isfinite(new_lo) & torch.isfinite(new_hi)  # channels that have seen any value
        new_lo = torch.where(has, new_lo, torch.zeros_like(new_lo))
        new_hi = torch.where(has, new_hi, torch.zeros_like(new_hi))
        # A channel that has seen a single value so far (min == max) holds all its counts in one bin; when
        # its range widens it is gridded afresh (exact: the value is known), so that its width follows the
        # range rather than the magnitude of that first value (e.g. the zeros of a ReLU channel).
        mm = self.minmax
        regrid = torch.nonzero(self.initialised & has & (mm.min == mm.max) & ((new_lo < mm.min) | (new_hi > mm.max))).flatten()
        if regrid.numel():
            single = mm.min[regrid]
            held = self.counts[regrid].sum(2)  # (k, n_labels)
            self.initialised[regrid] = False
        # First data of a channel: choose the finest power of two that spans the values in half the bins,
        # leaving room to grow before the first merge.
        fresh = ~self.initialised & has
        if fresh.any():
            span = (new_hi[fresh] - new_lo[fresh]).clamp_min(0.0)
            mag = torch.maximum(new_hi[fresh].abs(), new_lo[fresh].abs())
            # A constant channel still needs a finite width: use its magnitude (or 1 for zeros).
            span = torch.where(span > 0, span, torch.where(mag > 0, mag, torch.ones_like(mag)))
            exp = torch.ceil(torch.log2(span / (self.bins // 2))).to(torch.int64)
            self.exponent[fresh] = exp
            width = torch.pow(2.0, exp.to(torch.float64))
            centre_bin = torch.floor((new_lo[fresh] + new_hi[fresh]) / 2 / width).to(torch.int64)
            self.offset[fresh] = centre_bin - self.bins // 2
            self.initialised[fresh] = True
        if regrid.numel():
            at = torch.floor(single / self.width[regrid]).to(torch.int64) - self.offset[regrid]
            rows = torch.zeros_like(self.counts[regrid])
            rows.scatter_(2, at[:, None, None].expand(-1, self.n_labels, 1), held[:, :, None])
            self.counts[regrid] = rows
        # Grow until [new_lo, new_hi] fits in the window of every channel.
        for _ in range(128):
            width = self.width
            first = torch.floor(new_lo / width).to(torch.int64)
            last = torch.floor(new_hi / width).to(torch.int64)
            ok = ((first >= self.offset) & (last < self.offset + self.bins)) | ~has
            if bool(ok.all()):
                return
            need = ~ok
            fits = (last - first + 1) <= self.bins
            slide = need & fits
            if slide.any():
                # Slide the window without changing the width: shift counts.
                self._slide(slide, first, last)
            grow = need & ~fits
            if grow.any():
                self._double(grow)
        raise AnalysisError("RunningHistogram: could not fit the value range (non-finite activations?)")

    def _slide(self, mask: torch.Tensor, first: torch.Tensor, last: torch.Tensor) -> None:
        for c in torch.nonzero(mask).flatten().tolist():
            old = int(self.offset[c])
            # Keep the already-occupied bins inside the window.
            occupied = torch.nonzero(self.counts[c].sum(0)).flatten()
            lo_bin = min(int(first[c]), old + int(occupied[0])) if occupied.numel() else int(first[c])
            hi_bin = max(int(last[c]), old + int(occupied[-1])) if occupied.numel() else int(last[c])
            if hi_bin - lo_bin + 1 > self.bins:
                self._double(torch.zeros_like(mask).index_fill_(0, torch.tensor([c]), True))
                continue
            new = lo_bin - (self.bins - (hi_bin - lo_bin + 1)) // 2
            shift = old - new
            row = torch.zeros_like(self.counts[c])
            src = torch.arange(self.bins)
            dst = src + shift
            keep = (dst >= 0) & (dst < self.bins)
            row[:, dst[keep]] = self.counts[c][:, src[keep]]
            self.counts[c] = row
            self.offset[c] = new

    def _double(self, mask: torch.Tensor) -> None:
        """Double the bin width of the channels in ``mask``, merging pairs of bins exactly."""
        idx = torch.nonzero(mask).flatten()
        if idx.numel() == 0:
            return
        counts = self.counts[idx]  # (k, L, B)
        absolute = self.offset[idx][:, None] + torch.arange(self.bins)[None, :]  # (k, B) bin numbers
        coarse = torch.div(absolute, 2, rounding_mode="floor")
        # Centre the coarse window on the occupied coarse bins.
        occ = counts.sum(1) > 0
        lo = torch.where(occ, coarse, torch.full_like(coarse, 2**62)).min(1).values
        hi = torch.where(occ, coarse, torch.full_like(coarse, -(2**62))).max(1).values
        empty = ~occ.any(1)
        lo = torch.where(empty, coarse[:, 0], lo)
        hi = torch.where(empty, coarse[:, -1], hi)
        new_off = lo - (self.bins - (hi - lo + 1)) // 2
        # Occupied bins always land inside (their coarse span is <= bins/2 + 1); empty ones may not: clamp them.
        dst = (coarse - new_off[:, None]).clamp(0, self.bins - 1)
        merged = torch.zeros_like(counts)
        merged.scatter_add_(2, dst[:, None, :].expand_as(counts), counts)
        self.counts[idx] = merged
        self.exponent[idx] += 1
        self.offset[idx] = new_off

    # -- adding -------------------------------------------------------------
    def add(self, values: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Count ``values`` ``(C, n)``; ``labels`` ``(n,)`` int in ``[0, n_labels)`` (default all 0)."""
        if values.ndim != 2 or values.shape[0] != self.channels:
            raise AnalysisError(f"RunningHistogram.add: expected shape ({self.channels}, n), got {tuple(values.shape)}")
        n = values.shape[1]
        if n == 0:
            return
        v = values.detach()
        if labels is not None:
            labels = labels.reshape(-1).to(torch.int64)
            if labels.numel() != n:
                raise AnalysisError(f"RunningHistogram.add: {labels.numel()} labels for {n} values")
            if int(labels.min()) < 0 or int(labels.max()) >= self.n_labels:
                raise AnalysisError(f"RunningHistogram.add: labels must lie in 0..{self.n_labels - 1}")
        lo, hi = v.amin(1).to(torch.float64), v.amax(1).to(torch.float64)
        if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()):
            raise AnalysisError("RunningHistogram.add: activations contain NaN/Inf; check the model and its input")
        self._fit(lo, hi)
        self._update_minmax(lo, hi, v.numel())
        # Bin index, broadcast per channel: widths are powers of two, so v * 2**-e is exact.
        b = self._bin_index(v, None)
        b += (torch.arange(self.channels) * (self.n_labels * self.bins))[:, None]
        if labels is not None:
            b += (labels * self.bins)[None, :]
        self._count(b.reshape(-1))

    def _exact_in_float32(self, v: torch.Tensor) -> bool:
        # v * 2**-e is exact in float32 when e <= 0 (scaling up never rounds, subnormals included) and no
        # overflow; floor(v * 2**-e) and the offset are then integers below 2**23 (v lies in the fitted
        # window), so their difference is exact too: the same bins as in float64.
        return (v.dtype == torch.float32 and int(self.exponent.max()) <= 0 and int(self.exponent.min()) >= -100
                and int(self.offset.abs().max()) + self.bins < 2**23)

    def _bin_index(self, v: torch.Tensor, chan: torch.Tensor | None) -> torch.Tensor:
        """``floor(v / width) - offset`` clipped to ``[0, bins)`` (int64) for values inside the fitted windows.

        ``v`` is ``(C, n)`` (``chan`` None) or 1-D with channel ``chan[i]``.
        Computed in float32 where that is exact (see :meth:`_exact_in_float32`), else in float64.
        """
        dtype = torch.float32 if self._exact_in_float32(v) else torch.float64
        inv = torch.pow(2.0, -self.exponent.to(torch.float64)).to(dtype)
        off = self.offset.to(dtype)
        if chan is None:
            inv, off = inv[:, None], off[:, None]
        else:
            inv, off = inv[chan], off[chan]
        b = torch.floor(v.to(dtype) * inv).sub_(off)
        b.clamp_(0, self.bins - 1)  # fitted before, so only rounding at an extreme could fall outside
        return b.to(torch.int64)

    def _count(self, flat_bins: torch.Tensor) -> None:
        # scatter-add of ones: bincount would build (and add) a dense array of every bin for each call
        self.counts.view(-1).scatter_add_(0, flat_bins, torch.ones_like(flat_bins))

    def _update_minmax(self, lo: torch.Tensor, hi: torch.Tensor, n: int) -> None:
        mm = self.minmax
        mm.min = torch.minimum(mm.min, lo)
        mm.max = torch.maximum(mm.max, hi)
        mm.count += int(n)

    def add_sparse(self, channels: torch.Tensor, values: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Count ``values[i]`` for channel ``channels[i]`` (and label ``labels[i]``): 1-D tensors of equal length."""
        channels = channels.reshape(-1).to(torch.int64)
        values = values.detach().reshape(-1)
        if channels.numel() != values.numel() or (labels is not None and labels.numel() != values.numel()):
            raise AnalysisError("RunningHistogram.add_sparse: channels, values and labels need equal lengths")
        if values.numel() == 0:
            return
        if int(channels.min()) < 0 or int(channels.max()) >= self.channels:
            raise AnalysisError(f"RunningHistogram.add_sparse: channels must lie in 0..{self.channels - 1}")
        v64 = values.to(torch.float64)
        lo = torch.full((self.channels,), float("inf"), dtype=torch.float64).scatter_reduce(0, channels, v64, "amin")
        hi = torch.full((self.channels,), float("-inf"), dtype=torch.float64).scatter_reduce(0, channels, v64, "amax")
        self._add(channels, values, None if labels is None else labels.reshape(-1), lo, hi, None)

    def add_runs(self, counts: torch.Tensor, values: torch.Tensor, labels: torch.Tensor | None = None, *,
                 lo: torch.Tensor | None = None, hi: torch.Tensor | None = None) -> None:
        """Count values grouped by channel: the first ``counts[0]`` belong to channel 0, and so on.

        This is the layout of ``x.masked_select(mask)`` on a ``(C, n)`` tensor, so no
        per-value channel index is needed. ``lo``/``hi`` (optional, ``(C,)``) bound
        each channel's values (``lo`` may be lower than the true minimum); channels
        without values are ignored.
        """
        counts = counts.reshape(-1).to(torch.int64)
        values = values.detach().reshape(-1)
        if counts.numel() != self.channels or int(counts.sum()) != values.numel():
            raise AnalysisError("RunningHistogram.add_runs: counts must have one entry per channel and sum to len(values)")
        if values.numel() == 0:
            return
        if not bool(torch.isfinite(values).all()):
            raise AnalysisError("RunningHistogram.add: activations contain NaN/Inf; check the model and its input")
        if lo is None or hi is None:
            chan = torch.arange(self.channels).repeat_interleave(counts)
            v64 = values.to(torch.float64)
            lo = torch.full((self.channels,), float("inf"), dtype=torch.float64).scatter_reduce(0, chan, v64, "amin")
            hi = torch.full((self.channels,), float("-inf"), dtype=torch.float64).scatter_reduce(0, chan, v64, "amax")
        label_bins = None
        if labels is not None:
            labels = labels.reshape(-1).to(torch.int64)
            if labels.numel() != values.numel():
                raise AnalysisError(f"RunningHistogram.add_runs: {labels.numel()} labels for {values.numel()} values")
            if int(labels.min()) < 0 or int(labels.max()) >= self.n_labels:
                raise AnalysisError(f"RunningHistogram.add: labels must lie in 0..{self.n_labels - 1}")
            label_bins = labels * self.bins
        self._add_runs(counts, values, label_bins, lo, hi)

    def _add_runs(self, counts: torch.Tensor, values: torch.Tensor, label_bins: torch.Tensor | None,
                  lo: torch.Tensor, hi: torch.Tensor) -> None:
        """:meth:`add_runs` without the checks: finite ``values``, ``label_bins = labels * bins`` in range."""
        has = counts > 0
        lo = torch.where(has, lo.to(torch.float64), torch.full_like(lo, float("inf"), dtype=torch.float64))
        hi = torch.where(has, hi.to(torch.float64), torch.full_like(hi, float("-inf"), dtype=torch.float64))
        self._fit(lo, hi)
        mm = self.minmax
        mm.min = torch.minimum(mm.min, lo)
        mm.max = torch.maximum(mm.max, hi)
        mm.count += int(values.numel())
        # Values of channel c lie in [lo[c], hi[c]], and floor is monotone: when those bounds land inside the
        # window no value needs clipping, and the per-channel terms of the flat index fold into one constant.
        inv64 = torch.pow(2.0, -self.exponent.to(torch.float64))
        first = torch.floor(lo * inv64) - self.offset.to(torch.float64)
        last = torch.floor(hi * inv64) - self.offset.to(torch.float64)
        inside = bool(((first >= 0) & (last < self.bins) | ~has).all())
        stride = self.n_labels * self.bins
        span = self.channels * stride + int(self.offset.abs().max()) + self.bins
        if inside and self._exact_in_float32(values) and span < 2**24:
            # all terms are integers below 2**24 (or exact products), so float32 gives the float64 result
            base = (torch.arange(self.channels) * stride - self.offset).to(torch.float32)
            b = values * inv64.to(torch.float32).repeat_interleave(counts)
            b = b.floor_().add_(base.repeat_interleave(counts)).to(torch.int64)
        else:
            chan = torch.arange(self.channels).repeat_interleave(counts)
            b = self._bin_index(values, chan)
            b += chan * stride
        if label_bins is not None:
            b += label_bins
        self._count(b)

    def _add(self, chan: torch.Tensor, v: torch.Tensor, labels: torch.Tensor | None, lo: torch.Tensor, hi: torch.Tensor,
             dense_n: int | None) -> None:
        if not bool(torch.isfinite(v).all()):
            raise AnalysisError("RunningHistogram.add: activations contain NaN/Inf; check the model and its input")
        if labels is not None:
            labels = labels.to(torch.int64)
            if int(labels.min()) < 0 or int(labels.max()) >= self.n_labels:
                raise AnalysisError(f"RunningHistogram.add: labels must lie in 0..{self.n_labels - 1}")
        self._fit(lo, hi)
        self._update_minmax(lo, hi, v.numel())
        b = self._bin_index(v, chan)
        b += chan * (self.n_labels * self.bins)
        if labels is not None:
            b += labels * self.bins
        self._count(b)

    # -- reading ------------------------------------------------------------
    @property
    def min(self) -> torch.Tensor:
        return self.minmax.min

    @property
    def max(self) -> torch.Tensor:
        return self.minmax.max

    def count_above(self, t: torch.Tensor, labels: bool = True) -> torch.Tensor:
        """Number of values ``> t[c]`` per channel (and label), interpolated inside ``t``'s bin.

        Returns float64 ``(C, n_labels)`` (or ``(C,)`` with ``labels=False``).
        """
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
        counts = self.counts.to(torch.float64)
        if not labels:
            counts = counts.sum(1, keepdim=True)
        width = self.width
        pos = t / width - self.offset.to(torch.float64)  # position in bins
        j = torch.floor(pos).clamp(-1, self.bins).to(torch.int64)
        frac_above = (1.0 - (pos - torch.floor(pos))).clamp(0, 1)  # part of bin j above t
        # Suffix sums: above[c, l, k] = sum of bins k..B-1.
        above = torch.flip(torch.cumsum(torch.flip(counts, [2]), 2), [2])
        above = torch.cat([above, torch.zeros_like(above[:, :, :1])], 2)  # index B -> 0
        jj = j.clamp(0, self.bins)
        full_after = above.gather(2, (jj + 1).clamp(max=self.bins)[:, None, None].expand(-1, counts.shape[1], 1))[:, :, 0]
        in_bin = counts.gather(2, jj.clamp(max=self.bins - 1)[:, None, None].expand(-1, counts.shape[1], 1))[:, :, 0]
        res = full_after + frac_above[:, None] * in_bin
        res = torch.where((j < 0)[:, None], above[:, :, 0], res)  # t below the window: everything
        res = torch.where((j >= self.bins)[:, None], torch.zeros_like(res), res)  # above: nothing
        # Never count values above the exact maximum (interpolation inside the last occupied bin).
        res = torch.where((t >= self.max)[:, None], torch.zeros_like(res), res)
        return res if labels else res[:, 0]

    def quantile(self, q: float) -> torch.Tensor:
        """Per-channel ``q``-quantile (linear interpolation inside the bin), clipped to [min, max]."""
        if not 0.0 <= q <= 1.0:
            raise AnalysisError(f"RunningHistogram.quantile: q={q} must lie in [0, 1]")
        counts = self.counts.sum(1).to(torch.float64)  # (C, B)
        total = counts.sum(1)
        cum = torch.cumsum(counts, 1)
        target = q * total
        j = torch.searchsorted(cum, target[:, None]).clamp(max=self.bins - 1)[:, 0]
        before = torch.where(j > 0, cum.gather(1, (j - 1).clamp(min=0)[:, None])[:, 0], torch.zeros_like(total))
        inside = counts.gather(1, j[:, None])[:, 0]
        frac = torch.where(inside > 0, (target - before) / inside.clamp_min(1e-300), torch.zeros_like(total))
        value = (self.offset.to(torch.float64) + j.to(torch.float64) + frac.clamp(0, 1)) * self.width
        value = torch.maximum(torch.minimum(value, self.max), self.min)
        return torch.where(total > 0, value, torch.full_like(value, float("nan")))

    # -- state --------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A plain dict of numpy arrays (savable with ``np.savez``) to resume from."""
        return {"version": _STATE_VERSION, "channels": self.channels, "bins": self.bins, "n_labels": self.n_labels,
                "counts": self.counts.numpy().copy(), "exponent": self.exponent.numpy().copy(),
                "offset": self.offset.numpy().copy(), "initialised": self.initialised.numpy().copy(),
                "minmax": self.minmax.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> "RunningHistogram":
        _check_state(state, "RunningHistogram")
        self.channels, self.bins, self.n_labels = int(state["channels"]), int(state["bins"]), int(state["n_labels"])
        self.counts = torch.as_tensor(np.asarray(state["counts"]), dtype=torch.int64).clone()
        self.exponent = torch.as_tensor(np.asarray(state["exponent"]), dtype=torch.int64).clone()
        self.offset = torch.as_tensor(np.asarray(state["offset"]), dtype=torch.int64).clone()
        self.initialised = torch.as_tensor(np.asarray(state["initialised"]), dtype=torch.bool).clone()
        self.minmax = RunningMinMax(self.channels).load_state_dict(state["minmax"])
        return self
