"""Stimuli: a lazily loaded, indexable set of images.

Images are returned as ``np.ndarray`` uint8 ``H×W×3`` RGB whatever their file mode
(grey, grey+alpha, RGBA, palette, CMYK, 16-bit grey are converted), turned upright
by their EXIF orientation tag (a phone portrait stored sideways loads as a viewer
shows it). Sizes come from the file headers only (PIL reads the header, EXIF
included, without decoding the pixels), so listing the sizes of the 700 OSIE images
costs a few milliseconds per hundred files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from salscope.data import _pysaliency
from salscope.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm")


def _bomb_error(path: Path, exc: Exception) -> DataError:
    from PIL import Image

    return DataError(f"image {path} claims more pixels than the decoder allows ({exc}); it is corrupt or a "
                     "decompression bomb: replace it (for a genuine huge image, raise PIL.Image.MAX_IMAGE_PIXELS, "
                     f"now {Image.MAX_IMAGE_PIXELS}, or downscale it)")


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"image file {path} does not exist; check the data folder or re-fetch the data set")
    try:
        return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _bomb_error(path, exc) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot read image {path} ({exc}); the file is corrupt or not an image: replace it") from exc


#: EXIF tag 0x0112 (Orientation): 1 upright; 2-4 mirrored/rotated 180°; 5-8 transposed (width and height swap).
EXIF_ORIENTATION = 0x0112


def exif_orientation(img) -> int:
    """The EXIF orientation (1..8) of an opened PIL image, 1 when it has none or it is unreadable.

    A malformed EXIF block is read as upright, as image viewers do, rather than
    refusing an image whose pixels decode.
    """
    try:
        value = int(img.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 (PIL raises many kinds of errors on broken EXIF)
        return 1
    return value if 1 <= value <= 8 else 1


def to_rgb(img) -> np.ndarray:
    """Convert a PIL image of any mode to a uint8 ``H×W×3`` RGB array.

    16-bit and float grey images are rescaled linearly from their own value range
    (``I;16``: 0..65535) to 0..255; alpha is dropped (composited on nothing).
    """
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
        grey = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode != "RGB":
        img = img.convert("RGBA" if mode == "P" and "transparency" in img.info else mode).convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image file as uint8 ``H×W×3`` RGB, upright; :class:`DataError` naming the file if it fails.

    The EXIF orientation is applied (``PIL.ImageOps.exif_transpose``), so the
    array is the image as a viewer shows it: a 20×10 (W×H) JPEG with orientation
    6 ("rotate 90° clockwise") loads as ``20×10×3`` (H×W×3).
    """
    from PIL import Image, ImageOps

    path = Path(path)
    img = _open(path)
    try:
        with img:
            img.load()
            if exif_orientation(img) != 1:
                with ImageOps.exif_transpose(img) as upright:
                    return to_rgb(upright)
            return to_rgb(img)
    except Image.DecompressionBombError as exc:
        raise _bomb_error(path, exc) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot decode image {path} ({exc}); the file is truncated or corrupt: replace it") from exc


