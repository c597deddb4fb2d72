"""``salscope predict``: saliency maps of image files with the built-in model, a checkpoint or any model.

For each ``IMAGE`` writes ``<stem>.png`` (the map min–max scaled to 8-bit grey),
``<stem>.npy`` (the float64 map) and, with ``--overlay``, ``<stem>_overlay.png``
(the map in the ``jet`` colour map blended 50/50 over the image). Files are
written atomically. Works offline: the built-in model's weights ship with salscope.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from salscope.errors import ConfigError

FORMATS = ("png", "npy")


def _to_uint8(smap: np.ndarray) -> np.ndarray:
    lo, hi = float(smap.min()), float(smap.max())
    scaled = (smap - lo) / (hi - lo) if hi > lo else np.zeros_like(smap)
    return np.round(scaled * 255.0).astype(np.uint8)


def overlay(image: np.ndarray, smap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``(1 − α)·image + α·jet(minmax(map))`` as uint8 RGB."""
    from matplotlib import colormaps  # noqa: PLC0415

    colours = colormaps["jet"](_to_uint8(smap))[..., :3] * 255.0
    return np.round((1 - alpha) * image.astype(np.float64) + alpha * colours).astype(np.uint8)


def _write_png(dest: Path, array: np.ndarray) -> None:
    from PIL import Image  # noqa: PLC0415

    from salscope.io import atomic_path  # noqa: PLC0415

    with atomic_path(dest, suffix=".png") as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def predict_files(images: list[Path], out: Path, model: str = "builtin", formats: tuple[str, ...] = ("png",),
                  with_overlay: bool = False, center_prior: Optional[bool] = None) -> list[Path]:
    """Predict saliency maps of ``images`` with ``model`` and write them under ``out``; return the files written."""
    from salscope.data import load_image  # noqa: PLC0415
    from salscope.io import write_npy  # noqa: PLC0415
    from salscope.models import get_model  # noqa: PLC0415

    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"--format: unknown format(s) {bad}; use a comma-separated subset of {', '.join(FORMATS)}")
    stems: dict[str, Path] = {}
    for p in images:
        if p.stem in stems:
            raise ConfigError(f"images {stems[p.stem]} and {p} share the name '{p.stem}' and would overwrite each "
                              "other's maps; predict them into different --out folders")
        stems[p.stem] = p
    kwargs = {} if center_prior is None else {"center_prior": center_prior}
    sal = get_model(model, **kwargs)
    written: list[Path] = []
    batch = 8
    for start in range(0, len(images), batch):
        paths = images[start:start + batch]
        arrays = [load_image(p) for p in paths]
        maps = sal.predict(arrays) if hasattr(sal, "predict") else [sal.saliency_map(a) for a in arrays]
        for p, image, smap in zip(paths, arrays, maps):
            if "png" in formats:
                _write_png(out / f"{p.stem}.png", _to_uint8(smap))
                written.append(out / f"{p.stem}.png")
            if "npy" in formats:
                written.append(write_npy(out / f"{p.stem}.npy", np.asarray(smap, dtype=np.float64)))
            if with_overlay:
                _write_png(out / f"{p.stem}_overlay.png", overlay(image, smap))
                written.append(out / f"{p.stem}_overlay.png")
    return written


def predict_command(
    images: list[Path] = typer.Argument(..., help="Image files."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    model: str = typer.Option("builtin", "--model", help="'builtin', a registered model name, or a checkpoint path (.ckpt/.pt)."),
    fmt: str = typer.Option("png", "--format", help="Comma-separated: png, npy."),
    with_overlay: bool = typer.Option(False, "--overlay", help="Also write the map over the image (jet, 50%)."),
    center_prior: Optional[bool] = typer.Option(None, "--center-prior/--no-center-prior", help="Switch the model's centre prior (where it has one)."),
) -> None:
    """Write saliency maps (PNG/NPY) and overlays of IMAGE files."""
    formats = tuple(f.strip() for f in fmt.split(",") if f.strip())
    written = predict_files(list(images), out, model, formats, with_overlay, center_prior)
    typer.echo(f"wrote {len(written)} file(s) for {len(images)} image(s) to {out}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
