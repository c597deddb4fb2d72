"""Synthetic pop-out search arrays: one odd-one-out target among distractors.

Items sit on a jittered grid; the target differs from every distractor along one
feature dimension (colour hue, orientation, size, shape, luminance contrast) or,
as a control that should *not* pop out, by a conjunction of colour and
orientation that each appear among the distractors. Rendering is pure numpy
with supersampled anti-aliasing, so the same parameters and seed give the same
bytes on every run.

Per image the generator gives the RGB image, a boolean target mask (every
pixel the target's ink touches), a ``uint16`` distractor instance-id mask
(0 = none, 1..n = distractors) and a JSON-able metadata dict (dimension, level,
positions, seed, ...). :func:`save_search_array` writes the four files
atomically through :mod:`salscope.io`; :func:`generate_benchmark` writes a whole
preset set with an ``index.json``; :func:`load_popout_set` reads one back.

Coordinates follow the salscope convention: 0-based floats, x = column,
y = row, pixel centres at integers. Orientations are in degrees,
counter-clockwise on screen, 0 = horizontal bar.

References
----------
Treisman, A. & Gelade, G. (1980). A feature-integration theory of attention.
    Cognitive Psychology 12(1), 97-136 (feature vs conjunction search).
Kotseruba, I., Wloka, C., Rasouli, A. & Tsotsos, J. K. (2019). Do saliency
    models detect odd-one-out targets? New datasets and evaluations. BMVC
    (P3: singleton arrays on 7×7 jittered grids in colour, orientation, size).
"""

from __future__ import annotations

import io as _io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from salscope.errors import ConfigError, DataError
from salscope.metrics.popout import nearest_item_labels

__all__ = [
    "DIMENSIONS",
    "LEVELS",
    "LEVEL_UNITS",
    "PRESETS",
    "Item",
    "PopoutSet",
    "SearchArray",
    "benchmark_specs",
    "generate_benchmark",
    "grid_shape",
    "image_seed",
    "items_from_meta",
    "lch_to_srgb",
    "load_popout_set",
    "load_search_array",
    "make_search_array",
    "render_items",
    "save_search_array",
]

GENERATOR_VERSION = 1

DIMENSIONS: tuple[str, ...] = ("colour", "orientation", "size", "shape", "luminance", "conjunction")
"""Feature dimensions, in the order they appear in tables."""

# Target–distractor difference per level (index 0 = hardest, last = easiest).
LEVELS: dict[str, tuple[Any, ...]] = {
    "colour": (20.0, 45.0, 90.0, 180.0),  # hue difference in degrees of CIE LCh(ab) hue at L*=60, C*=30
    "orientation": (10.0, 20.0, 45.0, 90.0),  # bar orientation difference, degrees
    "size": (1.2, 1.4, 1.7, 2.0),  # target diameter / distractor diameter (discs)
    "shape": (8, 6, 4, 3),  # sides of the equal-area regular polygon target among discs
    "luminance": (5.0, 10.0, 20.0, 35.0),  # CIE L* increment of the target over the distractors
    "conjunction": ((20.0, 10.0), (45.0, 20.0), (90.0, 45.0), (180.0, 90.0)),  # (hue, orientation) differences
}
LEVEL_UNITS: dict[str, str] = {
    "colour": "hue difference (deg, CIE LCh)",
    "orientation": "orientation difference (deg)",
    "size": "diameter ratio target/distractor",
    "shape": "polygon sides (target) among discs",
    "luminance": "L* difference",
    "conjunction": "(hue deg, orientation deg) differences",
}

ITEM_LIGHTNESS = 60.0  # CIE L* of every item (colour, bars, discs) unless luminance is the dimension
ITEM_CHROMA = 30.0  # C*ab of coloured items: in the sRGB gamut at L*=60 for every hue
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


# --------------------------------------------------------------------------- arrays


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
    item-level scoring of :mod:`salscope.analysis.popout`); :meth:`target_disc`
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
            self._items = _item_layout(self.meta)
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


def _item_layout(meta: dict) -> tuple[np.ndarray, np.ndarray, int]:
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


