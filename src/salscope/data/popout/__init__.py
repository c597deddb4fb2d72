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

Modules: :mod:`~salscope.data.popout.generator` (dimensions, levels, layout,
presets), :mod:`~salscope.data.popout.render` (items, colours, anti-aliased
rendering), :mod:`~salscope.data.popout.search_array` (:class:`SearchArray`),
:mod:`~salscope.data.popout.files` (saving and loading arrays and sets).

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

from salscope.data.popout.files import (
    PopoutSet,
    generate_benchmark,
    load_popout_set,
    load_search_array,
    save_search_array,
)
from salscope.data.popout.generator import (
    DIMENSIONS,
    LEVEL_UNITS,
    LEVELS,
    PRESETS,
    benchmark_specs,
    grid_shape,
    image_seed,
    make_search_array,
)
from salscope.data.popout.render import Item, items_from_meta, lch_to_srgb, render_items
from salscope.data.popout.search_array import SearchArray

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
