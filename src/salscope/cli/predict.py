"""``salscope predict``: saliency maps of image files with the built-in model, a checkpoint or any model.

Inputs are image files, folders (their images; subfolders with ``--recursive``)
and glob patterns (``"shots/*.jpg"``, ``"cat2000/**/*.jpg"``); files that are not
images are skipped and counted (``--strict`` refuses them). Images are read
upright by their EXIF orientation (:func:`salscope.data.load_image`).

For each image ``<name>`` (its file name, or its path below a folder input)
``--format`` picks what is written:

- ``png``: ``<name>.png``, the map min–max scaled to 8-bit grey;
- ``npy``: ``<name>.npy``, the float64 map;
- ``jpg``: ``<name>.jpg``, the 8-bit grey map as JPEG at the image's size —
  the MIT saliency benchmark's submission (``.jpg`` maps of the same size and
  name as the images, in the images' folder structure);
- ``logdensity``: ``<name>.npy``, the float64 log-density (``logsumexp = 0``)
  — a folder for the MIT/Tübingen benchmark's probabilistic track
  (pysaliency's ``ModelFromDirectory``);
- ``hdf5``: ``predictions.hdf5``, one dataset per image named by its file name
  (``<name>`` with suffix) holding the log-density (pysaliency's
  ``HDF5Model`` / ``export_model_to_hdf5`` layout; needs h5py).

``--overlay`` adds ``<name>_overlay.png`` (the map in the ``jet`` colour map
blended 50/50 over the image). Files are written atomically. Works offline:
the built-in model's weights ship with salscope.

Nothing is lost: every output name is checked before anything is written. An
output that is one of the input images is refused (choose another ``--out``);
an output that already exists is refused unless ``--overwrite`` is given; two
inputs whose outputs share a name (``a.png`` and ``a.jpg``; ``a.jpg`` and
``a_overlay.jpg`` with ``--overlay``) are refused.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Optional

import numpy as np
import typer

from salscope.cli.options import default_out, out_help
from salscope.devices import DEVICE_HELP, resolve_device
from salscope.errors import ConfigError, ModelError

FORMATS = ("png", "npy", "jpg", "logdensity", "hdf5")
#: Formats written per image, and their file suffix.
_SUFFIX = {"png": "png", "npy": "npy", "jpg": "jpg", "logdensity": "npy"}
#: Formats that hold a log-density rather than a map.
_DENSITY_FORMATS = frozenset({"logdensity", "hdf5"})
HDF5_NAME = "predictions.hdf5"
JPEG_QUALITY = 95
#: |logsumexp| above this is not a normalised log-density (the benchmark's own check).
LOGSUMEXP_TOLERANCE = 1e-3


@dataclass
class PredictResult:
    """What :func:`predict_files` did: the files ``written``, the ``images`` predicted, the inputs ``skipped``."""

    written: list[Path] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def _to_uint8(smap: np.ndarray) -> np.ndarray:
    lo, hi = float(smap.min()), float(smap.max())
    scaled = (smap - lo) / (hi - lo) if hi > lo else np.zeros_like(smap)
    return np.round(scaled * 255.0).astype(np.uint8)


def overlay(image: np.ndarray, smap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``(1 − α)·image + α·jet(minmax(map))`` as uint8 RGB."""
    from matplotlib import colormaps  # noqa: PLC0415

    colours = colormaps["jet"](_to_uint8(smap))[..., :3] * 255.0
    return np.round((1 - alpha) * image.astype(np.float64) + alpha * colours).astype(np.uint8)


def _write_image(dest: Path, array: np.ndarray, fmt: str = "PNG") -> None:
    from PIL import Image  # noqa: PLC0415

    from salscope.io import atomic_path  # noqa: PLC0415

    options = {"quality": JPEG_QUALITY} if fmt == "JPEG" else {}
    with atomic_path(dest, suffix=dest.suffix) as tmp:
        Image.fromarray(array).save(tmp, format=fmt, **options)


def _check_dest(dest: Path, inputs: dict[Path, Path], overwrite: bool) -> None:
    hit = inputs.get(dest.resolve())
    if hit is not None:
        raise ConfigError(f"{dest} is the input image {hit}: its map would replace it; choose another --out "
                          "(nothing was written)")
    if dest.is_dir():
        raise ConfigError(f"{dest} is a folder; choose another --out (nothing was written)")
    if (dest.exists() or dest.is_symlink()) and not overwrite:
        raise ConfigError(f"{dest} already exists; choose another --out, or pass --overwrite to replace it "
                          "(nothing was written)")


