"""``salscope evaluate``: score saliency models on a data set split (thin shell over analysis.evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from salscope.cli._output import FIGURE_FORMATS_HELP, TABLE_FORMATS_HELP
from salscope.cli.options import (
    DATA_DIR_HELP,
    LABELS_HELP,
    MAX_IMAGES_HELP,
    SPREAD_IMAGES_HELP,
    check_sample,
    default_out,
    labelled,
    out_help,
    sample_indices,
)
from salscope.devices import DEVICE_HELP, resolve_device
from salscope.metrics.catalogue import DEFAULT_METRICS, METRICS


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""

    @app.command("evaluate")
    def evaluate_cmd(
        models: List[str] = typer.Argument(
            ..., help="Model specs: registered names (center_bias, gbvs, ...; see `salscope models`), ckpt:PATH "
            "(or a .ckpt/.pt path), maps:DIR (maps named by image id: .png/.jpg/.npy/.tif), FILE.py:FACTORY or "
            "inter_observer; LABEL=SPEC names one (two runs' best.ckpt: a=runs/a/... b=runs/b/...)."
        ),
        labels: Optional[str] = typer.Option(None, "--labels", help=LABELS_HELP),
        dataset: str = typer.Option("osie", "--dataset", help="Data set name or folder."),
        split: str = typer.Option("test", "--split", help="train, val, test or all."),
        metrics: str = typer.Option(
            ",".join(DEFAULT_METRICS), "--metrics",
            help="Comma-separated: " + ", ".join(METRICS) + ".",
        ),
        convention: str = typer.Option("tuebingen", "--convention", help="tuebingen (pysaliency) or mit (legacy MATLAB)."),
        average: str = typer.Option("fixation", "--average", help="Average fixation metrics per fixation or per image."),
        baseline: str = typer.Option("center_bias", "--baseline", help="Model that information gain is measured against."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help=out_help("evaluate") + " Holds per_image.csv, summary.json, summary.md, paired.csv, paired.json, figures."),
        examples: int = typer.Option(0, "--examples", help="Save the K best and K worst images of each model as a figure."),
        max_images: Optional[int] = typer.Option(None, "--max-images", help=MAX_IMAGES_HELP),
        spread_images: Optional[int] = typer.Option(None, "--spread-images", help=SPREAD_IMAGES_HELP),
        seed: int = typer.Option(0, "--seed", help="Split seed, seed of random AUC splits and of the bootstrap."),
        n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples over images for the intervals on every mean and every paired difference (0 = none)."),
        strict: bool = typer.Option(False, "--strict", help="Fail on images without fixations instead of skipping them."),
        device: str = typer.Option("auto", "--device", help=DEVICE_HELP + " For deep models; metrics run on the CPU."),
        workers: int = typer.Option(1, "--workers", help="Score images in N processes (same results, in order)."),
        data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        figure_formats: str = typer.Option("png", "--figure-formats", help=FIGURE_FORMATS_HELP),
        table_formats: str = typer.Option("md", "--table-formats", help=TABLE_FORMATS_HELP + " Written as summary.<format> (md with the notes)."),
    ) -> None:
        """Score models on a data set split; write per-image and summary tables and paired statistics.

        Every pair of models is compared image by image: the mean difference with its bootstrap
        interval, a Wilcoxon signed-rank p and its Holm correction over all pairs × metrics
        (paired.csv, paired.json); summary.json gains an interval on every mean (mean_intervals).
        """
        from rich.console import Console

        from salscope.analysis.evaluation import evaluate, write_examples
        from salscope.analysis.evaluation.paired import add_statistics
        from salscope.cli._output import print_table
        from salscope.data import load_dataset
        from salscope.errors import ConfigError
        from salscope.report.figures import figure_formats as using_figure_formats
        from salscope.report.figures import parse_figure_formats
        from salscope.report.tables import parse_table_formats

        check_sample(max_images, spread_images)
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        if examples < 0:
            raise ConfigError(f"--examples must be >= 0, got {examples}")
        if n_boot < 0:
            raise ConfigError(f"--n-boot must be at least 0 (0 = no bootstrap intervals), got {n_boot}")
        specs = labelled(models, labels)
        figures = parse_figure_formats(figure_formats)
        tables = parse_table_formats(table_formats)
        ds = load_dataset(dataset, data_dir)
        if split != "all":
            ds = ds.split(split, seed=seed)
        keep = sample_indices(len(ds), max_images, spread_images)
        if spread_images and keep is not None:
            ds = ds.subset(keep)                  # spread evenly; the first N are evaluate()'s own max_images
        max_images = max_images or None
        out = default_out(out, "evaluate")
        names = [m.strip() for m in metrics.split(",") if m.strip()]
        result = evaluate(
            specs, ds, metrics=names, convention=convention, average=average, baseline=baseline,
            max_images=max_images, skip_empty=not strict, seed=seed, workers=workers, device=str(resolve_device(device)),
        )
        paired = add_statistics(result, n_boot=n_boot, seed=seed)
        paths = {**result.write(out, table_formats=tables), **paired.write(out)}
        print_table(result.rich_table())
        console = Console()
        if console.is_terminal:
            console.print(paired.rich_table())
        else:  # a log or a pipe: full values and the method line, never cut to the width of a table
            typer.echo(paired.to_markdown())
        if result.skipped_images:
            typer.echo(f"skipped {len(result.skipped_images)} image(s) without fixations: {', '.join(result.skipped_images[:10])}")
        if examples:
            with using_figure_formats(figures):
                for p in write_examples(result, specs, ds, out, k=examples):
                    typer.echo(f"wrote {p}")
        for p in paths.values():
            typer.echo(f"wrote {p}")
