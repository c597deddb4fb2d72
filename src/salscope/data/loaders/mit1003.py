"""MIT1003 (Judd et al. 2009): 1003 images; fixations from the raw gaze samples or the pooled fixation maps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from salscope.data.dataset import Dataset
from salscope.data.fixation_detection import detect_fixations
from salscope.data.fixations import Fixations
from salscope.data.loaders._common import check_ppd, fixations_from_maps, image_files, loadmat, stimuli_for
from salscope.errors import DataError

#: Pixels per degree for MIT1003 (Judd et al. 2009: 1 degree of visual angle is about 35 px).
MIT1003_PPD = 35.0
#: Sampling rate of the MIT1003 eye tracker, Hz (Judd et al. 2009).
MIT1003_RATE_HZ = 240.0


def _mit_eye_data(path: Path, stem: str) -> np.ndarray:
    mat = loadmat(path)
    name = stem[:63]  # MATLAB variable names are at most 63 characters
    var = mat.get(name)
    if var is None:
        candidates = [k for k in mat if not k.startswith("__")]
        if len(candidates) != 1:
            raise DataError(f"{path}: expected a variable named {name!r} (the image name); found {candidates}")
        var = mat[candidates[0]]
    try:
        data = var["DATA"].ravel()[0]
        eye = np.asarray(data["eyeData"].ravel()[0] if data["eyeData"].dtype == object else data["eyeData"],
                         dtype=np.float64)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise DataError(f"{path}: no DATA(1).eyeData field as in the MIT1003 release ({exc})") from exc
    if eye.ndim != 2 or eye.shape[1] < 2:
        raise DataError(f"{path}: eyeData has shape {eye.shape}; expected N x 2 (x, y) gaze samples")
    return eye


def load_mit1003(path: str | os.PathLike, *, source: str = "auto", ppd: float = MIT1003_PPD,
                 drop_first: bool = True, velocity_threshold: float = 30.0, min_duration_ms: float = 100.0) -> Dataset:
    """Load MIT1003 (Judd et al. 2009) from the release layout.

    ``ALLSTIMULI/<name>.jpeg`` are the images. Fixations come from
    ``DATA/<subject>/<name>.mat`` (``source="data"``): each holds a struct named
    after the image with ``DATA(1).eyeData``, raw N×2 gaze samples at 240 Hz in
    1-based image pixels; fixations are detected with :func:`detect_fixations`
    and, like Judd et al., each scanpath's first fixation (the forced central
    one) is dropped when ``drop_first``. With ``source="maps"`` they come from
    ``ALLFIXATIONMAPS/<name>_fixPts.jpg`` (pooled binary fixation maps; pixels > 127;
    no subjects, durations or order). ``"auto"`` prefers DATA.

    References
    ----------
    Judd, T., Ehinger, K., Durand, F., Torralba, A. "Learning to predict where
    humans look", ICCV 2009.
    """
    ppd = check_ppd(ppd, "load_mit1003")
    root = Path(path)
    stim_dir = root / "ALLSTIMULI"
    if not stim_dir.is_dir():
        raise DataError(f"MIT1003 folder {root} lacks ALLSTIMULI/; point to the unpacked MIT1003 release")
    paths = image_files(stim_dir)
    stimuli = stimuli_for(paths, f"MIT1003 {stim_dir}")
    sizes = stimuli.sizes
    if source == "auto":
        source = "data" if (root / "DATA").is_dir() else "maps"
    meta = {"ppd": float(ppd), "viewing_time_s": 3.0, "source": str(root), "fixation_source": source,
            "reference": "Judd et al., Learning to predict where humans look, ICCV 2009"}
    if source == "data":
        subjects = sorted(p.name for p in (root / "DATA").iterdir() if p.is_dir())
        if not subjects:
            raise DataError(f"{root / 'DATA'} has no subject folders")
        parts = []
        for i, (img, (h, w)) in enumerate(zip(paths, sizes)):
            for j, subj in enumerate(subjects):
                f = root / "DATA" / subj / f"{img.stem}.mat"
                if not f.is_file():
                    continue  # not every subject saw every image
                eye = _mit_eye_data(f, img.stem)
                fx, fy, _, dur = detect_fixations(eye[:, 0] - 1.0, eye[:, 1] - 1.0, w, h, rate_hz=MIT1003_RATE_HZ,
                                                  ppd=ppd, velocity_threshold=velocity_threshold,
                                                  min_duration_ms=min_duration_ms)
                k0 = 1 if drop_first else 0
                fx, fy, dur = fx[k0:], fy[k0:], dur[k0:]
                parts.append(Fixations(fx, fy, np.full(fx.size, i), np.full(fx.size, j), np.arange(fx.size), dur))
        fix = Fixations.concatenate(parts)
        meta.update(n_subjects=len(subjects), subjects=subjects, velocity_threshold_deg_s=velocity_threshold,
                    min_duration_ms=min_duration_ms, drop_first=drop_first)
    elif source == "maps":
        map_dir = root / "ALLFIXATIONMAPS"
        if not map_dir.is_dir():
            raise DataError(f"MIT1003 folder {root} has neither DATA/ nor ALLFIXATIONMAPS/")
        maps = [map_dir / f"{img.stem}_fixPts.jpg" for img in paths]
        for mp, img in zip(maps, paths):
            if not mp.is_file():
                raise DataError(f"fixation map {mp} missing for image {img.name}")
        # JPEG-compressed binary maps: fixated pixels are the bright ones
        fix = fixations_from_maps(maps, [img.name for img in paths], sizes, 127, "; use the matching map")
    else:
        raise DataError(f"load_mit1003: source must be 'auto', 'data' or 'maps', not {source!r}")
    return Dataset("mit1003", stimuli, fix, meta)
