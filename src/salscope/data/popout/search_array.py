"""One search array: image, target and distractor masks, metadata, and the item layout read from them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from salscope.data.popout.render import items_from_meta
from salscope.errors import ConfigError, DataError
from salscope.metrics.popout import nearest_item_labels


@dataclass
class SearchArray:
    """One generated (or loaded) search array.

    Attributes
    ----------
    image : uint8 H×W×3 RGB.
    target_mask : bool H×W, True where the target has ink.
    distractor_ids : uint16 H×W, distractor instance id (1..n) or 0.
    meta : dict with dimension, level, level_value, set_size, grid, positions, seed, ...

    :meth:`items` gives every item's centre and grid cell and the target's
    index; :meth:`item_labels` the nearest-item region of each pixel (the
    item-level scoring of :mod:`salscope.analysis.popout.scoring`); :meth:`target_disc`
    P3's disc hit mask.
    """

    image: np.ndarray
    target_mask: np.ndarray
    distractor_ids: np.ndarray
    meta: dict = field(default_factory=dict)
    _items: tuple | None = field(default=None, init=False, repr=False, compare=False)
    _labels: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def distractor_mask(self) -> np.ndarray:
        """Boolean H×W: pixels of any distractor."""
        return self.distractor_ids > 0

    @property
    def target_xy(self) -> tuple[float, float]:
        """Target centre (x, y) in pixels."""
        t = self.meta["target"]
        return float(t["x"]), float(t["y"])

    @property
    def ior_radius(self) -> float:
        """Radius of a distractor (the inhibition-of-return disc of the P3 protocol)."""
        return float(self.meta["distractor_radius"])

    @property
    def target_radius(self) -> float:
        """Radius of the smallest centred disc that holds the target (P3's hit disc: half the target's size)."""
        t = self.meta["target"]
        if "radius" in t:
            return float(t["radius"])
        return items_from_meta(self.meta)[0].radius

    def items(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Every item's centre and grid cell, in raster order of the cells, and the target's index.

        Returns ``(centres, cells, target_index)``: ``centres`` float64 n×2 of
        (x, y) pixels, ``cells`` int64 n of ``row · cols + col`` grid cells,
        ``target_index`` the target's row in both. The cells are derived from
        the positions and the grid in the metadata (an item never leaves its
        cell: jitter < cell / 2), so sets saved before this method existed read
        the same. Raises :class:`DataError` when the metadata lack the layout.
        """
        if self._items is None:
            self._items = item_layout(self.meta)
        centres, cells, target = self._items
        return centres.copy(), cells.copy(), target

    def item_labels(self) -> np.ndarray:
        """int32 H×W: index (into :meth:`items`) of the item whose centre is nearest each pixel.

        The item regions are the Voronoi cells of the item centres: on a full
        grid each is the item's grid cell with its borders moved by the jitter.
        Computed once per array and cached.
        """
        if self._labels is None:
            self._labels = nearest_item_labels(self.target_mask.shape, self.items()[0])
        return self._labels

    def target_disc(self, radius: float | None = None) -> np.ndarray:
        """Boolean H×W disc ``‖p − target centre‖ ≤ radius`` (default :attr:`target_radius`): P3's hit mask."""
        r = self.target_radius if radius is None else float(radius)
        if not (math.isfinite(r) and r >= 0):
            raise ConfigError(f"disc radius={radius!r} must be a finite number ≥ 0 (pixels)")
        tx, ty = self.target_xy
        h, w = self.target_mask.shape
        yy, xx = np.ogrid[:h, :w]
        return (xx - tx) ** 2 + (yy - ty) ** 2 <= r * r


def item_layout(meta: dict) -> tuple[np.ndarray, np.ndarray, int]:
    try:
        rows, cols = (int(v) for v in meta["grid"])
        h, w = (int(v) for v in meta["image_size"])
        specs = [meta["target"], *meta["distractors"]]
        xy = np.array([[float(s["x"]), float(s["y"])] for s in specs], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"search-array metadata lack the item layout ({exc!r}: need grid, image_size and every item's x, y); "
            "regenerate the set with `salscope popout generate`"
        ) from exc
    # Cell centres sit at (c + 0.5)·cell − 0.5 and an item moves less than half a cell, so floor recovers c.
    col = np.clip(np.floor((xy[:, 0] + 0.5) / (w / cols)), 0, cols - 1).astype(np.int64)
    row = np.clip(np.floor((xy[:, 1] + 0.5) / (h / rows)), 0, rows - 1).astype(np.int64)
    cells = row * cols + col
    if "cell" in meta["target"] and int(meta["target"]["cell"]) != int(cells[0]):
        raise DataError(
            f"search-array metadata are inconsistent: the target at ({xy[0, 0]:.1f}, {xy[0, 1]:.1f}) lies in grid "
            f"cell {int(cells[0])}, not its recorded cell {meta['target']['cell']}; regenerate the set"
        )
    order = np.argsort(cells, kind="stable")
    target = int(np.flatnonzero(order == 0)[0])
    return xy[order], cells[order], target
