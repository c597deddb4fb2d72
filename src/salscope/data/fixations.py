"""Fixations: flat arrays of eye fixations over a set of images.

Coordinates are 0-based floats with pixel centres at integers: ``x`` is the
column, ``y`` the row. The pixel of a fixation is ``col = floor(x + 0.5)``,
``row = floor(y + 0.5)`` (so half-pixel values round up, like MATLAB's ``round``
on positive numbers). Loaders convert file conventions at the edge (OSIE and the
MIT/CAT2000 MATLAB files are 1-based: ``x - 1``, ``y - 1``).

References
----------
Kümmerer, M., Wallis, T. S. A., Bethge, M. "Saliency benchmarking made easy",
ECCV 2018 (pysaliency's ``Fixations``: flat arrays ``x, y, n``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from salscope.data import _pysaliency
from salscope.errors import DataError


def _pixel(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5).astype(np.int64)


class Fixations:
    """Eye fixations as flat arrays: ``x``, ``y`` (float64), image index ``n``.

    ``subject`` and ``order`` (position in the subject's scanpath, 0-based) are
    int64 (-1 when unknown); ``duration`` is float64 milliseconds (NaN unknown).
    Non-finite coordinates or negative image indices raise :class:`DataError`.
    """

    def __init__(self, x, y, n, subject=None, order=None, duration=None):
        self.x = np.asarray(x, dtype=np.float64).ravel()
        self.y = np.asarray(y, dtype=np.float64).ravel()
        self.n = np.asarray(n, dtype=np.int64).ravel()
        size = self.x.size

        def _opt(value, dtype, fill):
            if value is None:
                return np.full(size, fill, dtype=dtype)
            return np.asarray(value, dtype=dtype).ravel()

        self.subject = _opt(subject, np.int64, -1)
        self.order = _opt(order, np.int64, -1)
        self.duration = _opt(duration, np.float64, np.nan)
        for name in ("y", "n", "subject", "order", "duration"):
            if getattr(self, name).size != size:
                raise DataError(f"Fixations: '{name}' has {getattr(self, name).size} values but x has {size}; give equal-length arrays")
        bad = ~(np.isfinite(self.x) & np.isfinite(self.y))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"Fixations: {int(bad.sum())} fixation(s) with NaN/Inf coordinates (first at position {k}, "
                f"image index {int(self.n[k])}); remove them from the input"
            )
        if size and self.n.min() < 0:
            raise DataError("Fixations: negative image index in 'n'; image indices start at 0")

    # -- container -----------------------------------------------------------
    def __len__(self) -> int:
        return int(self.x.size)

    def __repr__(self) -> str:
        n_img = int(np.unique(self.n).size) if len(self) else 0
        return f"Fixations({len(self)} fixations on {n_img} images)"

    def __getitem__(self, key) -> "Fixations":
        key = np.asarray(key)
        if key.dtype != bool:
            key = key.astype(np.int64)
        return Fixations(self.x[key], self.y[key], self.n[key], self.subject[key], self.order[key], self.duration[key])

    @classmethod
    def concatenate(cls, parts: Sequence["Fixations"]) -> "Fixations":
        """Join several Fixations (image indices are kept as they are)."""
        if not parts:
            return cls([], [], [])
        cat = lambda a: np.concatenate([getattr(p, a) for p in parts])  # noqa: E731
        return cls(cat("x"), cat("y"), cat("n"), cat("subject"), cat("order"), cat("duration"))

    # -- pysaliency ----------------------------------------------------------
    @classmethod
    def from_pysaliency(cls, fixations) -> "Fixations":
        """Fixations of a pysaliency ``Fixations``/``FixationTrains``, scoring the same pixels.

        pysaliency's pixel is ``int(x)``, salscope's ``floor(x + 0.5)``: the
        coordinates become ``x - 0.5``, ``y - 0.5``. ``subjects`` → ``subject``;
        ``order`` = the length of each fixation's history (its position in the
        scanpath; -1 for fixations made without history); a ``duration``
        attribute (seconds) → ``duration`` in ms. Needs no pysaliency import.
        """
        return cls(**_pysaliency.fixation_arrays_from_pysaliency(fixations))

    def to_pysaliency(self):
        """These fixations as a pysaliency ``Fixations`` (``x + 0.5``, ``y + 0.5``), so that ``int(x)`` is our pixel.

        Each fixation's history is the earlier fixations of its scanpath (same
        image and subject, by ``order``), ``t`` its position in the scanpath,
        and known durations become the ``duration`` attribute in seconds.
        Needs pysaliency (``pip install pysaliency``; :class:`DataError` if absent).
        """
        return _pysaliency.fixations_to_pysaliency(self.x, self.y, self.n, self.subject, self.order, self.duration)

    @classmethod
    def read_hdf5(cls, path, group: str | None = None) -> "Fixations":
        """Fixations from a pysaliency HDF5 file (``Fixations``/``FixationTrains.to_hdf5``), shifted as in :meth:`from_pysaliency`.

        Needs h5py (``pip install h5py``), not pysaliency. ``group`` names the
        HDF5 group holding them when they are not at the top of the file.
        """
        return cls(**_pysaliency.read_hdf5(path, group, expect="fixations")[1])

    # -- selection -----------------------------------------------------------
    def for_image(self, i: int) -> "Fixations":
        """The fixations on image ``i``."""
        return self[self.n == int(i)]

    def for_subjects(self, subjects: Sequence[int]) -> "Fixations":
        """The fixations of the given subject ids."""
        return self[np.isin(self.subject, np.asarray(list(subjects), dtype=np.int64))]

    @property
    def col(self) -> np.ndarray:
        """Pixel column of each fixation, ``floor(x + 0.5)`` (int64)."""
        return _pixel(self.x)

    @property
    def row(self) -> np.ndarray:
        """Pixel row of each fixation, ``floor(y + 0.5)`` (int64)."""
        return _pixel(self.y)

    @property
    def n_subjects(self) -> int:
        """Number of distinct known subject ids."""
        s = self.subject[self.subject >= 0]
        return int(np.unique(s).size)

    def check_bounds(self, sizes: Sequence[tuple[int, int]], where: str = "Fixations") -> None:
        """Raise :class:`DataError` if a fixation's pixel lies outside its image.

        ``sizes[n]`` is ``(height, width)`` of image ``n``; a fixation is inside when
        ``0 <= col < width`` and ``0 <= row < height``.
        """
        if not len(self):
            return
        hw = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
        if self.n.max() >= hw.shape[0]:
            k = int(np.argmax(self.n))
            raise DataError(f"{where}: fixation refers to image index {int(self.n[k])} but there are only {hw.shape[0]} images")
        h, w = hw[self.n, 0], hw[self.n, 1]
        col, row = self.col, self.row
        bad = (col < 0) | (col >= w) | (row < 0) | (row >= h)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{where}: {int(bad.sum())} fixation(s) outside their image (first: x={self.x[k]:.2f}, y={self.y[k]:.2f} "
                f"on image index {int(self.n[k])} of size {int(w[k])}x{int(h[k])} WxH); check the coordinate "
                "convention (0-based, x = column) or remove them"
            )

    # -- maps ----------------------------------------------------------------
    def fixation_map(self, i: int, shape: tuple[int, int], counts: bool = False) -> np.ndarray:
        """Map of the fixated pixels of image ``i`` on a ``shape = (H, W)`` grid.

        Each fixation adds 1 at ``[floor(y + 0.5), floor(x + 0.5)]``; the result is
        binary (1 where fixated) unless ``counts=True``. float64.
        """
        h, w = int(shape[0]), int(shape[1])
        sel = self.n == int(i)
        col, row = _pixel(self.x[sel]), _pixel(self.y[sel])
        bad = (col < 0) | (col >= w) | (row < 0) | (row >= h)
        if bad.any():
            raise DataError(
                f"fixation_map: {int(bad.sum())} fixation(s) of image {i} fall outside the {w}x{h} map; "
                "pass the image's own (height, width) as shape"
            )
        m = np.bincount(row * w + col, minlength=h * w).astype(np.float64).reshape(h, w)
        if not counts:
            m = (m > 0).astype(np.float64)
        return m

    def density(self, i: int, shape: tuple[int, int], sigma_px: float | None = None,
                sigma_deg: float | None = None, ppd: float | None = None) -> np.ndarray:
        """Empirical fixation density of image ``i``: Gaussian-blurred counts, summing to 1.

        ``D = G_sigma * C / sum(G_sigma * C)`` with ``C`` the fixation count map and
        ``G_sigma`` an isotropic Gaussian of ``sigma_px`` pixels, or of
        ``sigma_deg * ppd`` pixels (degrees of visual angle times pixels per degree).
        The blur treats pixels outside the image as zero (``mode="constant"``), then
        renormalises, so no mass is reflected back from the borders.

        References
        ----------
        Judd, T., Durand, F., Torralba, A. "A benchmark of computational models of
        saliency to predict human fixations", MIT tech. report 2012 (σ ≈ 1° of visual angle).
        """
        from scipy.ndimage import gaussian_filter

        if (sigma_px is None) == (sigma_deg is None):
            raise DataError("density: give exactly one of sigma_px= or sigma_deg= (with ppd=)")
        if sigma_deg is not None:
            if ppd is None or not ppd > 0:
                raise DataError("density: sigma_deg needs ppd= (pixels per degree of visual angle, > 0)")
            sigma_px = float(sigma_deg) * float(ppd)
        if not (sigma_px >= 0 and np.isfinite(sigma_px)):
            raise DataError(f"density: sigma must be a finite number >= 0, got {sigma_px}")
        counts = self.fixation_map(i, shape, counts=True)
        total = counts.sum()
        if total == 0:
            raise DataError(f"density: image {i} has no fixations; a density needs at least one")
        blurred = gaussian_filter(counts, sigma=float(sigma_px), mode="constant", truncate=4.0) if sigma_px > 0 else counts
        return blurred / blurred.sum()
