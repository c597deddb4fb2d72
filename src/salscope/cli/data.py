"""``salscope data list|info|show|fetch``: look at and download eye-tracking data sets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from salscope.cli.options import DATA_DIR_HELP

#: What ``data show --out`` writes (matplotlib formats that need nothing beyond matplotlib).
FIGURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def _root(data_dir: Optional[Path]) -> Path:
    from salscope.settings import data_dir as _data_dir

    return _data_dir(data_dir)


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    data_app = typer.Typer(help="Look at, check and download eye-tracking data sets.", no_args_is_help=True)

    @data_app.command("list")
    def list_cmd(data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """List the known data sets, whether each is present, and the data root with the rule that gave it."""
        from salscope.data.fetch import REMOTE_DATASETS
        from salscope.data.loaders import LOADERS
        from salscope.errors import DataError
        from salscope.settings import DATA_ENV, find_data_root

        try:
            found = find_data_root(data_dir)
            root = found.path
            typer.echo(f"data root      {root} ({found.describe()})")
        except DataError as exc:
            if data_dir is not None or os.environ.get(DATA_ENV):
                raise  # a root that was named but is missing: say so, as every other command does
            root = None
            typer.echo(f"data root      none: {exc}")
        names = sorted(set(LOADERS) | set(REMOTE_DATASETS) | {"osie-regions", "osie-scenes"})
        for name in names:
            present = root is not None and (root / name).is_dir()
            fetch = "fetchable" if name in REMOTE_DATASETS else ""
            where = str(root / name) if present else "not present"
            typer.echo(f"{name:14s} {where:50s} {fetch}")

    @data_app.command("info")
    def info_cmd(name: str = typer.Argument(..., help="Data set name (osie, ...) or folder."),
                 data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Print counts and metadata of a data set (images, fixations, subjects, splits, regions)."""
        import numpy as np

        from salscope.data.loaders import load_dataset
        from salscope.data.splits import DEFAULT_FRACTIONS, split_indices

        ds = load_dataset(name, data_dir)
        f = ds.fixations
        sizes = ds.stimuli.sizes
        uniq = sorted(set(sizes))
        per_image = np.bincount(f.n, minlength=len(ds))
        typer.echo(f"data set      {ds.name}")
        typer.echo(f"images        {len(ds)}")
        typer.echo(f"fixations     {len(f)} (per image: min {per_image.min()}, mean {per_image.mean():.1f}, max {per_image.max()})")
        typer.echo(f"subjects      {f.n_subjects}")
        typer.echo(f"image sizes   {', '.join(f'{w}x{h}' for h, w in uniq[:5])}{' ...' if len(uniq) > 5 else ''} (WxH)")
        if np.isfinite(f.duration).any():
            typer.echo(f"durations     mean {np.nanmean(f.duration):.1f} ms")
        for key in ("ppd", "categories", "reference"):
            if key in ds.meta:
                typer.echo(f"{key:13s} {ds.meta[key]}")
        parts = split_indices(len(ds), 0, tuple(ds.meta.get("split_fractions", DEFAULT_FRACTIONS)))
        typer.echo("splits (seed 0) " + " / ".join(f"{k} {len(v)}" for k, v in parts.items()))
        if name == "osie":
            root = _root(data_dir)
            if (root / "osie-regions").is_dir():
                from salscope.data.regions import load_voc_regions

                regs = load_voc_regions(root / "osie-regions", ds.stimuli)
                typer.echo(f"regions       {len(regs)} images, {sum(len(r) for r in regs.values())} instances")

    @data_app.command("show")
    def show_cmd(name: str = typer.Argument(..., help="Data set name (osie, ...) or folder."),
                 image_id: str = typer.Argument(..., help="Image id (file stem), e.g. 1001."),
                 out: Path = typer.Option(..., "--out", "-o", help="Figure to write: .png, .jpg, .pdf or .svg."),
                 regions: Optional[Path] = typer.Option(None, "--regions", help="Region annotations (VOC folder, "
                                                        "labelme or COCO JSON); default <data dir>/<name>-regions if present."),
                 sigma_deg: float = typer.Option(1.0, "--sigma-deg", help="Density blur in degrees of visual angle."),
                 data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP)) -> None:
        """Draw an image's fixations (and region outlines) and its fixation density into a PNG."""
        import math

        from salscope.data.loaders import load_dataset
        from salscope.data.regions import load_regions
        from salscope.data.viz import show_image
        from salscope.errors import ConfigError
        from salscope.report.figures import save_figure

        if out.suffix.lower() not in FIGURE_SUFFIXES:
            raise ConfigError(f"--out {out}: cannot write a {out.suffix or 'suffix-less'} file; end the name in one of "
                              f"{', '.join(FIGURE_SUFFIXES)} (e.g. {out.with_suffix('.png').name})")
        if not (math.isfinite(sigma_deg) and sigma_deg >= 0):
            raise ConfigError(f"--sigma-deg must be a finite number >= 0 (degrees of visual angle), got {sigma_deg}")
        ds = load_dataset(name, data_dir)
        i = ds.index(image_id)
        reg = None
        source = regions
        if source is None and not Path(name).exists():
            candidate = _root(data_dir) / f"{name}-regions"
            source = candidate if candidate.is_dir() else None
        if source is not None:
            reg = load_regions(source, ds.stimuli).get(ds.ids[i])
        fig = show_image(ds, ds.ids[i], regions=reg, sigma_deg=sigma_deg)
        save_figure(fig, out, formats=[out.suffix], dpi=100)
        typer.echo(f"wrote {out} ({len(ds.fixations.for_image(i))} fixations"
                   + (f", {len(reg)} regions" if reg is not None else "") + ")")

    @data_app.command("fetch")
    def fetch_cmd(name: str = typer.Argument(..., help="Data set to download (osie)."),
                  data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP + " Else <cache>/data ($SALSCOPE_CACHE, ~/.cache/salscope)."),
                  base_url: Optional[str] = typer.Option(None, "--base-url", help="Mirror URL (else SALSCOPE_<NAME>_URL or upstream)."),
                  force: bool = typer.Option(False, "--force", help="Download again even if present.")) -> None:
        """Download a data set (streamed, resumable, sha256-checked, renamed into place when complete)."""
        from salscope.data.fetch import fetch_dataset

        path = fetch_dataset(name, data_dir, base_url=base_url, force=force)
        typer.echo(f"{name} ready at {path}")

    app.add_typer(data_app, name="data")
