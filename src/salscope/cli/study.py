"""``salscope study``: the paper's whole study end to end, resumable, with an HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from salscope.cli.options import DATA_DIR_HELP
from salscope.devices import DEVICE_HELP, check_device
from salscope.errors import ConfigError


def _split(value: Optional[str]) -> Optional[list[str]]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def study(
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Study config (TOML); keys override the preset."),
    quick: bool = typer.Option(False, "--quick", help="Preset: a smoke run in minutes (efficientnet_lite0, few epochs, subsets); too small for the verdicts to be trusted."),
    standard: bool = typer.Option(False, "--standard", help="Preset: a study whose verdicts mean something on a 2-core CPU (whole OSIE train split less the annotated images, early stopping, all 150 annotated images, whole test split)."),
    paper: bool = typer.Option(False, "--paper", help="Preset: the paper's VGG-16 set-up (needs ImageNet VGG-16 weights, ideally a GPU)."),
    out: Path = typer.Option(Path("runs/study"), "--out", "-o", help="Study folder (stages cache + report/)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    only: Optional[str] = typer.Option(None, "--only", help="Run only these stages (comma-separated); others must be cached."),
    force: Optional[str] = typer.Option(None, "--force", help="Re-run these stages even if cached (comma-separated)."),
    show_config: bool = typer.Option(False, "--show-config", help="Print the resolved config as TOML and exit."),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP + " Overrides [run] device; every stage uses it."),
    figure_formats: Optional[str] = typer.Option(None, "--figure-formats", help="Figure files the report carries: png plus any of pdf, svg (sets [report] figure_formats; default png,pdf,svg)."),
    table_formats: Optional[str] = typer.Option(None, "--table-formats", help="Files of each report table: csv, json, md, tex (sets [report] table_formats; default csv,json,md,tex)."),
) -> None:
    """Run the paper's study: train set-ups I/II/II′/III (none on the region-annotated images), evaluate deep vs
    classical on natural images and pop-out arrays, neuron analysis with permutation nulls and random-init
    references, representation comparison against a same-task replicate, then write OUT/report/index.html with
    each finding's verdict and the evidence behind it.

    Each stage is cached under OUT/stages/<stage>-<hash of its config>; a killed run resumes at the stage it was in.
    The run's resolved config is saved as OUT/study-config.toml; the --config file itself is never written.
    """
    from salscope.study.config import apply_report_formats, dump_toml, load_config
    from salscope.study.pipeline import run_study

    chosen = [name for name, on in (("quick", quick), ("standard", standard), ("paper", paper)) if on]
    if len(chosen) > 1:
        raise ConfigError(f"--{' and --'.join(chosen)} exclude each other; choose one preset")
    preset = chosen[0] if chosen else None
    cfg = load_config(config, preset)
    if device is not None:
        cfg.run.device = check_device(device)
    if figure_formats is not None or table_formats is not None:
        cfg = apply_report_formats(cfg, figure_formats, table_formats)
    if show_config:
        typer.echo(dump_toml(cfg))
        return
    _never_rewrite(config, out, cfg)
    index = run_study(cfg, out, data_dir=data_dir, only=_split(only), force=_split(force))
    typer.echo(f"report: {index}")


def _never_rewrite(config: Optional[Path], out: Path, cfg) -> None:
    """Refuse a --config that is the OUT/study-config.toml this run would change (it is the user's input now)."""
    from salscope.study.runner import RESOLVED_CONFIG, resolved_config_text  # noqa: PLC0415

    dest = out / RESOLVED_CONFIG
    if config is None or not dest.is_file() or not dest.samefile(config):
        return
    if dest.read_bytes() != resolved_config_text(cfg).encode("utf-8"):
        raise ConfigError(f"--config {config} is the file where this study saves its resolved config, and this run "
                          f"would rewrite it; copy it under another name and pass the copy with --config")


def register(app: typer.Typer) -> None:
    """Add ``study`` to the CLI."""
    app.command("study")(study)