def _check_level(dimension: str, level: int) -> None:
    if dimension not in LEVELS:
        raise ConfigError(f"dimension '{dimension}' is unknown; use one of {', '.join(DIMENSIONS)}")
    n = len(LEVELS[dimension])
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= int(level) < n:
        raise ConfigError(
            f"level {level!r} is out of range for dimension '{dimension}': use an integer 0..{n - 1} "
            f"(0 = hardest; differences {LEVELS[dimension]})"
        )


def grid_shape(set_size: int) -> tuple[int, int]:
    """Rows and columns of the grid for ``set_size`` items: ``rows = ⌈√n⌉``, ``cols = ⌈n / rows⌉``."""
    rows = math.ceil(math.sqrt(set_size))
    return rows, math.ceil(set_size / rows)


def _grey(lightness: float) -> tuple[float, float, float]:
    return lch_to_srgb(lightness, 0.0, 0.0)


def _design(dimension: str, level: int, item_size: float, rng: np.random.Generator) -> tuple[dict, list[dict], dict]:
    """Target spec, distractor spec(s) (cycled) and level description for one image."""
    value = LEVELS[dimension][level]
    grey = _grey(ITEM_LIGHTNESS)
    disc = {"kind": "disc", "size": item_size, "color": grey}
    if dimension == "colour":
        hue = float(rng.uniform(0.0, 360.0))
        sign = float(rng.choice([-1.0, 1.0]))
        d = {**disc, "color": lch_to_srgb(ITEM_LIGHTNESS, ITEM_CHROMA, hue)}
        t = {**disc, "color": lch_to_srgb(ITEM_LIGHTNESS, ITEM_CHROMA, (hue + sign * value) % 360.0)}
        return t, [d], {"distractor_hue": hue, "target_hue": (hue + sign * value) % 360.0}
    if dimension == "orientation":
        theta = float(rng.uniform(0.0, 180.0))
        sign = float(rng.choice([-1.0, 1.0]))
        bar = {"kind": "bar", "size": item_size, "color": grey}
        tt = (theta + sign * value) % 180.0
        return {**bar, "orientation": tt}, [{**bar, "orientation": theta}], {
            "distractor_orientation": theta,
            "target_orientation": tt,
        }
    if dimension == "size":
        return {**disc, "size": item_size * value}, [disc], {}
    if dimension == "shape":
        return {"kind": "polygon", "size": item_size, "sides": int(value), "color": grey}, [disc], {}
    if dimension == "luminance":
        t = {**disc, "color": _grey(ITEM_LIGHTNESS + value)}
        return t, [disc], {"distractor_lightness": ITEM_LIGHTNESS, "target_lightness": ITEM_LIGHTNESS + value}
    # conjunction: distractors (hue A, θ A) and (hue B, θ B); the target pairs A's colour with B's orientation
    # or B's colour with A's orientation, so each of its features appears among the distractors.
    dh, dt = value
    hue = float(rng.uniform(0.0, 360.0))
    theta = float(rng.uniform(0.0, 180.0))
    col_a = lch_to_srgb(ITEM_LIGHTNESS, ITEM_CHROMA, hue)
    col_b = lch_to_srgb(ITEM_LIGHTNESS, ITEM_CHROMA, (hue + dh) % 360.0)
    th_a, th_b = theta, (theta + dt) % 180.0
    bar = {"kind": "bar", "size": item_size}
    da = {**bar, "color": col_a, "orientation": th_a}
    db = {**bar, "color": col_b, "orientation": th_b}
    if rng.random() < 0.5:
        t = {**bar, "color": col_a, "orientation": th_b}
    else:
        t = {**bar, "color": col_b, "orientation": th_a}
    return t, [da, db], {"hue_a": hue, "hue_b": (hue + dh) % 360.0, "orientation_a": th_a, "orientation_b": th_b}


