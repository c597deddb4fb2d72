"""``salscope predict``: saliency maps of image files with the built-in model, a checkpoint or any model.

For each ``IMAGE`` writes ``<stem>.png`` (the map min–max scaled to 8-bit grey),
``<stem>.npy`` (the float64 map) and, with ``--overlay``, ``<stem>_overlay.png``
(the map in the ``jet`` colour map blended 50/50 over the image). Files are
written atomically. Works offline: the built-in model's weights ship with salscope.

Nothing is lost: every output name is checked before anything is written. An
output that is one of the input images is refused (choose another ``--out``);
an output that already exists is refused unless ``--overwrite`` is given; two
inputs whose outputs share a name (``a.png`` and ``a.jpg``; ``a.jpg`` and
``a_overlay.jpg`` with ``--overlay``) are refused.
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


def output_plan(images: list[Path], out: Path, formats: tuple[str, ...], with_overlay: bool = False,
                overwrite: bool = False) -> list[list[tuple[str, Path]]]:
    """``(kind, file)`` per output of each image (kind: png, npy, overlay), checked so that nothing is lost.

    :class:`ConfigError` before any write.

    Refused: an output that is an input image (always), an existing file
    (unless ``overwrite``), and two outputs with the same name.
    """
    plan: list[list[tuple[str, Path]]] = []
    owner: dict[str, Path] = {}
    for p in images:
        dests = [(f, out / f"{p.stem}.{f}") for f in FORMATS if f in formats]
        if with_overlay:
            dests.append(("overlay", out / f"{p.stem}_overlay.png"))
        for _, dest in dests:
            if dest.name in owner:
                raise ConfigError(f"images {owner[dest.name]} and {p} would both write {dest} and overwrite each "
                                  "other's maps; predict them into different --out folders")
            owner[dest.name] = p
        plan.append(dests)
    inputs = {p.resolve(): p for p in images}   # resolved, so a symlink or ./a/../a names the same file
    for dests in plan:
        for _, dest in dests:
            hit = inputs.get(dest.resolve())
            if hit is not None:
                raise ConfigError(f"{dest} is the input image {hit}: its map would replace it; choose another --out "
                                  "(nothing was written)")
            if dest.is_dir():
                raise ConfigError(f"{dest} is a folder; choose another --out (nothing was written)")
            if (dest.exists() or dest.is_symlink()) and not overwrite:
                raise ConfigError(f"{dest} already exists; choose another --out, or pass --overwrite to replace it "
                                  "(nothing was written)")
    return plan


def predict_files(images: list[Path], out: Path, model: str = "builtin", formats: tuple[str, ...] = ("png",),
                  with_overlay: bool = False, center_prior: Optional[bool] = None,
                  overwrite: bool = False) -> list[Path]:
    """Predict saliency maps of ``images`` with ``model`` and write them under ``out``; return the files written.

    Every output is checked first (:func:`output_plan`): an input image is never
    written over, an existing file only with ``overwrite``.
    """
    from salscope.data import load_image  # noqa: PLC0415
    from salscope.io import write_npy  # noqa: PLC0415
    from salscope.models import get_model  # noqa: PLC0415

    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"--format: unknown format(s) {bad}; use a comma-separated subset of {', '.join(FORMATS)}")
    images = [Path(p) for p in images]
    out = Path(out)
    plan = output_plan(images, out, formats, with_overlay, overwrite)
    kwargs = {} if center_prior is None else {"center_prior": center_prior}
    sal = get_model(model, **kwargs)
    written: list[Path] = []
    batch = 8
    for start in range(0, len(images), batch):
        paths = images[start:start + batch]
        arrays = [load_image(p) for p in paths]
        maps = sal.predict(arrays) if hasattr(sal, "predict") else [sal.saliency_map(a) for a in arrays]
        for dests, image, smap in zip(plan[start:start + batch], arrays, maps):
            for kind, dest in dests:
                if kind == "npy":
                    write_npy(dest, np.asarray(smap, dtype=np.float64))
                else:
                    _write_png(dest, overlay(image, smap) if kind == "overlay" else _to_uint8(smap))
                written.append(dest)
    return written


def predict_command(
    images: list[Path] = typer.Argument(..., help="Image files."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    model: str = typer.Option("builtin", "--model", help="'builtin', a registered model name, or a checkpoint path (.ckpt/.pt)."),
    fmt: str = typer.Option("png", "--format", help="Comma-separated: png, npy."),
    with_overlay: bool = typer.Option(False, "--overlay", help="Also write the map over the image (jet, 50%)."),
    center_prior: Optional[bool] = typer.Option(None, "--center-prior/--no-center-prior", help="Switch the model's centre prior (where it has one)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files (never an input image)."),
) -> None:
    """Write saliency maps (PNG/NPY) and overlays of IMAGE files.

    Refuses, before writing anything, an output that is an input image, an
    existing file (unless --overwrite) or a name two images would share.
    """
    formats = tuple(f.strip() for f in fmt.split(",") if f.strip())
    written = predict_files(list(images), out, model, formats, with_overlay, center_prior, overwrite)
    typer.echo(f"wrote {len(written)} file(s) for {len(images)} image(s) to {out}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
