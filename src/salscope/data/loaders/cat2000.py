"""CAT2000 (Borji & Itti 2015): the training set's 2000 images in 20 categories, with pooled fixation maps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.loaders._common import check_ppd, image_files, loadmat, points_from_map
from salscope.data.stimuli import Stimuli
from salscope.errors import DataError

#: The 20 CAT2000 categories (folder names of the release, in its order).
CAT2000_CATEGORIES = [
    "Action", "Affective", "Art", "BlackWhite", "Cartoon", "Fractal", "Indoor", "Inverted", "Jumbled",
    "LineDrawing", "LowResolution", "Noisy", "Object", "OutdoorManMade", "OutdoorNatural", "Pattern",
    "Random", "Satelite", "Sketch", "Social",
]
#: CAT2000 set-up: 1920x1080 images on a 42-inch screen at 106 cm, ~38 px per degree.
CAT2000_PPD = 38.0


def load_cat2000(path: str | os.PathLike, *, ppd: float = CAT2000_PPD) -> Dataset:
    """Load the CAT2000 training set (Borji & Itti 2015) from the release layout.

    ``Stimuli/<Category>/<name>.jpg`` are the images and
    ``FIXATIONLOCS/<Category>/<name>.mat`` hold ``fixLocs``, a binary map of the
    pooled fixation locations of all observers (non-zero = fixated pixel), which
    becomes one fixation per non-zero pixel (no subjects, order or durations).
    ``meta["categories"]`` lists the 20 category names and
    ``meta["category"]`` gives each image's index into it.

    References
    ----------
    Borji, A., Itti, L. "CAT2000: A large scale fixation dataset for boosting
    saliency research", CVPR 2015 workshop "Future of Datasets".
    """
    ppd = check_ppd(ppd, "load_cat2000")
    root = Path(path)
    stim_root, fix_root = root / "Stimuli", root / "FIXATIONLOCS"
    for d in (stim_root, fix_root):
        if not d.is_dir():
            raise DataError(f"CAT2000 folder {root} lacks {d.name}/; point to the unpacked trainSet")
    cats = sorted(p.name for p in stim_root.iterdir() if p.is_dir())
    unknown = [c for c in cats if c not in CAT2000_CATEGORIES]
    if unknown:
        raise DataError(f"{stim_root}: unknown category folder(s) {unknown}; CAT2000 has {', '.join(CAT2000_CATEGORIES)}")
    paths, category, ids, parts = [], [], [], []
    for c in cats:
        for img in image_files(stim_root / c):
            paths.append(img)
            ids.append(f"{c}/{img.stem}")
            category.append(CAT2000_CATEGORIES.index(c))
    stimuli = Stimuli(paths, ids)
    sizes = stimuli.sizes
    for i, img in enumerate(paths):
        c = CAT2000_CATEGORIES[category[i]]
        f = fix_root / c / f"{img.stem}.mat"
        mat = loadmat(f)
        m = mat.get("fixLocs")
        if m is None:
            raise DataError(f"{f} has no variable 'fixLocs' (found {[k for k in mat if not k.startswith('__')]})")
        if m.shape != sizes[i]:
            raise DataError(f"{f}: fixLocs is {m.shape[1]}x{m.shape[0]} but {img} is {sizes[i][1]}x{sizes[i][0]}")
        fx, fy = points_from_map(m, 0)
        parts.append(Fixations(fx, fy, np.full(fx.size, i)))
    meta = {"ppd": float(ppd), "categories": list(CAT2000_CATEGORIES), "category": np.asarray(category, dtype=np.int64),
            "viewing_time_s": 5.0, "source": str(root),
            "reference": "Borji & Itti, CAT2000, CVPR 2015 workshop"}
    return Dataset("cat2000", stimuli, Fixations.concatenate(parts), meta)
