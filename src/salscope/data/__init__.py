"""Eye-tracking data: images (:class:`Stimuli`), fixations (:class:`Fixations`), data sets.

Coordinates everywhere in salscope are 0-based floats with pixel centres at
integers, ``x`` = column, ``y`` = row; the pixel of a fixation is
``(floor(y + 0.5), floor(x + 0.5))``. Loaders convert file conventions at the edge.

Where things live: :mod:`~salscope.data.dataset` (the :class:`Dataset` record),
:mod:`~salscope.data.loaders` (one loader module per data set, and
:func:`load_dataset`), :mod:`~salscope.data.fixation_detection` (I-VT on raw gaze),
:mod:`~salscope.data.regions` (region annotations, one module per format),
:mod:`~salscope.data.popout` (synthetic search arrays), :mod:`~salscope.data.fetch`
(downloads).
"""

from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.loaders import load_dataset, load_osie
from salscope.data.splits import split_indices
from salscope.data.stimuli import Stimuli, load_image

__all__ = ["Dataset", "Fixations", "Stimuli", "load_dataset", "load_image", "load_osie", "split_indices"]
