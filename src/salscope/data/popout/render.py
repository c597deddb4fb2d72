"""Search-array items and their rendering: CIE LCh colours, discs, bars and polygons, supersampled in numpy.

Rendering is pure numpy with supersampled anti-aliasing, so the same items give
the same bytes on every run. Coordinates follow the salscope convention:
0-based floats, x = column, y = row, pixel centres at integers. Orientations
are in degrees, counter-clockwise on screen, 0 = horizontal bar.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from salscope.errors import ConfigError

BAR_ASPECT = 4.0  # bar length / bar width
DEFAULT_BACKGROUND = (71, 71, 71)  # sRGB grey of CIE L* ≈ 30


# --------------------------------------------------------------------------- colour


def lch_to_srgb(lightness: float, chroma: float, hue_deg: float) -> tuple[float, float, float]:
    """Convert CIE LCh(ab) (D65) to sRGB in [0, 255] (floats, clipped to the gamut).

    L*a*b* → XYZ (D65 white) → linear sRGB (IEC 61966-2-1 matrix) → sRGB gamma.
    """
    a = chroma * math.cos(math.radians(hue_deg))
    b = chroma * math.sin(math.radians(hue_deg))
    fy = (lightness + 16.0) / 116.0
    f = np.array([fy + a / 500.0, fy, fy - b / 200.0])
    delta = 6.0 / 29.0
    xyz = np.where(f > delta, f**3, 3 * delta * delta * (f - 4.0 / 29.0)) * np.array([0.95047, 1.0, 1.08883])
    m = np.array(
        [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
    )
    lin = np.clip(m @ xyz, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return tuple(float(v) for v in srgb * 255.0)  # type: ignore[return-value]


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class Item:
    """One item of a search array.

    ``kind`` is ``"disc"`` (``size`` = diameter), ``"bar"`` (``size`` = length,
    width = length / 4, rotated by ``orientation``) or ``"polygon"`` (regular,
    ``sides`` sides, area equal to a disc of diameter ``size``, one vertex up).
    ``color`` is sRGB in [0, 255] (floats before rounding).
    """

    x: float
    y: float
    kind: str
    size: float
    color: tuple[float, float, float]
    orientation: float = 0.0
    sides: int = 0
    role: str = "distractor"
    instance: int = 0

    @property
    def radius(self) -> float:
        """Radius of the smallest centred disc that holds the item."""
        if self.kind == "disc":
            return self.size / 2.0
        if self.kind == "bar":
            return 0.5 * math.hypot(self.size, self.size / BAR_ASPECT)
        if self.kind == "polygon":
            return _polygon_circumradius(self.size, self.sides)
        raise ConfigError(f"item kind '{self.kind}' is unknown; use disc, bar or polygon")


def _polygon_circumradius(diameter: float, sides: int) -> float:
    # Equal area with a disc of radius r: (n/2) R^2 sin(2π/n) = π r^2.
    r = diameter / 2.0
    return r * math.sqrt(2.0 * math.pi / (sides * math.sin(2.0 * math.pi / sides)))


def _inside(item: Item, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Boolean: do the offsets (dx, dy) from the item centre fall inside the item."""
    if item.kind == "disc":
        return dx * dx + dy * dy <= (item.size / 2.0) ** 2
    if item.kind == "bar":
        t = math.radians(item.orientation)
        u = dx * math.cos(t) - dy * math.sin(t)  # along the bar (screen y points down)
        v = dx * math.sin(t) + dy * math.cos(t)
        return (np.abs(u) <= item.size / 2.0) & (np.abs(v) <= item.size / (2.0 * BAR_ASPECT))
    if item.kind == "polygon":
        n = item.sides
        big_r = _polygon_circumradius(item.size, n)
        apothem = big_r * math.cos(math.pi / n)
        # Angle measured from the "up" vertex; fold into one sector, compare with the edge's normal.
        ang = np.arctan2(dx, -dy)
        sector = 2.0 * math.pi / n
        rel = np.mod(ang, sector) - sector / 2.0
        return np.hypot(dx, dy) * np.cos(rel) <= apothem
    raise ConfigError(f"item kind '{item.kind}' is unknown; use disc, bar or polygon")


def item_coverage(item: Item, shape: tuple[int, int], supersample: int = 4) -> tuple[tuple[slice, slice], np.ndarray]:
    """Fraction of each pixel the item covers, in the item's bounding patch.

    Each pixel is sampled on a ``supersample × supersample`` grid of sub-pixel
    centres; the coverage is the fraction of samples inside the item. Returns
    the patch's (row, col) slices into an image of ``shape`` and the float64
    coverage patch.
    """
    h, w = shape
    rad = item.radius + 1.0
    r0, r1 = max(0, math.floor(item.y - rad)), min(h, math.ceil(item.y + rad) + 1)
    c0, c1 = max(0, math.floor(item.x - rad)), min(w, math.ceil(item.x + rad) + 1)
    if r0 >= r1 or c0 >= c1:
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0))
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    ys = (np.arange(r0, r1)[:, None] + offs[None, :]).ravel() - item.y
    xs = (np.arange(c0, c1)[:, None] + offs[None, :]).ravel() - item.x
    inside = _inside(item, xs[None, :], ys[:, None])
    cov = inside.reshape(r1 - r0, supersample, c1 - c0, supersample).mean(axis=(1, 3))
    return (slice(r0, r1), slice(c0, c1)), cov


def render_items(
    items: Sequence[Item],
    image_size: tuple[int, int],
    background: Sequence[float] = DEFAULT_BACKGROUND,
    supersample: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render items on a uniform background; return (image, target mask, distractor ids).

    Each pixel is ``background·(1 − α) + colour·α`` with α the item's supersampled
    coverage (items must not overlap), rounded to uint8. The target mask is
    ``α_target > 0``; the distractor id mask holds ``item.instance`` where a
    distractor's α > 0.
    """
    h, w = image_size
    canvas = np.empty((h, w, 3), dtype=np.float64)
    canvas[:] = np.asarray(background, dtype=np.float64)
    target = np.zeros((h, w), dtype=bool)
    ids = np.zeros((h, w), dtype=np.uint16)
    for item in items:
        (rs, cs), cov = item_coverage(item, (h, w), supersample)
        if cov.size == 0:
            continue
        alpha = cov[:, :, None]
        canvas[rs, cs] = canvas[rs, cs] * (1.0 - alpha) + np.asarray(item.color) * alpha
        touched = cov > 0
        if item.role == "target":
            target[rs, cs] |= touched
        else:
            ids[rs, cs] = np.where(touched, np.uint16(item.instance), ids[rs, cs])
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return image, target, ids


def item_dict(item: Item) -> dict:
    out = asdict(item)
    out["color"] = [float(v) for v in item.color]
    out["radius"] = item.radius
    return out


def items_from_meta(meta: dict) -> list[Item]:
    """Rebuild the :class:`Item` list (target first) from a search array's metadata."""
    out = []
    for spec in [meta["target"], *meta["distractors"]]:
        spec = {k: v for k, v in spec.items() if k in Item.__dataclass_fields__}
        spec["color"] = tuple(spec["color"])
        out.append(Item(**spec))
    return out