#: Files :func:`load_map` reads: NumPy arrays and images (TIFF for float maps).
MAP_SUFFIXES = (".npy", ".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: PIL modes whose pixel values are kept as they are (float and 16/32-bit integer grey).
_VALUE_MODES = ("F", "I", "I;16", "I;16B", "I;16L", "I;16N")


def load_map(path: str | os.PathLike) -> np.ndarray:
    """Read a saliency or fixation map file as a float64 ``H×W`` array with its stored values.

    - ``.npy``: the array, ``H×W`` or ``H×W×C`` (C = 1 or 3, averaged over
      channels); pickled (object) arrays are refused.
    - images: float (``F``, e.g. a 32-bit float TIFF) and 16/32-bit integer grey
      (``I;16``, ``I``) keep their values, negative ones included; 8-bit grey is
      0..255; colour images become grey levels ``0.299 R + 0.587 G + 0.114 B``
      (PIL's ``convert("F")``).

    A file that cannot be read, or holds no finite ``H×W`` numbers, raises
    :class:`DataError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"map file {path} does not exist")
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as fh:
            if fh.read(6) != b"\x93NUMPY":
                raise DataError(f"map {path} is not a .npy array (no NumPy header); save it with np.save or replace it")
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise DataError(f"map {path} holds a pickled (object) array; save the map as a numeric array "
                                "(np.save(path, m.astype(np.float32)))") from exc
            raise DataError(f"cannot read map {path} ({exc}); the file is truncated or not a .npy array: replace it") from exc
        except (OSError, EOFError) as exc:
            raise DataError(f"cannot read map {path} ({exc}); the file is truncated or not a .npy array: replace it") from exc
        if not isinstance(arr, np.ndarray) or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
                                                   or arr.dtype == np.bool_):
            raise DataError(f"map {path} has dtype {getattr(arr, 'dtype', type(arr).__name__)}; a map holds real numbers")
        m = arr.astype(np.float64)
        if m.ndim == 3 and m.shape[2] in (1, 3):
            m = m.mean(axis=2)
    else:
        img = _open(path)
        try:
            with img:
                img.load()
                m = np.asarray(img if img.mode in _VALUE_MODES else img.convert("F"), dtype=np.float64)
        except (OSError, ValueError, SyntaxError) as exc:
            raise DataError(f"cannot decode map {path} ({exc}); the file is truncated or corrupt: replace it") from exc
    if m.ndim != 2 or m.size == 0:
        raise DataError(f"map {path} has shape {m.shape}; a map is H×W (or H×W×1/3 for .npy)")
    if not np.isfinite(m).all():
        raise DataError(f"map {path} holds {int((~np.isfinite(m)).sum())} NaN/Inf value(s); replace them with numbers")
    return m


class Stimuli:
    """An ordered set of image files, loaded on access.

    ``s[i]`` decodes image ``i`` (uint8 ``H×W×3`` RGB, upright by its EXIF
    orientation); ``s.ids`` are the file stems unless given; ``s.sizes`` are
    ``(height, width)`` of the upright image, read from headers only and cached.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], ids: Sequence[str] | None = None):
        self._paths = [Path(p) for p in paths]
        if ids is None:
            ids = [p.stem for p in self._paths]
        ids = [str(i) for i in ids]
        if len(ids) != len(self._paths):
            raise DataError(f"Stimuli: {len(ids)} ids for {len(self._paths)} paths; give one id per image")
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise DataError(f"Stimuli: duplicate image ids {dup}; ids must be unique (pass ids= explicitly)")
        self._ids = ids
        self._sizes: list[tuple[int, int]] | None = None

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> "Stimuli":
        """All image files of ``folder`` (by suffix), sorted by name."""
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"image folder {folder} does not exist; point to the folder holding the stimuli")
        paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        if not paths:
            raise DataError(f"no images ({', '.join(suffixes)}) found in {folder}")
        return cls(paths)

    @classmethod
    def from_pysaliency(cls, stimuli, folder: str | os.PathLike | None = None) -> "Stimuli":
        """Stimuli of pysaliency ``FileStimuli`` (their files) or ``Stimuli`` (arrays, written to ``folder`` as PNG).

        ids: the ``ids`` attribute that :meth:`to_pysaliency` sets, else the file
        stems when unique, else ``"0"``, ``"1"``, …. Needs no pysaliency import.
        """
        paths, ids = _pysaliency.stimuli_paths_from_pysaliency(stimuli, folder)
        return cls(paths, ids if ids is not None else [str(i) for i in range(len(paths))])

    def to_pysaliency(self):
        """These images as pysaliency ``FileStimuli`` with the ids as the ``ids`` attribute.

        If an image needs EXIF rotation (pysaliency would read it sideways), the
        upright arrays are passed as in-memory pysaliency ``Stimuli`` instead,
        with the files as the ``filenames`` attribute. Needs pysaliency.
        """
        upright = []
        for p in self._paths:
            with _open(p) as img:
                upright.append(exif_orientation(img) == 1)
        return _pysaliency.stimuli_to_pysaliency(self._paths, self._ids, upright, self.__getitem__)

    @classmethod
    def read_hdf5(cls, path: str | os.PathLike, group: str | None = None,
                  folder: str | os.PathLike | None = None) -> "Stimuli":
        """Stimuli from a pysaliency HDF5 file (``FileStimuli``/``Stimuli.to_hdf5``); needs h5py, not pysaliency.

        ``FileStimuli`` name their files (relative to the HDF5 file from version
        2.0 on); ``Stimuli`` hold arrays, written to ``folder`` as PNG files.
        """
        paths, ids = _pysaliency.read_hdf5(path, group, folder, expect="stimuli")[1]
        return cls(paths, ids if ids is not None else [str(i) for i in range(len(paths))])

    def __len__(self) -> int:
        return len(self._paths)

    def __getitem__(self, index: int) -> np.ndarray:
        if not isinstance(index, (int, np.integer)):
            raise TypeError("Stimuli[i] takes one integer index; use .subset(indices) for several")
        return load_image(self._paths[int(index)])

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Stimuli({len(self)} images)"

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def index(self, image_id: str | int) -> int:
        """Position of the image with id ``image_id``; :class:`DataError` if unknown."""
        key = str(image_id)
        try:
            return self._ids.index(key)
        except ValueError:
            raise DataError(f"unknown image id {key!r}; known ids run {self._ids[0]!r} .. {self._ids[-1]!r}") from None

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """``(height, width)`` of every image as :func:`load_image` returns it, from the file headers (cached)."""
        if self._sizes is None:
            sizes = []
            for p in self._paths:
                with _open(p) as img:
                    w, h = img.size
                    if exif_orientation(img) >= 5:   # transposed: width and height swap
                        w, h = h, w
                sizes.append((int(h), int(w)))
            self._sizes = sizes
        return list(self._sizes)

    def subset(self, indices: Sequence[int] | np.ndarray) -> "Stimuli":
        """The images at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64).ravel()
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise DataError(f"Stimuli.subset: index out of range for {len(self)} images")
        out = Stimuli([self._paths[i] for i in idx], [self._ids[i] for i in idx])
        if self._sizes is not None:
            out._sizes = [self._sizes[i] for i in idx]
        return out
