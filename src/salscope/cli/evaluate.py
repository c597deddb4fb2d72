"""``salscope evaluate``: score saliency models on a data set split (thin shell over analysis.evaluation)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from salscope.cli._output import FIGURE_FORMATS_HELP, TABLE_FORMATS_HELP


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to ``app``."""

    @app.command("evaluate")
    def evaluate_cmd(
        models: List[str] = typer.Argument(
            ..., help="Models: registry names (center_bias, gbvs, ...), checkpoints (.ckpt/.pt), folders of maps "
            "named by image id (.png/.jpg/.npy), or inter_observer."
        ),
        dataset: str = typer.Option("osie", "--dataset", help="Data set name or folder."),
        split: str = typer.Option("test", "--split", help="train, val, test or all."),
        metrics: str = typer.Option(
            "auc,sauc,auc_judd,nss,cc,kld,sim,ig", "--metrics",
            help="Comma-separated: auc, sauc, auc_judd, auc_borji, nss, cc, kld, sim, ig, emd.",
        ),
        convention: str = typer.Option("tuebingen", "--convention", help="tuebingen (pysaliency) or mit (legacy MATLAB)."),
        average: str = typer.Option("fixation", "--average", help="Average fixation metrics per fixation or per image."),
        baseline: str = typer.Option("center_bias", "--baseline", help="Model that information gain is measured against."),
        out: Path = typer.Option(..., "--out", "-o", help="Folder for per_image.csv, summary.json, summary.md, figures."),
        examples: int = typer.Option(0, "--examples", help="Save the K best and K worst images of each model as a figure."),
        max_images: Optional[int] = typer.Option(None, "--max-images", help="Score only the first N images of the split."),
        seed: int = typer.Option(0, "--seed", help="Split seed and seed of random AUC splits."),
        strict: bool = typer.Option(False, "--strict", help="Fail on images without fixations instead of skipping them."),
        workers: int = typer.Option(1, "--workers", help="Score images in N processes (same results, in order)."),
        data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder holding one sub-folder per data set (default: $SALSCOPE_DATA)."),
        figure_formats: str = typer.Option("png", "--figure-formats", help=FIGURE_FORMATS_HELP),
        table_formats: str = typer.Option("md", "--table-formats", help=TABLE_FORMATS_HELP + " Written as summary.<format> (md with the notes)."),
    ) -> None:
        """Score models on a data set split and write per-image and summary tables."""
        from salscope.analysis.evaluation import evaluate, write_examples
        from salscope.cli._output import print_table
        from salscope.data import load_dataset
        from salscope.errors import ConfigError
        from salscope.report.figures import figure_formats as using_figure_formats
        from salscope.report.figures import parse_figure_formats
        from salscope.report.tables import parse_table_formats

        if max_images is not None and max_images < 1:
            raise ConfigError(f"--max-images must be at least 1, got {max_images}")
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        if examples < 0:
            raise ConfigError(f"--examples must be >= 0, got {examples}")
        figures = parse_figure_formats(figure_formats)
        tables = parse_table_formats(table_formats)
        ds = load_dataset(dataset, data_dir)
        if split != "all":
            ds = ds.split(split, seed=seed)
        names = [m.strip() for m in metrics.split(",") if m.strip()]
        result = evaluate(
            models, ds, metrics=names, convention=convention, average=average, baseline=baseline,
            max_images=max_images, skip_empty=not strict, seed=seed, workers=workers,
        )
        paths = result.write(out, table_formats=tables)
        print_table(result.rich_table())
        if result.skipped_images:
            typer.echo(f"skipped {len(result.skipped_images)} image(s) without fixations: {', '.join(result.skipped_images[:10])}")
        if examples:
            with using_figure_formats(figures):
                for p in write_examples(result, models, ds, out, k=examples):
                    typer.echo(f"wrote {p}")
        for p in paths.values():
            typer.echo(f"wrote {p}")
