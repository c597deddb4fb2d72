"""The shared region types: :class:`Region` (one annotated instance), :class:`Regions` (one image's), the paper's categories.

Every format module (:mod:`~salscope.data.regions.voc`, :mod:`~salscope.data.regions.labelme`,
:mod:`~salscope.data.regions.coco`) loads into these. Instance masks are bool ``H×W``
and must match the image size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from salscope.errors import DataError

#: The paper's 12 salient-region categories, as (name, code) — codes as in OSIE-SR.
CATEGORIES: list[tuple[str, int]] = [
    ("person head", 1), ("person part", 10), ("animal head", 16), ("animal part", 22),
    ("object", 27), ("text", 37), ("symbol", 46), ("vehicle", 51), ("food", 57),
    ("plant", 63), ("drink", 68), ("other", 73),
]
CATEGORY_CODES: dict[str, int] = dict(CATEGORIES)
CATEGORY_NAMES: dict[int, str] = {c: n for n, c in CATEGORIES}


class Region:
    """One annotated instance: ``instance`` id, ``category`` name, ``code`` and a bool ``mask``.

    The mask may be given or computed on first access (``mask_fn``), so a set of
    annotations does not hold every mask in memory at once. ``attrs`` keeps extra
    fields of the annotation file (``source``, ``n_fixations``, ...).
    """

    __slots__ = ("instance", "category", "code", "attrs", "_mask", "_mask_fn")

    def __init__(self, instance: int, category: str, code: int, mask: np.ndarray | None = None,
                 *, mask_fn: Callable[[], np.ndarray] | None = None, attrs: dict | None = None):
        if mask is None and mask_fn is None:
            raise DataError(f"Region {instance}: give a mask or a mask_fn")
        self.instance = int(instance)
        self.category = str(category)
        self.code = int(code)
        self.attrs = dict(attrs or {})
        self._mask = None if mask is None else np.asarray(mask, dtype=bool)
        self._mask_fn = mask_fn

    @property
    def mask(self) -> np.ndarray:
        if self._mask is not None:
            return self._mask
        return np.asarray(self._mask_fn(), dtype=bool)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def __repr__(self) -> str:
        return f"Region(instance={self.instance}, category={self.category!r}, code={self.code})"


@dataclass
class Regions:
    """The annotated instances of one image, with the image's ``shape`` (H, W)."""

    image_id: str
    instances: list[Region]
    shape: tuple[int, int]
    source: str = ""
    _label_fn: Callable[[], np.ndarray] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.instances)

    def __iter__(self) -> Iterator[Region]:
        return iter(self.instances)

    def __getitem__(self, k: int) -> Region:
        return self.instances[k]

    @property
    def categories(self) -> list[str]:
        return [r.category for r in self.instances]

    def by_category(self, category: str) -> list[Region]:
        """The instances of one category name."""
        return [r for r in self.instances if r.category == category]

    def instance_map(self) -> np.ndarray:
        """int64 ``H×W`` map: instance id per pixel, 0 = background (later instances on top)."""
        if self._label_fn is not None:
            return self._label_fn().astype(np.int64)
        out = np.zeros(self.shape, dtype=np.int64)
        for r in self.instances:
            out[r.mask] = r.instance
        return out

    def check_shape(self, shape: Sequence[int], where: str = "") -> None:
        """:class:`DataError` unless the masks are ``shape = (H, W)`` (the image's size)."""
        h, w = int(shape[0]), int(shape[1])
        if tuple(self.shape) != (h, w):
            raise DataError(
                f"regions of image {self.image_id}{' (' + where + ')' if where else ''}: masks are "
                f"{self.shape[1]}x{self.shape[0]} but the image is {w}x{h} (WxH); annotate at the image's size"
            )


def check_against(regions: dict[str, Regions], stimuli) -> None:
    """:class:`DataError` unless every annotated image is one of ``stimuli`` and of its size (``None``: no check)."""
    if stimuli is None:
        return
    ids = stimuli.ids
    sizes = stimuli.sizes
    pos = {i: k for k, i in enumerate(ids)}
    for image_id, reg in regions.items():
        if image_id not in pos:
            raise DataError(f"regions for image {image_id!r} ({reg.source}) but the stimuli have no such image; "
                            "check the file names or pass the matching stimuli")
        reg.check_shape(sizes[pos[image_id]], reg.source)