def make_search_array(
    dimension: str,
    level: int,
    *,
    set_size: int = 25,
    image_size: tuple[int, int] = (384, 384),
    item_size: float = 20.0,
    jitter: float = 4.0,
    background: Sequence[int] = DEFAULT_BACKGROUND,
    seed: int = 0,
    supersample: int = 4,
) -> SearchArray:
    """Generate one search array with a single odd-one-out target.

    Layout: ``set_size`` items occupy a random subset of the cells of a
    ``grid_shape(set_size)`` grid spanning the image (all cells when ``set_size``
    is a square); the target takes one occupied cell uniformly at random, so its
    position is uniform over the grid and a centre prior cannot help. Each item
    is displaced from its cell centre by ``U(−jitter, jitter)`` in x and y.
    Items must fit their cells: ``max item radius + jitter + 1 ≤ min(cell) / 2``.

    Parameters
    ----------
    dimension : one of :data:`DIMENSIONS`.
    level : index into ``LEVELS[dimension]`` (0 = smallest difference).
    set_size : number of items, target included (≥ 2; ≥ 3 for conjunction).
    image_size : (height, width) in pixels.
    item_size : distractor diameter (discs) or bar length, in pixels.
    jitter : maximum displacement from the cell centre, pixels.
    background : sRGB background colour.
    seed : seed of the ``np.random.Generator`` driving every random choice.
    supersample : anti-aliasing samples per pixel side.

    Raises
    ------
    ConfigError
        Unknown dimension, level out of range, or a layout whose items do not fit.
    """
    _check_level(dimension, level)
    level = int(level)
    if not isinstance(set_size, (int, np.integer)) or set_size < (3 if dimension == "conjunction" else 2):
        raise ConfigError(
            f"set_size={set_size!r}: a search array needs a target and "
            f"{'two kinds of distractors (set_size ≥ 3)' if dimension == 'conjunction' else 'a distractor (set_size ≥ 2)'}"
        )
    h, w = (int(v) for v in image_size)
    if h < 8 or w < 8:
        raise ConfigError(f"image_size={tuple(image_size)}: use at least 8×8 pixels")
    if item_size <= 0 or jitter < 0:
        raise ConfigError(f"item_size={item_size} must be > 0 and jitter={jitter} must be ≥ 0")
    if supersample < 1:
        raise ConfigError(f"supersample={supersample} must be ≥ 1")
    bg = tuple(float(v) for v in background)
    if len(bg) != 3 or not all(0 <= v <= 255 for v in bg):
        raise ConfigError(f"background={tuple(background)}: give three sRGB values in 0..255")

    rng = np.random.default_rng(seed)
    target_spec, distractor_specs, extra = _design(dimension, level, float(item_size), rng)
    rows, cols = grid_shape(int(set_size))
    cell_h, cell_w = h / rows, w / cols

    def _mk(spec: dict, **kw: Any) -> Item:
        return Item(
            x=kw["x"],
            y=kw["y"],
            kind=spec["kind"],
            size=float(spec["size"]),
            color=tuple(spec["color"]),
            orientation=float(spec.get("orientation", 0.0)),
            sides=int(spec.get("sides", 0)),
            role=kw["role"],
            instance=kw["instance"],
        )

    probe = [_mk(s, x=0.0, y=0.0, role="p", instance=0) for s in [target_spec, *distractor_specs]]
    max_radius = max(p.radius for p in probe)
    room = min(cell_h, cell_w) / 2.0
    if max_radius + jitter + 1.0 > room:
        raise ConfigError(
            f"items do not fit: {set_size} items on a {rows}×{cols} grid in a {h}×{w} image leave cells of "
            f"{cell_h:.1f}×{cell_w:.1f} px, but the largest item (radius {max_radius:.1f} px) plus jitter "
            f"{jitter} px needs {2 * (max_radius + jitter + 1):.1f} px; enlarge image_size or reduce "
            "set_size, item_size or jitter"
        )

    cells = np.sort(rng.choice(rows * cols, size=int(set_size), replace=False))
    target_slot = int(rng.integers(int(set_size)))
    offsets = rng.uniform(-jitter, jitter, size=(int(set_size), 2)) if jitter > 0 else np.zeros((int(set_size), 2))
    n_d = int(set_size) - 1
    kinds = np.arange(n_d) % len(distractor_specs)
    rng.shuffle(kinds)

    items: list[Item] = []
    d = 0
    for slot, cell in enumerate(cells):
        r, c = divmod(int(cell), cols)
        x = (c + 0.5) * cell_w - 0.5 + float(offsets[slot, 0])
        y = (r + 0.5) * cell_h - 0.5 + float(offsets[slot, 1])
        if slot == target_slot:
            items.append(_mk(target_spec, x=x, y=y, role="target", instance=0))
        else:
            items.append(_mk(distractor_specs[int(kinds[d])], x=x, y=y, role="distractor", instance=d + 1))
            d += 1

    image, target, ids = render_items(items, (h, w), bg, supersample)
    tgt = items[target_slot]
    distractors = [it for it in items if it.role == "distractor"]
    meta = {
        "generator_version": GENERATOR_VERSION,
        "dimension": dimension,
        "level": level,
        "level_value": LEVELS[dimension][level],
        "level_unit": LEVEL_UNITS[dimension],
        "set_size": int(set_size),
        "grid": [rows, cols],
        "image_size": [h, w],
        "item_size": float(item_size),
        "jitter": float(jitter),
        "background": list(bg),
        "supersample": int(supersample),
        "seed": int(seed),
        "target": {**_item_dict(tgt), "cell": int(cells[target_slot])},
        "distractors": [_item_dict(it) for it in distractors],
        "distractor_radius": max(it.radius for it in distractors),
        **extra,
    }
    return SearchArray(image=image, target_mask=target, distractor_ids=ids, meta=meta)


