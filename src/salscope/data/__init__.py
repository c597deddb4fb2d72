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

from salscope.data._pysaliency import read_hdf5 as _read_hdf5
from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.loaders import load_dataset, load_osie
from salscope.data.splits import split_indices
from salscope.data.stimuli import Stimuli, load_image



def read_pysaliency_hdf5(path, group=None, folder=None):
    """A pysaliency HDF5 file as salscope :class:`Fixations` or :class:`Stimuli`, whichever it holds.

    See :meth:`Fixations.read_hdf5` and :meth:`Stimuli.read_hdf5` (h5py needed, pysaliency not).
    """
    kind, payload = _read_hdf5(path, group, folder)
    if kind == "fixations":
        return Fixations(**payload)
    paths, ids = payload
    return Stimuli(paths, ids if ids is not None else [str(i) for i in range(len(paths))])


__all__ = ["Dataset", "Fixations", "Stimuli", "load_dataset", "load_image", "load_osie", "read_pysaliency_hdf5",
           "split_indices"]
