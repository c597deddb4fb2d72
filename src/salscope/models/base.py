"""The interface every saliency model implements.

A model maps an RGB image (``H×W×3`` uint8) to a saliency map (``H×W`` float64)
of the same height and width. Models that predict a probability density also
give its logarithm; for the others :meth:`SaliencyModel.log_density` normalises
the map into a density, which is what information gain and log-likelihood need.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from salscope.errors import ModelError


def as_rgb_image(image: np.ndarray, *, argument: str = "image") -> np.ndarray:
    """Check and convert an image to ``H×W×3`` uint8 RGB.

    Accepts ``H×W`` (grey), ``H×W×1``, ``H×W×3`` and ``H×W×4`` (alpha dropped);
    float images in [0, 1] are scaled to 0–255. Anything else raises
    :class:`ModelError` naming ``argument``.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ModelError(f"{argument}: expected an H×W, H×W×3 or H×W×4 image, got shape {np.shape(image)}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"{argument}: image contains NaN or inf values")
        if np.issubdtype(arr.dtype, np.floating) and arr.max(initial=0) <= 1.0:
            arr = arr * 255.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def log_density_from_map(saliency_map: np.ndarray) -> np.ndarray:
    """Log-density of a saliency map: shift to non-negative, add a floor of 1e-20 of the sum, normalise, log.

    ``p = (s' + 1e-20 Σs') / Σ(s' + 1e-20 Σs')`` with ``s' = s - min(0, min s)``;
    a map with no positive mass gives the uniform ``-log(H·W)``. This is
    :meth:`SaliencyModel.log_density`'s default, also used by the evaluation
    for maps read from disk.
    """
    smap = np.asarray(saliency_map, dtype=np.float64)
    smap = smap - min(0.0, float(smap.min()))
    total = float(smap.sum())
    if total <= 0:
        return np.full(smap.shape, -np.log(smap.size))
    smap = smap + 1e-20 * total
    return np.log(smap) - np.log(smap.sum())


class SaliencyModel:
    """Base class: override :meth:`saliency_map` (and :meth:`log_density` if the model has one).

    Attributes
    ----------
    name : str
        Registry name or a descriptive label.
    kind : str
        ``"deep"``, ``"classical"``, ``"baseline"`` or ``"other"`` (what tables and the report call it).
    center_prior : bool
        Whether the model applies a built-in centre prior. Models that have one
        take ``center_prior=False`` to switch it off (fair pop-out tests).
    """

    name: str = "model"
    kind: ClassVar[str] = "other"
    center_prior: bool = False

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        """Saliency map of ``image`` (``H×W×3`` uint8) as ``H×W`` float64."""
        raise NotImplementedError(f"{type(self).__name__} does not implement saliency_map")

    def log_density(self, image: np.ndarray) -> np.ndarray:
        """Log of the fixation density the model predicts for ``image``.

        Default: :func:`log_density_from_map` of the saliency map (shifted to be
        non-negative, plus a floor of 1e-20 of its sum, normalised, logged).
        """
        return log_density_from_map(self.saliency_map(image))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, center_prior={self.center_prior})"