def _item_dict(item: Item) -> dict:
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


# --------------------------------------------------------------------------- files


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image  # noqa: PLC0415

    buf = _io.BytesIO()
    # uint16 arrays become 16-bit grey PNGs ("I;16"); uint8 grey/RGB as themselves.
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def save_search_array(array: SearchArray, folder: str | Path, name: str) -> dict[str, Path]:
    """Write ``name.png``, ``name_target.png`` (0/255), ``name_distractors.png`` (16-bit ids), ``name.json``.

    Every file is written atomically; the PNG encoder adds no timestamps, so the
    same array gives the same bytes.
    """
    from salscope.io import write_bytes, write_json  # noqa: PLC0415

    folder = Path(folder)
    paths = {
        "image": folder / f"{name}.png",
        "target": folder / f"{name}_target.png",
        "distractors": folder / f"{name}_distractors.png",
        "meta": folder / f"{name}.json",
    }
    write_bytes(paths["image"], _png_bytes(array.image))
    write_bytes(paths["target"], _png_bytes(array.target_mask.astype(np.uint8) * 255))
    write_bytes(paths["distractors"], _png_bytes(array.distractor_ids.astype(np.uint16)))
    write_json(paths["meta"], array.meta)
    return paths


def load_search_array(folder: str | Path, name: str) -> SearchArray:
    """Read a search array written by :func:`save_search_array` (DataError naming the file if broken)."""
    from PIL import Image  # noqa: PLC0415

    folder = Path(folder)
    arrays = {}
    for key, suffix in (("image", ""), ("target", "_target"), ("distractors", "_distractors")):
        path = folder / f"{name}{suffix}.png"
        try:
            with Image.open(path) as im:
                arrays[key] = np.asarray(im.convert("RGB") if key == "image" else im)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {path}: {exc}; regenerate the set with `salscope popout generate`") from exc
    meta_path = folder / f"{name}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {meta_path}: {exc}; regenerate the set with `salscope popout generate`") from exc
    arr = SearchArray(
        image=np.array(arrays["image"], dtype=np.uint8),  # a writable copy (PIL's buffer is read-only)
        target_mask=np.asarray(arrays["target"]) > 0,
        distractor_ids=np.asarray(arrays["distractors"]).astype(np.uint16),
        meta=meta,
    )
    if arr.target_mask.shape != arr.image.shape[:2] or arr.distractor_ids.shape != arr.image.shape[:2]:
        raise DataError(f"masks of {folder / name} do not match the image size; regenerate the set")
    if not arr.target_mask.any():
        raise DataError(f"target mask {folder / (name + '_target.png')} is empty; regenerate the set")
    return arr


