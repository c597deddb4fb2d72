"""Stimuli: a lazily loaded, indexable set of images.

Images are returned as ``np.ndarray`` uint8 ``H×W×3`` RGB whatever their file mode
(grey, grey+alpha, RGBA, palette, CMYK, 16-bit grey are converted). Sizes come from
the file headers only (PIL reads the header without decoding the pixels), so listing
the sizes of the 700 OSIE images costs a few milliseconds per hundred files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

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
    """Read one image file as uint8 ``H×W×3`` RGB; :class:`DataError` naming the file if it fails."""
    from PIL import Image

    path = Path(path)
    img = _open(path)
    try:
        with img:
            img.load()
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

    ``s[i]`` decodes image ``i`` (uint8 ``H×W×3`` RGB); ``s.ids`` are the file
    stems unless given; ``s.sizes`` are ``(height, width)`` read from headers only
    and cached.
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
        """``(height, width)`` of every image, from the file headers (cached)."""
        if self._sizes is None:
            sizes = []
            for p in self._paths:
                with _open(p) as img:
                    w, h = img.size
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
