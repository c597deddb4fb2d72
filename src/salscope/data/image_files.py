"""Find the image files among command-line inputs: files, folders and glob patterns.

:func:`find_images` turns what a user types (``photo.jpg``, ``myimgs/``,
``"shots/*.jpg"``, ``"cat2000/**/*.jpg"``) into an ordered list of image files,
each with the relative name its outputs take, and the list of inputs that are
not images (skipped and counted, or refused with ``strict=True``). What an image
is: a file whose suffix is one of :data:`salscope.data.stimuli.IMAGE_SUFFIXES`
(case-insensitive), the files :meth:`Stimuli.from_folder` reads; a file with an
image suffix that does not decode is not skipped — loading it raises
:class:`DataError` naming it.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Sequence

from salscope.data.stimuli import IMAGE_SUFFIXES
from salscope.errors import DataError

_GLOB_MAGIC = frozenset("*?[")


@dataclass(frozen=True)
class ImageInputs:
    """Image files found among some inputs.

    ``paths[i]`` is an image file and ``names[i]`` its name relative to the
    input it came from (``a.jpg`` for a file or a glob match; ``sub/a.jpg`` for a
    file in folder ``sub/`` of a folder input read with ``recursive=True``);
    ``skipped`` are the inputs (or files of input folders) that are not images.
    """

    paths: list[Path]
    names: list[PurePosixPath]
    skipped: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


def is_image_file(path: Path, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> bool:
    """Whether ``path`` is a file with an image suffix (case-insensitive)."""
    return path.is_file() and path.suffix.lower() in suffixes


def _folder_files(folder: Path, recursive: bool) -> list[tuple[Path, PurePosixPath]]:
    if recursive:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
    else:
        files = sorted(p for p in folder.iterdir() if p.is_file())
    return [(p, PurePosixPath(p.relative_to(folder).as_posix())) for p in files]


def find_images(inputs: Sequence[str | os.PathLike], *, recursive: bool = False, strict: bool = False,
                suffixes: Sequence[str] = IMAGE_SUFFIXES) -> ImageInputs:
    """The image files among ``inputs``: files, folders (their files; subfolders with ``recursive``) and globs.

    - a file is taken as it is (skipped if it is not an image);
    - a folder gives its files sorted by name; ``recursive=True`` walks its
      subfolders too and keeps the relative path as the output name, so a
      CAT2000-style ``Stimuli/<Category>/<image>`` tree keeps its structure;
    - an input that does not exist but holds ``*``, ``?`` or ``[`` is a glob
      pattern (``**`` crosses folders), expanded in sorted order for shells
      that do not expand it (quoted patterns, Windows); folders it matches
      are passed over.

    The same file reached twice (a folder and a file in it) is taken once.
    Non-image files are returned in ``skipped``; with ``strict=True`` any of
    them raises :class:`DataError` naming it. An input that is neither a file,
    a folder nor a pattern matching something, or inputs without a single
    image, raise :class:`DataError`.
    """
    found: list[tuple[Path, PurePosixPath]] = []
    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text)
        if path.is_dir():
            found.extend(_folder_files(path, recursive))
        elif path.exists():
            found.append((path, PurePosixPath(path.name)))
        elif _GLOB_MAGIC & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise DataError(f"the pattern {text!r} matches no file; check the folder and the pattern")
            # folders a pattern matches (``**``) are not inputs of their own
            found.extend((Path(m), PurePosixPath(Path(m).name)) for m in matches if not Path(m).is_dir())
        else:
            raise DataError(f"input {text} does not exist (not a file, a folder or a glob pattern); check the path")
    paths: list[Path] = []
    names: list[PurePosixPath] = []
    skipped: list[Path] = []
    seen: set[Path] = set()
    for path, name in found:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        if is_image_file(path, suffixes):
            paths.append(path)
            names.append(name)
        else:
            skipped.append(path)
    if skipped and strict:
        shown = ", ".join(str(p) for p in skipped[:3]) + (", …" if len(skipped) > 3 else "")
        raise DataError(f"{len(skipped)} input(s) are not image files ({shown}); image files end in "
                        f"{', '.join(suffixes)}: remove the others, or drop --strict to skip them")
    if not paths:
        raise DataError(f"no image files among the inputs {', '.join(map(os.fspath, inputs))} "
                        f"({len(skipped)} other file(s)); image files end in {', '.join(suffixes)}")
    return ImageInputs(paths, names, skipped)
