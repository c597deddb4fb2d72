"""Loaders of public eye-tracking data sets into :class:`~salscope.data.Dataset`: one module per data set.

Every loader converts the file's coordinate convention to salscope's (0-based
floats, x = column, pixel = ``floor(v + 0.5)``) and checks that every fixation
lies inside its image. :func:`load_dataset` picks one by name or by a folder's
layout. Raw gaze samples become fixations with
:func:`salscope.data.fixation_detection.detect_fixations` (I-VT).

=================  ==========================================  =========================
module             loader                                      data set
=================  ==========================================  =========================
``osie``           :func:`load_osie`                           OSIE (Xu et al. 2014)
``mit1003``        :func:`load_mit1003`                        MIT1003 (Judd et al. 2009)
``cat2000``        :func:`load_cat2000`                        CAT2000 (Borji & Itti 2015)
``salicon``        :func:`load_salicon`                        SALICON (Jiang et al. 2015)
``folder``         :func:`load_folder`                         images + CSV/JSON/map PNGs
=================  ==========================================  =========================
"""

from __future__ import annotations

import os
from pathlib import Path

from salscope.data.dataset import Dataset
from salscope.data.loaders._common import check_ppd
from salscope.data.loaders.cat2000 import CAT2000_CATEGORIES, CAT2000_PPD, load_cat2000
from salscope.data.loaders.folder import load_folder
from salscope.data.loaders.mit1003 import MIT1003_PPD, MIT1003_RATE_HZ, load_mit1003
from salscope.data.loaders.osie import OSIE_PPD, load_osie
from salscope.data.loaders.salicon import SALICON_PPD, load_salicon
from salscope.errors import DataError
from salscope.settings import dataset_dir

__all__ = [
    "CAT2000_CATEGORIES", "CAT2000_PPD", "LOADERS", "MIT1003_PPD", "MIT1003_RATE_HZ", "OSIE_PPD", "SALICON_PPD",
    "check_ppd", "load_cat2000", "load_dataset", "load_folder", "load_mit1003", "load_osie", "load_salicon",
]


#: Names accepted by :func:`load_dataset`: name -> (folder under the data root, loader).
LOADERS = {
    "osie": load_osie,
    "mit1003": lambda root: load_mit1003(Path(root) / "mit1003"),
    "cat2000": lambda root: load_cat2000(Path(root) / "cat2000"),
    "salicon": lambda root: load_salicon(Path(root) / "salicon", "train"),
    "salicon-val": lambda root: load_salicon(Path(root) / "salicon", "val"),
}


def load_dataset(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load a data set by name (``osie``, ``mit1003``, ``cat2000``, ``salicon``, ``salicon-val``) or folder.

    A name is looked up under the data root (``data_dir``, else the rule of :mod:`salscope.settings`).
    A folder's layout is recognised: ``eye/fixations.mat`` → OSIE, ``ALLSTIMULI/``
    → MIT1003, ``FIXATIONLOCS/`` → CAT2000, ``images/train`` + SALICON fixations →
    SALICON train, otherwise the generic folder format (:func:`load_folder`).
    """
    key = str(name_or_path).lower()
    if key in LOADERS:
        if key == "osie":
            return load_osie(data_dir)
        sub = dataset_dir(key.replace("-val", ""), data_dir, fix="put the unpacked release there")
        return LOADERS[key](sub.parent)
    p = Path(name_or_path)
    if p.is_dir():
        if (p / "eye" / "fixations.mat").is_file():
            return load_osie(p)
        if (p / "ALLSTIMULI").is_dir():
            return load_mit1003(p)
        if (p / "FIXATIONLOCS").is_dir():
            return load_cat2000(p)
        if (p / "images" / "train").is_dir():
            return load_salicon(p, "train")
        return load_folder(p)
    if p.exists():
        raise DataError(f"data set path {p} is a file, not a folder; pass the data set's folder (images/ plus "
                        f"fixations) or a name: {', '.join(LOADERS)}")
    raise DataError(f"unknown data set {name_or_path!r}: use one of {', '.join(LOADERS)} or an existing folder")
