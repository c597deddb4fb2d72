"""The search-array generator: feature dimensions and levels, the layout on a jittered grid, preset sets.

The target differs from every distractor along one feature dimension (colour
hue, orientation, size, shape, luminance contrast) or, as a control that should
*not* pop out, by a conjunction of colour and orientation that each appear among
the distractors. Every random choice comes from one ``np.random.Generator``
seeded per image (:func:`image_seed`), so a preset and a seed give the same set.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from salscope.data.popout.render import DEFAULT_BACKGROUND, Item, item_dict, lch_to_srgb, render_items
from salscope.data.popout.search_array import SearchArray
from salscope.errors import ConfigError

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
        "target": {**item_dict(tgt), "cell": int(cells[target_slot])},
        "distractors": [item_dict(it) for it in distractors],
        "distractor_radius": max(it.radius for it in distractors),
        **extra,
    }
    return SearchArray(image=image, target_mask=target, distractor_ids=ids, meta=meta)


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
