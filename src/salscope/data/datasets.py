"""Loaders of public eye-tracking data sets into :class:`~salscope.data.Dataset`.

Every loader converts the file's coordinate convention to salscope's (0-based
floats, x = column, pixel = ``floor(v + 0.5)``) and checks that every fixation
lies inside its image.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from salscope.data.dataset import Dataset
from salscope.data.fixations import Fixations
from salscope.data.splits import DEFAULT_FRACTIONS
from salscope.data.stimuli import Stimuli, load_map
from salscope.errors import DataError
from salscope.settings import dataset_dir

#: Pixels per degree of visual angle for OSIE: ~24 (800 px spanning ~33° horizontally).
OSIE_PPD = 24.0


def _loadmat(path: Path, **kwargs):
    import scipy.io as sio

    if not path.is_file():
        raise DataError(f"fixation file {path} does not exist; check the data set folder or re-fetch it")
    try:
        return sio.loadmat(str(path), **kwargs)
    except Exception as exc:  # scipy raises ValueError/TypeError/MatReadError on bad files
        raise DataError(f"cannot read MATLAB file {path} ({exc}); the file is corrupt: replace it") from exc


def _read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path`` (a leading BOM is dropped); :class:`DataError` naming the file otherwise."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{what} {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "re-save it as UTF-8") from exc
    except OSError as exc:
        raise DataError(f"cannot read {what} {path} ({exc})") from exc


def _read_json(path: Path, what: str):
    """The parsed JSON document of ``path``; :class:`DataError` naming the file if it is not UTF-8 JSON."""
    text = _read_text(path, what)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataError(f"{what} {path} is not valid JSON ({exc}); fix or replace the file") from exc


def check_ppd(value, where: str) -> float:
    """``value`` as pixels per degree of visual angle: a finite number > 0; :class:`DataError` naming ``where`` otherwise."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not np.isfinite(value) or value <= 0:
        raise DataError(f"{where}: ppd (pixels per degree of visual angle) is {value!r}; give a number > 0, "
                        "e.g. 24 for an 800 px wide image spanning about 33 degrees")
    return float(value)


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
    mat = _loadmat(root / "eye" / "fixations.mat", mat_dtype=True)
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


# --------------------------------------------------------------------------- helpers
def _stimuli_for(paths: list[Path], what: str) -> Stimuli:
    if not paths:
        raise DataError(f"{what}: no images found")
    return Stimuli(paths)