def output_plan(images: list[Path], out: Path, formats: tuple[str, ...], with_overlay: bool = False,
                overwrite: bool = False, names: list[PurePosixPath] | None = None) -> list[list[tuple[str, Path]]]:
    """``(kind, file)`` per output of each image (kind: a format or overlay), checked so that nothing is lost.

    ``names[i]`` is image ``i``'s name below ``out`` (default: its file name);
    its outputs go to ``out / <folder of name> / <stem>.<suffix>``. Refused with
    :class:`ConfigError` before any write: an output that is an input image
    (always), an existing file (unless ``overwrite``), and two outputs with the
    same name. ``hdf5`` (one file for all images) is checked by :func:`predict_files`.
    """
    if "npy" in formats and "logdensity" in formats:
        raise ConfigError("--format npy and logdensity both write <name>.npy (the map, the log-density); ask for one of "
                          "them, or predict twice into two --out folders")
    names = [PurePosixPath(Path(p).name) for p in images] if names is None else names
    plan: list[list[tuple[str, Path]]] = []
    owner: dict[Path, Path] = {}
    for p, name in zip(images, names):
        folder = out.joinpath(*name.parent.parts)
        dests = [(f, folder / f"{name.stem}.{_SUFFIX[f]}") for f in FORMATS if f in formats and f in _SUFFIX]
        if with_overlay:
            dests.append(("overlay", folder / f"{name.stem}_overlay.png"))
        for _, dest in dests:
            if dest in owner:
                raise ConfigError(f"images {owner[dest]} and {p} would both write {dest} and overwrite each "
                                  "other's maps; predict them into different --out folders")
            owner[dest] = p
        plan.append(dests)
    inputs = {p.resolve(): p for p in images}   # resolved, so a symlink or ./a/../a names the same file
    for dests in plan:
        for _, dest in dests:
            _check_dest(dest, inputs, overwrite)
    return plan


def _log_density(model, image: np.ndarray, smap: np.ndarray | None, own: bool, where: Path) -> np.ndarray:
    from scipy.special import logsumexp  # noqa: PLC0415

    from salscope.models.base import log_density_from_map  # noqa: PLC0415

    ld = np.asarray(model.log_density(image) if own else log_density_from_map(smap), dtype=np.float64)
    total = float(logsumexp(ld))
    if not abs(total) <= LOGSUMEXP_TOLERANCE:
        raise ModelError(f"the model's log-density of {where} is not normalised (logsumexp = {total:.4g}, not 0); "
                         "the probabilistic formats (logdensity, hdf5) need a density: fix the model's log_density")
    return ld


