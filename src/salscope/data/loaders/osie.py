"""OSIE (Xu et al. 2014): 700 images with the eye fixations of 15 subjects, as released by NUS-VIP."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.loaders._common import loadmat
from salscope.data.splits import DEFAULT_FRACTIONS
from salscope.data.stimuli import Stimuli
from salscope.errors import DataError
from salscope.settings import dataset_dir

#: Pixels per degree of visual angle for OSIE: ~24 (800 px spanning ~33° horizontally).
OSIE_PPD = 24.0


def load_osie(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load OSIE (Xu et al. 2014): 700 images 800×600, 15 subjects, 98,321 fixations.

    Reads ``<data_dir>/osie/eye/fixations.mat`` with ``mat_dtype=True`` (fields are
    stored as uint8/uint16 on disk and would overflow otherwise) and the JPEGs of
    ``stimuli/``. The file's 1-based MATLAB pixel coordinates become 0-based:
    ``x - 1``, ``y - 1``. Subjects are the positions 0..14 of the per-image subject
    cells; ``order`` is the 0-based position in the scanpath; durations are in ms.

    ``data_dir`` is the data root (else the rule of :mod:`salscope.settings`) or the ``osie`` folder itself.

    References
    ----------
    Xu, J., Jiang, M., Wang, S., Kankanhalli, M. S., Zhao, Q. "Predicting human gaze
    beyond pixels", Journal of Vision 14(1):28, 2014. Data: NUS-VIP/predicting-human-gaze-beyond-pixels.
    """
    if data_dir is not None and (Path(data_dir) / "eye" / "fixations.mat").is_file():
        root = Path(data_dir)
    else:
        root = dataset_dir("osie", data_dir)
    mat = loadmat(root / "eye" / "fixations.mat", mat_dtype=True)
    if "fixations" not in mat:
        raise DataError(f"{root / 'eye' / 'fixations.mat'} has no variable 'fixations'; is this OSIE's fixations.mat?")
    cells = mat["fixations"].ravel()
    names: list[str] = []
    xs, ys, ns, subj, order, dur = [], [], [], [], [], []
    n_subjects = 0
    try:
        for i, cell in enumerate(cells):
            rec = cell.ravel()[0]
            names.append(str(np.asarray(rec["img"]).ravel()[0]))
            subjects = np.asarray(rec["subjects"]).ravel()
            n_subjects = max(n_subjects, subjects.size)
            for j, s in enumerate(subjects):
                s = np.asarray(s).ravel()[0]
                x = np.atleast_1d(np.asarray(s["fix_x"], dtype=np.float64).ravel())
                y = np.atleast_1d(np.asarray(s["fix_y"], dtype=np.float64).ravel())
                d = np.atleast_1d(np.asarray(s["fix_duration"], dtype=np.float64).ravel())
                if not (x.size == y.size == d.size):
                    raise DataError(f"OSIE fixations.mat: image {names[-1]} subject {j + 1}: fix_x/fix_y/fix_duration lengths differ")
                xs.append(x)
                ys.append(y)
                dur.append(d)
                ns.append(np.full(x.size, i, dtype=np.int64))
                subj.append(np.full(x.size, j, dtype=np.int64))
                order.append(np.arange(x.size, dtype=np.int64))
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise DataError(f"{root / 'eye' / 'fixations.mat'} does not have OSIE's layout ({exc}); see data/osie/README.md") from exc
    fix = Fixations(np.concatenate(xs) - 1.0, np.concatenate(ys) - 1.0, np.concatenate(ns),
                    np.concatenate(subj), np.concatenate(order), np.concatenate(dur))
    stim_dir = root / "stimuli"
    if not stim_dir.is_dir():
        raise DataError(f"OSIE stimuli folder {stim_dir} does not exist; fetch OSIE with `salscope data fetch osie`")
    paths = [stim_dir / n for n in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"OSIE: {len(missing)} stimulus file(s) missing, e.g. {missing[0]}; re-fetch with `salscope data fetch osie`")
    stimuli = Stimuli(paths)
    meta = {
        "ppd": OSIE_PPD,
        "n_subjects": int(n_subjects),
        "image_size": (600, 800),
        "viewing_time_s": 3.0,
        "split_fractions": DEFAULT_FRACTIONS,
        "source": str(root),
        "coordinates": "file: 1-based MATLAB pixels; here x - 1, y - 1",
        "reference": "Xu et al., Predicting human gaze beyond pixels, JoV 14(1):28, 2014",
    }
    return Dataset("osie", stimuli, fix, meta)