# --------------------------------------------------------------------------- benchmark sets

PRESETS: dict[str, dict[str, Any]] = {
    # 6 dimensions × 4 levels × 3 set sizes × 4 repeats = 288 images of 384×384.
    "default": {"image_size": (384, 384), "set_sizes": (9, 25, 49), "repeats": 4, "item_size": 20.0, "jitter": 4.0},
    # 6 × 4 × 2 × 1 = 48 images of 256×256: smoke tests and demos.
    "quick": {"image_size": (256, 256), "set_sizes": (9, 25), "repeats": 1, "item_size": 16.0, "jitter": 3.0},
}


def image_seed(seed: int, dimension: str, level: int, set_size: int, repeat: int) -> int:
    """Per-image seed: a SeedSequence of (seed, dimension index, level, set size, repeat)."""
    ss = np.random.SeedSequence([int(seed), DIMENSIONS.index(dimension), int(level), int(set_size), int(repeat)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def benchmark_specs(preset: str = "default", seed: int = 0) -> list[dict[str, Any]]:
    """The images of a preset: one dict of :func:`make_search_array` arguments plus ``name`` each."""
    if preset not in PRESETS:
        raise ConfigError(f"preset '{preset}' is unknown; use one of {', '.join(PRESETS)}")
    p = PRESETS[preset]
    specs = []
    for dim in DIMENSIONS:
        for level in range(len(LEVELS[dim])):
            for n in p["set_sizes"]:
                for rep in range(p["repeats"]):
                    specs.append(
                        {
                            "name": f"{dim}_l{level}_n{n:02d}_r{rep}",
                            "dimension": dim,
                            "level": level,
                            "set_size": n,
                            "image_size": tuple(p["image_size"]),
                            "item_size": p["item_size"],
                            "jitter": p["jitter"],
                            "seed": image_seed(seed, dim, level, n, rep),
                        }
                    )
    return specs


def generate_benchmark(out: str | Path, preset: str = "default", seed: int = 0) -> Path:
    """Generate a preset set into ``out``; returns the path of its ``index.json``.

    ``index.json`` lists the image names with dimension, level and set size, and
    the preset and seed, so ``load_popout_set(out)`` can read the set back.
    """
    from salscope.io import write_json  # noqa: PLC0415
    from salscope.progress import track  # noqa: PLC0415

    out = Path(out)
    specs = benchmark_specs(preset, seed)
    rows = []
    for spec in track(specs, f"popout {preset}"):
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        arr = make_search_array(**kwargs)
        save_search_array(arr, out, spec["name"])
        rows.append({"name": spec["name"], "dimension": spec["dimension"], "level": spec["level"], "set_size": spec["set_size"]})
    return write_json(
        out / "index.json",
        {"kind": "salscope-popout", "preset": preset, "seed": int(seed), "generator_version": GENERATOR_VERSION, "images": rows},
    )


class PopoutSet:
    """A folder of search arrays with an ``index.json`` (as :func:`generate_benchmark` writes).

    ``len(s)``; ``s[i]`` → :class:`SearchArray` (read on demand); ``s.names``;
    ``s.entries`` (index rows: name, dimension, level, set_size).
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        index = self.folder / "index.json"
        if not index.is_file():
            raise DataError(
                f"{index} not found: point --set at a folder made by `salscope popout generate --out DIR`"
            )
        try:
            payload = json.loads(index.read_text())
            self.entries: list[dict] = list(payload["images"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{index} is not a pop-out index ({exc}); regenerate the set") from exc
        self.preset = payload.get("preset")
        self.seed = payload.get("seed")

    @property
    def names(self) -> list[str]:
        return [e["name"] for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> SearchArray:
        return load_search_array(self.folder, self.entries[i]["name"])

    def __iter__(self) -> Iterator[SearchArray]:
        for i in range(len(self)):
            yield self[i]


def load_popout_set(folder: str | Path) -> PopoutSet:
    """Open a generated pop-out set (see :class:`PopoutSet`)."""
    return PopoutSet(folder)
