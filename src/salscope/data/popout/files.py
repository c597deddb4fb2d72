"""Pop-out files: one search array as four PNG/JSON files, a whole preset set with its ``index.json``.

Every file is written atomically through :mod:`salscope.io`; the PNG encoder adds
no timestamps, so the same array gives the same bytes.
"""

from __future__ import annotations

import io as _io
import json
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from salscope.data.popout.generator import GENERATOR_VERSION, benchmark_specs, make_search_array
from salscope.data.popout.search_array import SearchArray
from salscope.errors import DataError
from salscope.io import write_bytes, write_json
from salscope.progress import track


def _png_bytes(array: np.ndarray) -> bytes:
    buf = _io.BytesIO()
    # uint16 arrays become 16-bit grey PNGs ("I;16"); uint8 grey/RGB as themselves.
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def save_search_array(array: SearchArray, folder: str | Path, name: str) -> dict[str, Path]:
    """Write ``name.png``, ``name_target.png`` (0/255), ``name_distractors.png`` (16-bit ids), ``name.json``.

    Every file is written atomically; the PNG encoder adds no timestamps, so the
    same array gives the same bytes.
    """
    folder = Path(folder)
    paths = {
        "image": folder / f"{name}.png",
        "target": folder / f"{name}_target.png",
        "distractors": folder / f"{name}_distractors.png",
        "meta": folder / f"{name}.json",
    }
    write_bytes(paths["image"], _png_bytes(array.image))
    write_bytes(paths["target"], _png_bytes(array.target_mask.astype(np.uint8) * 255))
    write_bytes(paths["distractors"], _png_bytes(array.distractor_ids.astype(np.uint16)))
    write_json(paths["meta"], array.meta)
    return paths


def load_search_array(folder: str | Path, name: str) -> SearchArray:
    """Read a search array written by :func:`save_search_array` (DataError naming the file if broken)."""
    folder = Path(folder)
    arrays = {}
    for key, suffix in (("image", ""), ("target", "_target"), ("distractors", "_distractors")):
        path = folder / f"{name}{suffix}.png"
        try:
            with Image.open(path) as im:
                arrays[key] = np.asarray(im.convert("RGB") if key == "image" else im)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {path}: {exc}; regenerate the set with `salscope popout generate`") from exc
    meta_path = folder / f"{name}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {meta_path}: {exc}; regenerate the set with `salscope popout generate`") from exc
    arr = SearchArray(
        image=np.array(arrays["image"], dtype=np.uint8),  # a writable copy (PIL's buffer is read-only)
        target_mask=np.asarray(arrays["target"]) > 0,
        distractor_ids=np.asarray(arrays["distractors"]).astype(np.uint16),
        meta=meta,
    )
    if arr.target_mask.shape != arr.image.shape[:2] or arr.distractor_ids.shape != arr.image.shape[:2]:
        raise DataError(f"masks of {folder / name} do not match the image size; regenerate the set")
    if not arr.target_mask.any():
        raise DataError(f"target mask {folder / (name + '_target.png')} is empty; regenerate the set")
    return arr


def generate_benchmark(out: str | Path, preset: str = "default", seed: int = 0) -> Path:
    """Generate a preset set into ``out``; returns the path of its ``index.json``.

    ``index.json`` lists the image names with dimension, level and set size, and
    the preset and seed, so ``load_popout_set(out)`` can read the set back.
    """
    out = Path(out)
    specs = benchmark_specs(preset, seed)
    rows = []
    for spec in track(specs, f"popout {preset}"):
        kwargs = {k: v for k, v in spec.items() if k != "name"}
        arr = make_search_array(**kwargs)
        save_search_array(arr, out, spec["name"])
        rows.append({"name": spec["name"], "dimension": spec["dimension"], "level": spec["level"], "set_size": spec["set_size"]})
    return write_json(
        out / "index.json",
        {"kind": "salscope-popout", "preset": preset, "seed": int(seed), "generator_version": GENERATOR_VERSION, "images": rows},
    )


class PopoutSet:
    """A folder of search arrays with an ``index.json`` (as :func:`generate_benchmark` writes).

    ``len(s)``; ``s[i]`` → :class:`SearchArray` (read on demand); ``s.names``;
    ``s.entries`` (index rows: name, dimension, level, set_size).
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        index = self.folder / "index.json"
        if not index.is_file():
            raise DataError(
                f"{index} not found: point --set at a folder made by `salscope popout generate --out DIR`"
            )
        try:
            payload = json.loads(index.read_text())
            self.entries: list[dict] = list(payload["images"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{index} is not a pop-out index ({exc}); regenerate the set") from exc
        self.preset = payload.get("preset")
        self.seed = payload.get("seed")

    @property
    def names(self) -> list[str]:
        return [e["name"] for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> SearchArray:
        return load_search_array(self.folder, self.entries[i]["name"])

    def __iter__(self) -> Iterator[SearchArray]:
        for i in range(len(self)):
            yield self[i]


def load_popout_set(folder: str | Path) -> PopoutSet:
    """Open a generated pop-out set (see :class:`PopoutSet`)."""
    return PopoutSet(folder)
