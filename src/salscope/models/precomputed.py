"""Saliency maps computed elsewhere: a folder of one map per image, scored like a model (``maps:DIR``).

The counterpart of pysaliency's ``precomputed_models.py``: the evaluation asks
it for the map of image ``index`` of a data set and it reads the file named
after that image's id. It has no log-density of its own (see ``map_density`` of
:func:`salscope.analysis.evaluation.evaluate` for information gain).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from salscope.errors import ModelError
from salscope.models.precomputed_formats import (
    find_map_file,
    index_map_folder,
    read_map_file,
)


class PrecomputedMaps:
    """Saliency maps stored in a folder, one file per image named ``<image id>.<npy|png|jpg|jpeg|tif|tiff|mat>``.

    Or named as pysaliency and the MIT/Tübingen benchmark name them (after the
    stimulus file, subfolders repeating the stimuli's): the file of each image
    is found by :mod:`salscope.models.precomputed_formats`.

    Files are read by :func:`salscope.data.stimuli.load_map`: ``.npy`` arrays
    and float/16-bit TIFFs keep their values (negative ones included), 8-bit
    images are grey levels; the map keeps its stored size (resized only if the
    convention resizes). Two files for one image id (``1002.npy`` and
    ``1002.png``) are an error: which one is meant cannot be told. The maps are
    plain saliency maps, not densities (see ``map_density`` of :func:`evaluate`
    for information gain).
    """

    needs_image = False
    has_log_density = False
    kind = "precomputed"

    def __init__(self, folder: str | os.PathLike, name: str | None = None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ModelError(f"map folder {self.folder} does not exist")
        self.name = name or self.folder.name
        self.files: dict[str, Path] = index_map_folder(self.folder)

    def predict(self, dataset: Any, index: int, image: np.ndarray | None) -> tuple[np.ndarray, Any]:
        image_id = dataset.ids[index]
        paths = getattr(getattr(dataset, "stimuli", None), "paths", None)
        path = find_map_file(self.files, image_id, paths[index] if paths else None)
        if path is None:
            raise ModelError(
                f"map folder {self.folder} has no map for image '{image_id}' (expected {image_id}.npy/.png/.jpg/.tif); "
                "add it or evaluate a subset with --max-images"
            )
        return read_map_file(path), None
