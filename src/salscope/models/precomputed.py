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

from salscope.data.stimuli import MAP_SUFFIXES, load_map
from salscope.errors import DataError, ModelError


class PrecomputedMaps:
    """Saliency maps stored in a folder, one file per image named ``<image id>.<npy|png|jpg|jpeg|tif|tiff>``.

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
        self.files: dict[str, Path] = {}
        for path in sorted(self.folder.iterdir()):
            if not (path.is_file() and path.suffix.lower() in MAP_SUFFIXES):
                continue
            if path.stem in self.files:
                raise DataError(
                    f"map folder {self.folder} has two maps for image '{path.stem}': {self.files[path.stem].name} and "
                    f"{path.name}; keep one of them (move the other out of the folder)"
                )
            self.files[path.stem] = path
        if not self.files:
            raise ModelError(f"map folder {self.folder} holds no {'/'.join(MAP_SUFFIXES)} files; put one map per image id there")

    def predict(self, dataset: Any, index: int, image: np.ndarray | None) -> tuple[np.ndarray, Any]:
        image_id = dataset.ids[index]
        path = self.files.get(image_id)
        if path is None:
            raise ModelError(
                f"map folder {self.folder} has no map for image '{image_id}' (expected {image_id}.npy/.png/.jpg/.tif); "
                "add it or evaluate a subset with --max-images"
            )
        return load_map(path), None