def predict_files(images: list[Path | str], out: Path, model: str = "builtin", formats: tuple[str, ...] = ("png",),
                  with_overlay: bool = False, center_prior: Optional[bool] = None,
                  overwrite: bool = False, *, recursive: bool = False, strict: bool = False,
                  device: Optional[str] = None, amp: bool = False) -> PredictResult:
    """Predict saliency maps of the images among ``images`` with ``model`` and write them under ``out``.

    ``images`` are files, folders and glob patterns (:func:`salscope.data.image_files.find_images`;
    non-images are skipped, or refused with ``strict``). Every output is checked
    first (:func:`output_plan`): an input image is never written over, an
    existing file only with ``overwrite``. The probabilistic formats
    (``logdensity``, ``hdf5``) take the model's own log-density where it has one
    (``has_log_density``), else the map's (:func:`~salscope.models.base.log_density_from_map`);
    the benchmark formats need maps of the image's size (:class:`ModelError` otherwise).
    ``device``/``amp`` place a deep model (:mod:`salscope.devices`; default auto).
    """
    from salscope.data import load_image  # noqa: PLC0415
    from salscope.data._pysaliency import require_h5py  # noqa: PLC0415
    from salscope.data.image_files import find_images  # noqa: PLC0415
    from salscope.io import atomic_path, write_npy  # noqa: PLC0415
    from salscope.models import get_model  # noqa: PLC0415
    from salscope.progress import track  # noqa: PLC0415

    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"--format: unknown format(s) {bad}; use a comma-separated subset of {', '.join(FORMATS)}")
    found = find_images(images, recursive=recursive, strict=strict)
    out = Path(out)
    plan = output_plan(found.paths, out, formats, with_overlay, overwrite, found.names)
    hdf5_dest = out / HDF5_NAME if "hdf5" in formats else None
    if hdf5_dest is not None:
        h5py = require_h5py()
        _check_dest(hdf5_dest, {p.resolve(): p for p in found.paths}, overwrite)
    kwargs = {} if center_prior is None else {"center_prior": center_prior}
    sal = get_model(model, device=device or "auto", amp=amp, **kwargs)
    need_density = bool(_DENSITY_FORMATS & set(formats))
    own_density = False
    if need_density:
        from salscope.analysis.evaluation import has_log_density  # noqa: PLC0415 (the one test of "a density of its own")

        own_density = has_log_density(sal)
    need_map = with_overlay or any(f not in _DENSITY_FORMATS for f in formats) or not own_density
    benchmark = bool({"jpg", "logdensity", "hdf5"} & set(formats))
    result = PredictResult(images=list(found.paths), skipped=list(found.skipped))
    batch, pending = 8, []
    with contextlib.ExitStack() as stack:
        h5 = None
        if hdf5_dest is not None:   # closed before atomic_path renames it (ExitStack unwinds in reverse)
            h5 = stack.enter_context(h5py.File(stack.enter_context(atomic_path(hdf5_dest, suffix=".hdf5")), "w"))
        for i in track(range(len(found)), "predict", total=len(found)):
            pending.append(i)
            if len(pending) < batch and i < len(found) - 1:
                continue
            arrays = [load_image(found.paths[k]) for k in pending]
            maps: list = [None] * len(arrays)
            if need_map:
                maps = sal.predict(arrays) if hasattr(sal, "predict") else [sal.saliency_map(a) for a in arrays]
            for k, image, smap in zip(pending, arrays, maps):
                path = found.paths[k]
                ld = _log_density(sal, image, smap, own_density, path) if need_density else None
                got = (smap if smap is not None else ld).shape
                if benchmark and got != image.shape[:2]:
                    raise ModelError(f"the model gave a {got[1]}x{got[0]} map for the {image.shape[1]}x{image.shape[0]} "
                                     f"image {path}; the benchmark formats (jpg, logdensity, hdf5) take maps of the image's size")
                for kind, dest in plan[k]:
                    if kind == "npy":
                        write_npy(dest, np.asarray(smap, dtype=np.float64))
                    elif kind == "logdensity":
                        write_npy(dest, ld)
                    elif kind == "jpg":
                        _write_image(dest, _to_uint8(smap), "JPEG")
                    else:
                        _write_image(dest, overlay(image, smap) if kind == "overlay" else _to_uint8(smap))
                    result.written.append(dest)
                if h5 is not None:
                    h5.create_dataset(str(found.names[k]), data=ld, compression="gzip", compression_opts=4)
            pending = []
    if hdf5_dest is not None:
        result.written.append(hdf5_dest)
    return result


def predict_command(
    images: list[str] = typer.Argument(..., help="Image files, folders of images, or glob patterns (quote them: \"shots/*.jpg\")."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help=out_help("predict")),
    model: str = typer.Option("builtin", "--model", "-m", help="Model spec: builtin (default), a registered name (salscope models), ckpt:PATH (or a .ckpt/.pt path) or FILE.py:FACTORY."),
    fmt: str = typer.Option("png", "--format", help="Comma-separated: png, npy (the map), jpg (MIT benchmark), logdensity "
                            "(<name>.npy log-densities) and hdf5 (predictions.hdf5 of log-densities; Tübingen probabilistic track)."),
    with_overlay: bool = typer.Option(False, "--overlay", help="Also write the map over the image (jet, 50%)."),
    center_prior: Optional[bool] = typer.Option(None, "--center-prior/--no-center-prior", help="Switch the model's centre prior (where it has one)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files (never an input image)."),
    recursive: bool = typer.Option(False, "--recursive", help="Also read the subfolders of folder inputs; outputs keep their folder structure."),
    strict: bool = typer.Option(False, "--strict", help="Refuse inputs that are not image files instead of skipping them."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    amp: bool = typer.Option(False, "--amp", help="bf16 autocast on a CUDA device (faster; maps within 1e-2 of float32)."),
) -> None:
    """Write saliency maps (PNG/NPY/JPG), log-densities (NPY/HDF5) and overlays of images.

    Takes files, folders and globs; skips non-image files with a count (or
    refuses them with --strict); reads images upright (EXIF orientation).
    Refuses, before writing anything, an output that is an input image, an
    existing file (unless --overwrite) or a name two images would share.
    """
    formats = tuple(f.strip() for f in fmt.split(",") if f.strip())
    out = default_out(out, "predict")
    result = predict_files(list(images), out, model, formats, with_overlay, center_prior, overwrite,
                           recursive=recursive, strict=strict, device=str(resolve_device(device)), amp=amp)
    if result.skipped:
        shown = ", ".join(str(p) for p in result.skipped[:3]) + (", …" if len(result.skipped) > 3 else "")
        typer.echo(f"skipped {len(result.skipped)} file(s) that are not images ({shown}); --strict refuses them", err=True)
    typer.echo(f"wrote {len(result.written)} file(s) for {len(result.images)} image(s) to {out}")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
