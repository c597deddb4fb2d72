"""Eye-tracking data: images (:class:`Stimuli`), fixations (:class:`Fixations`), data sets.

Coordinates everywhere in salscope are 0-based floats with pixel centres at
integers, ``x`` = column, ``y`` = row; the pixel of a fixation is
``(floor(y + 0.5), floor(x + 0.5))``. Loaders convert file conventions at the edge.
"""

from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.splits import split_indices
from salscope.data.stimuli import Stimuli, load_image


def load_dataset(name_or_path, data_dir=None):
    """Load a data set by name or folder (see :func:`salscope.data.loaders.load_dataset`)."""
    from salscope.data.loaders import load_dataset as _load

    return _load(name_or_path, data_dir)


def load_osie(data_dir=None):
    """Load OSIE (see :func:`salscope.data.loaders.load_osie`)."""
    from salscope.data.loaders import load_osie as _load

    return _load(data_dir)


__all__ = ["Dataset", "Fixations", "Stimuli", "load_dataset", "load_image", "load_osie", "split_indices"]