def _points_from_map(m: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(np.asarray(m) > threshold)
    return cols.astype(np.float64), rows.astype(np.float64)


def _fixations_from_maps(maps: list[Path], names: list[str], sizes, threshold: float, hint: str = "") -> Fixations:
    """Fixations at the pixels of binary fixation-map images above ``threshold``, one map per image.

    ``names`` label the images in errors; a map whose size differs from its
    image's raises :class:`DataError` (``hint`` is appended to the message).
    """
    parts = []
    for i, (mp, name) in enumerate(zip(maps, names)):
        m = load_map(mp)
        if m.shape != sizes[i]:
            raise DataError(f"fixation map {mp} is {m.shape[1]}x{m.shape[0]} but {name} is "
                            f"{sizes[i][1]}x{sizes[i][0]}{hint}")
        fx, fy = _points_from_map(m, threshold)
        parts.append(Fixations(fx, fy, np.full(fx.size, i)))
    return Fixations.concatenate(parts)


def _drop_or_raise(fix: Fixations, sizes, drop_outside: bool, where: str) -> tuple[Fixations, int]:
    if not drop_outside:
        fix.check_bounds(sizes, where)
        return fix, 0
    hw = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
    h, w = hw[fix.n, 0], hw[fix.n, 1]
    inside = (fix.col >= 0) & (fix.col < w) & (fix.row >= 0) & (fix.row < h)
    return fix[inside], int((~inside).sum())


def _image_files(folder: Path) -> list[Path]:
    from salscope.data.stimuli import IMAGE_SUFFIXES

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


# --------------------------------------------------------------------------- MIT1003
#: Pixels per degree for MIT1003 (Judd et al. 2009: 1 degree of visual angle is about 35 px).
MIT1003_PPD = 35.0
MIT1003_RATE_HZ = 240.0


def detect_fixations(x: np.ndarray, y: np.ndarray, width: int, height: int, *, rate_hz: float = MIT1003_RATE_HZ,
                     ppd: float = MIT1003_PPD, velocity_threshold: float = 30.0,
                     min_duration_ms: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Velocity-threshold (I-VT) fixation detection on raw gaze samples.

    A sample belongs to a fixation when it lies on the image (``0 <= x < W``,
    ``0 <= y < H``; blinks and off-screen samples do not) and the gaze speed to
    the next sample, ``|Δp| · rate / ppd``, is below ``velocity_threshold`` deg/s.
    Runs of such samples lasting at least ``min_duration_ms`` are fixations, placed
    at the median of their samples. Returns ``(x, y, start_ms, duration_ms)``.

    References
    ----------
    Salvucci, D. D., Goldberg, J. H. "Identifying fixations and saccades in
    eye-tracking protocols", ETRA 2000 (I-VT). Judd et al.'s ``checkFixations.m``
    (MIT1003) uses its own thresholds; results differ in detail.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        z = np.zeros(0)
        return z, z, z, z
    valid = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x < width - 0.5) & (y >= -0.5) & (y < height - 0.5)
    speed = np.full(n, np.inf)
    speed[:-1] = np.hypot(np.diff(x), np.diff(y)) * rate_hz / ppd
    speed[-1] = speed[-2] if n > 1 else 0.0
    slow = valid & (speed < velocity_threshold)
    edges = np.diff(np.concatenate([[0], slow.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    durations = (ends - starts) * 1000.0 / rate_hz
    keep = durations >= min_duration_ms
    starts, ends, durations = starts[keep], ends[keep], durations[keep]
    fx = np.array([np.median(x[a:b]) for a, b in zip(starts, ends)])
    fy = np.array([np.median(y[a:b]) for a, b in zip(starts, ends)])
    return fx, fy, starts * 1000.0 / rate_hz, durations


def _mit_eye_data(path: Path, stem: str) -> np.ndarray:
    mat = _loadmat(path)
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
    paths = _image_files(stim_dir)
    stimuli = _stimuli_for(paths, f"MIT1003 {stim_dir}")
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
                fx, fy, _, dur = detect_fixations(eye[:, 0] - 1.0, eye[:, 1] - 1.0, w, h, ppd=ppd,
                                                  velocity_threshold=velocity_threshold, min_duration_ms=min_duration_ms)
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
        fix = _fixations_from_maps(maps, [img.name for img in paths], sizes, 127, "; use the matching map")
    else:
        raise DataError(f"load_mit1003: source must be 'auto', 'data' or 'maps', not {source!r}")
    return Dataset("mit1003", stimuli, fix, meta)


# --------------------------------------------------------------------------- CAT2000
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
        for img in _image_files(stim_root / c):
            paths.append(img)
            ids.append(f"{c}/{img.stem}")
            category.append(CAT2000_CATEGORIES.index(c))
    stimuli = Stimuli(paths, ids)
    sizes = stimuli.sizes
    for i, img in enumerate(paths):
        c = CAT2000_CATEGORIES[category[i]]
        f = fix_root / c / f"{img.stem}.mat"
        mat = _loadmat(f)
        m = mat.get("fixLocs")
        if m is None:
            raise DataError(f"{f} has no variable 'fixLocs' (found {[k for k in mat if not k.startswith('__')]})")
        if m.shape != sizes[i]:
            raise DataError(f"{f}: fixLocs is {m.shape[1]}x{m.shape[0]} but {img} is {sizes[i][1]}x{sizes[i][0]}")
        fx, fy = _points_from_map(m, 0)
        parts.append(Fixations(fx, fy, np.full(fx.size, i)))
    meta = {"ppd": float(ppd), "categories": list(CAT2000_CATEGORIES), "category": np.asarray(category, dtype=np.int64),
            "viewing_time_s": 5.0, "source": str(root),
            "reference": "Borji & Itti, CAT2000, CVPR 2015 workshop"}
    return Dataset("cat2000", stimuli, Fixations.concatenate(parts), meta)


# --------------------------------------------------------------------------- SALICON
SALICON_PPD = 24.0  # not an eye-tracker set-up: mouse tracking on 640x480 images; nominal


def _salicon_json_points(points, path: Path, ann_id) -> np.ndarray:
    """K×2 ``(x, y)`` from a SALICON JSON annotation's ``fixations``: 1-based ``[row, col]`` pairs.

    salicon-api ``salicon/salicon.py`` (NUS-VIP), ``SALICON.buildFixMap``:
    ``for y, x in merged_fixations: sal_map[y-1][x-1] = 1``.
    """
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: annotation {ann_id}: 'fixations' is not a list of [row, col] number pairs ({exc})") from exc
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise DataError(f"{path}: annotation {ann_id}: 'fixations' has shape {pts.shape}; expected a list of "
                        "[row, col] pairs (1-based, as salicon-api's buildFixMap reads them)")
    return np.column_stack([pts[:, 1] - 1.0, pts[:, 0] - 1.0])


def _salicon_mat_points(entry, path: Path, observer: int) -> np.ndarray:
    """K×2 ``(x, y)`` from one ``gaze`` entry of a SALICON 2017 ``.mat`` file: 1-based ``[x, y]`` columns.

    pysaliency ``external_datasets/salicon.py`` (``_get_SALICON_fixations``) reads
    ``gaze[k]['fixations'][:, 0] - 1`` as x and ``[:, 1] - 1`` as y ("matlab: one-based indexing").
    """
    try:
        pts = np.asarray(entry["fixations"], dtype=np.float64)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise DataError(f"{path}: gaze({observer + 1}) has no numeric 'fixations' field as in the SALICON 2017 "
                        f"release ({exc})") from exc
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise DataError(f"{path}: gaze({observer + 1}).fixations has shape {pts.shape}; expected K x 2 [x, y] (1-based)")
    return pts - 1.0


def load_salicon(path: str | os.PathLike, split: str = "train", *, drop_outside: bool = False) -> Dataset:
    """Load a SALICON split (Jiang et al. 2015): images plus mouse-contingent "fixations".

    Images: ``images/<split>/*.jpg`` (or ``<split>/*.jpg``). Fixations, first found of:

    * ``fixations_<split>2014.json`` (also under ``annotations/``): the COCO-style
      release read by the official ``salicon-api``: ``images`` (id, file_name,
      width, height) and ``annotations`` (image_id, worker_id, ``fixations``: a list
      of points). The API's ``SALICON.buildFixMap`` sets ``map[y-1][x-1] = 1`` for
      each ``[y, x]`` point, so a point is ``[row, column]`` in 1-based pixels; it
      becomes ``x = column - 1``, ``y = row - 1``.
    * ``fixations/<split>/<name>.mat`` (2017 release): a struct array ``gaze`` with
      one entry per observer whose ``fixations`` field is K×2 ``[x, y]`` (column,
      row) in 1-based MATLAB pixels, converted with ``- 1`` (as pysaliency's
      ``external_datasets/salicon.py`` reads it: ``fixations[:, 0] - 1`` is x).

    Points outside the image raise :class:`DataError` unless ``drop_outside=True``,
    which drops them and records how many in ``meta["dropped_outside"]``.

    References
    ----------
    Jiang, M., Huang, S., Duan, J., Zhao, Q. "SALICON: Saliency in Context", CVPR 2015.
    """
    root = Path(path)
    if split not in ("train", "val"):
        raise DataError(f"load_salicon: split must be 'train' or 'val' (the test split has no fixations), not {split!r}")
    img_dir = next((d for d in (root / "images" / split, root / split) if d.is_dir()), None)
    if img_dir is None:
        raise DataError(f"SALICON folder {root} lacks images/{split}/; point to the unpacked release")
    json_path = next((p for p in (root / f"fixations_{split}2014.json", root / "annotations" / f"fixations_{split}2014.json")
                      if p.is_file()), None)
    paths = _image_files(img_dir)
    stimuli = _stimuli_for(paths, f"SALICON {img_dir}")
    pos = {p.name: i for i, p in enumerate(paths)}
    parts = []
    if json_path is not None:
        doc = _read_json(json_path, "SALICON fixation file")
        try:
            images = {int(im["id"]): im["file_name"] for im in doc["images"]}
            anns = list(doc["annotations"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{json_path} is not a SALICON fixation file (needs 'images' with id and file_name, "
                            f"and a list 'annotations'): {exc!r}") from exc
        order_in_image: dict[int, int] = {}
        for a in anns:
            try:
                image_id = int(a["image_id"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{json_path}: annotation {a!r:.80} has no integer 'image_id'") from exc
            name = images.get(image_id)
            if name is None or name not in pos:
                raise DataError(f"{json_path}: annotation {a.get('id')} refers to image {image_id} "
                                f"({name}) which is not in {img_dir}")
            i = pos[name]
            pts = _salicon_json_points(a.get("fixations", []), json_path, a.get("id"))
            try:
                subj = int(a.get("worker_id", order_in_image.get(i, 0)))
            except (TypeError, ValueError) as exc:
                raise DataError(f"{json_path}: annotation {a.get('id')}: worker_id {a.get('worker_id')!r} "
                                "is not an integer") from exc
            order_in_image[i] = order_in_image.get(i, 0) + 1
            parts.append(Fixations(pts[:, 0], pts[:, 1], np.full(len(pts), i), np.full(len(pts), subj), np.arange(len(pts))))
        fix_source = str(json_path)
    else:
        mat_dir = root / "fixations" / split
        if not mat_dir.is_dir():
            raise DataError(f"SALICON folder {root}: neither fixations_{split}2014.json nor fixations/{split}/ found")
        for i, p in enumerate(paths):
            f = mat_dir / f"{p.stem}.mat"
            gaze = _loadmat(f).get("gaze")
            if gaze is None:
                raise DataError(f"{f} has no struct 'gaze' as in the SALICON 2017 release")
            for j, g in enumerate(np.asarray(gaze).ravel()):
                pts = _salicon_mat_points(g, f, j)
                parts.append(Fixations(pts[:, 0], pts[:, 1], np.full(len(pts), i), np.full(len(pts), j), np.arange(len(pts))))
        fix_source = str(mat_dir)
    fix = Fixations.concatenate(parts)
    fix, dropped = _drop_or_raise(fix, stimuli.sizes, drop_outside, f"SALICON {fix_source}")
    meta = {"ppd": SALICON_PPD, "split": split, "source": fix_source, "dropped_outside": dropped,
            "reference": "Jiang et al., SALICON: Saliency in Context, CVPR 2015"}
    return Dataset(f"salicon-{split}", stimuli, fix, meta, validate=False)


# --------------------------------------------------------------------------- generic folder
_FOLDER_JSON_LAYOUT = ('{"<image id>": [[x, y], ...]} or {"<image id>": [{"x": .., "y": ..[, "subject", "order", '
                       '"duration"]}, ...]}')


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _folder_csv(src: Path, index_of) -> Fixations:
    """Fixations from a generic folder's ``fixations.csv`` (header ``image,x,y[,subject,order,duration]``)."""
    reader = csv.reader(io.StringIO(_read_text(src, "fixation table"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not {"image", "x", "y"} <= set(header):
        raise DataError(f"{src}: needs a header with columns image,x,y[,subject,order,duration] (found {header})")
    if len(set(header)) != len(header):
        raise DataError(f"{src}: header {header} names a column twice; keep one of each")
    at = {h: k for k, h in enumerate(header)}
    cols: dict[str, list] = {"image": [], "x": [], "y": [], "subject": [], "order": [], "duration": []}
    for row in reader:
        line = reader.line_num
        if not row or all(not v.strip() for v in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{src} line {line}: {len(row)} field(s) but the header has {len(header)} "
                            f"({','.join(header)}); give every column (leave optional ones empty)")
        cols["image"].append(index_of(row[at["image"]].strip(), f"{src} line {line}"))
        for name, kind, default in (("x", float, None), ("y", float, None), ("subject", int, -1),
                                    ("order", int, -1), ("duration", float, np.nan)):
            text = row[at[name]].strip() if name in at else ""
            if not text:
                if default is None:
                    raise DataError(f"{src} line {line}: empty '{name}'; every fixation needs x and y")
                cols[name].append(default)
                continue
            try:
                value = kind(text)
            except ValueError:
                raise DataError(f"{src} line {line}: '{name}' = {text!r} is not a{'n integer' if kind is int else ' number'}") from None
            if kind is float and name != "duration" and not np.isfinite(value):
                raise DataError(f"{src} line {line}: '{name}' = {text!r} is not finite")
            cols[name].append(value)
    return Fixations(cols["x"], cols["y"], cols["image"], cols["subject"], cols["order"], cols["duration"])


def _folder_json(src: Path, index_of) -> Fixations:
    """Fixations from a generic folder's ``fixations.json`` (the two layouts of :data:`_FOLDER_JSON_LAYOUT`)."""
    doc = _read_json(src, "fixation file")
    if not isinstance(doc, dict):
        raise DataError(f"{src}: the top level is a JSON {type(doc).__name__}; expected an object {_FOLDER_JSON_LAYOUT}")
    parts = []
    for image, items in doc.items():
        i = index_of(image, str(src))
        where = f"{src}: image {image!r}"
        if not isinstance(items, list):
            raise DataError(f"{where}: fixations are a JSON {type(items).__name__}; expected a list, as in {_FOLDER_JSON_LAYOUT}")
        if not items:
            continue
        if all(isinstance(it, dict) for it in items):
            xs, ys, subj, order, dur = [], [], [], [], []
            for k, it in enumerate(items):
                for key in ("x", "y"):
                    if not _is_number(it.get(key)) or not np.isfinite(it[key]):
                        raise DataError(f"{where}: fixation {k} has {key}={it.get(key)!r}; every fixation needs finite "
                                        "numbers x and y")
                for key, out, default, ok in (("subject", subj, -1, float.is_integer), ("order", order, -1, float.is_integer),
                                              ("duration", dur, np.nan, lambda v: True)):
                    v = it.get(key, default)
                    if v is None:
                        v = default
                    if not _is_number(v) or not ok(float(v)):
                        raise DataError(f"{where}: fixation {k} has {key}={v!r}; expected a{'n integer' if key != 'duration' else ' number'}")
                    out.append(v)
                xs.append(it["x"])
                ys.append(it["y"])
            parts.append(Fixations(xs, ys, np.full(len(xs), i), subj, order, dur))
        elif all(isinstance(it, list) and len(it) == 2 and all(_is_number(v) and np.isfinite(v) for v in it) for it in items):
            pts = np.asarray(items, dtype=np.float64)
            parts.append(Fixations(pts[:, 0], pts[:, 1], np.full(len(pts), i)))
        else:
            if all(_is_number(v) for v in items):
                kind = f"a flat list of {len(items)} numbers"
            else:
                k = next(k for k, it in enumerate(items)
                         if not (isinstance(it, list) and len(it) == 2 and all(_is_number(v) and np.isfinite(v) for v in it)))
                kind = f"item {k} = {items[k]!r:.40}"
            raise DataError(f"{where}: found {kind} ({str(items)[:60]}); expected a list of [x, y] pairs or of "
                            f"{{\"x\": .., \"y\": ..}} objects, as in {_FOLDER_JSON_LAYOUT}")
    return Fixations.concatenate(parts)


def load_folder(path: str | os.PathLike, *, name: str | None = None) -> Dataset:
    """Load a generic folder: images plus fixations as CSV, JSON or binary fixation-map PNGs.

    Layout (coordinates in salscope's convention: 0-based, x = column)::

        <path>/images/<id>.<jpg|png|...>       (or stimuli/)
        <path>/fixations.csv                    UTF-8, header image,x,y[,subject,order,duration];
                                                every row has every column (optional ones may be empty)
        <path>/fixations.json                   {"<id>": [[x, y], ...]}
                                                or {"<id>": [{"x":..,"y":..[,"subject","order","duration"]}, ...]}
        <path>/fixation_maps/<id>.png           non-zero pixel = one fixation
        <path>/meta.json                        optional: {"ppd": .., "name": ..}

    Exactly one of the three fixation sources must be present. A file that is not
    UTF-8, a CSV row with missing fields, or JSON of another shape (such as a
    flat list ``[x1, y1, x2, y2]``) raises :class:`DataError` naming the file,
    the line or image id, and the expected layout.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist")
    img_dir = next((d for d in (root / "images", root / "stimuli") if d.is_dir()), None)
    if img_dir is None:
        raise DataError(f"{root} has no images/ (or stimuli/) folder")
    stimuli = _stimuli_for(_image_files(img_dir), f"folder {img_dir}")
    pos = {i: k for k, i in enumerate(stimuli.ids)}
    sources = [p for p in (root / "fixations.csv", root / "fixations.json", root / "fixation_maps") if p.exists()]
    if len(sources) != 1:
        raise DataError(f"{root}: need exactly one of fixations.csv, fixations.json, fixation_maps/ (found "
                        f"{[p.name for p in sources] or 'none'})")
    src = sources[0]

    def index_of(image: str, where: str) -> int:
        key = Path(str(image)).stem
        if key not in pos:
            raise DataError(f"{where}: image {image!r} is not in {img_dir}")
        return pos[key]

    if src.name == "fixations.csv":
        fix = _folder_csv(src, index_of)
    elif src.name == "fixations.json":
        fix = _folder_json(src, index_of)
    else:
        maps = []
        for image_id in stimuli.ids:
            mp = next((src / f"{image_id}{ext}" for ext in (".png", ".PNG") if (src / f"{image_id}{ext}").is_file()), None)
            if mp is None:
                raise DataError(f"no fixation map {src / (image_id + '.png')} for image {image_id}")
            maps.append(mp)
        fix = _fixations_from_maps(maps, [f"image {i}" for i in stimuli.ids], stimuli.sizes, 0)
    meta: dict = {"source": str(root)}
    if (root / "meta.json").is_file():
        extra = _read_json(root / "meta.json", "meta file")
        if not isinstance(extra, dict):
            raise DataError(f"{root / 'meta.json'}: expected a JSON object such as {{\"ppd\": 24, \"name\": \"mine\"}}")
        if "ppd" in extra:
            extra["ppd"] = check_ppd(extra["ppd"], str(root / "meta.json"))
        meta.update(extra)
    return Dataset(name or meta.get("name") or root.name, stimuli, fix, meta)


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
