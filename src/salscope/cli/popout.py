"""``salscope popout``: generate pop-out search arrays and score models on them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from salscope.cli._output import FIGURE_FORMATS_HELP, TABLE_FORMATS_HELP
from salscope.errors import ConfigError

popout_app = typer.Typer(
    name="popout",
    help="Synthetic odd-one-out search arrays: generate a set, evaluate models (P3 protocol).",
    no_args_is_help=True,
)


@popout_app.command("generate")
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the set (PNG, masks, JSON, index.json)."),
    preset: str = typer.Option("default", "--preset", help="default (288 images, 384×384) or quick (48, 256×256)."),
    seed: int = typer.Option(0, "--seed", help="Base seed; each image's seed derives from it."),
) -> None:
    """Generate a benchmark set: every dimension × level × set size of the preset."""
    from salscope.data.popout import generate_benchmark, load_popout_set

    index = generate_benchmark(out, preset=preset, seed=seed)
    typer.echo(f"{len(load_popout_set(out))} search arrays in {out} (index: {index})")


@popout_app.command("evaluate")
def evaluate(
    models: str = typer.Option(..., "--models", "-m", help="Comma-separated model names or checkpoint paths."),
    set_dir: Path = typer.Option(..., "--set", "-s", help="A folder made by `salscope popout generate`."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for per_image.csv, summary.{json,md}, fig_*.png."),
    max_fixations: int = typer.Option(100, "--max-fixations", help="Cap of the simulated search (P3: 100)."),
    dimensions: Optional[str] = typer.Option(None, "--dimensions", help="Only these dimensions (comma-separated)."),
    max_images: int = typer.Option(0, "--max-images", help="Evaluate at most this many images, spread evenly (0 = all)."),
    hit: str = typer.Option(
        "item",
        "--hit",
        help="When a fixation is on the target: item (the nearest item is the target; default), "
        "disc (P3: within a disc around the target centre) or ink (on the target's ink mask).",
    ),
    disc_radius: Optional[float] = typer.Option(
        None, "--disc-radius", help="Radius in px of the --hit disc mask (default: each target's radius, as P3)."
    ),
    figure_formats: str = typer.Option("png", "--figure-formats", help=FIGURE_FORMATS_HELP),
    table_formats: str = typer.Option(
        "md", "--table-formats", help=TABLE_FORMATS_HELP + " md: summary.md; others: overall.<format>, by_dimension.<format>."
    ),
) -> None:
    """Score models on a pop-out set (centre priors off) and write tables and figures."""
    from salscope.analysis.popout import evaluate_popout, write_popout_results
    from salscope.report.figures import figure_formats as using_figure_formats
    from salscope.report.figures import parse_figure_formats
    from salscope.report.tables import parse_table_formats

    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise ConfigError("--models is empty: give comma-separated model names, e.g. --models spectral_residual,gbvs")
    dims = [d.strip() for d in dimensions.split(",") if d.strip()] if dimensions else None
    figures, tables = parse_figure_formats(figure_formats), parse_table_formats(table_formats)
    results = evaluate_popout(
        names,
        set_dir,
        max_fixations=max_fixations,
        dimensions=dims,
        max_images=max_images,
        hit=hit,
        disc_radius=disc_radius,
    )
    with using_figure_formats(figures):
        paths = write_popout_results(results, out, table_formats=tables)
    typer.echo(f"hit rule: {results.hit}")
    for row in results.overall():
        if row["n_images"] == 0:
            typer.echo(f"{row['model']}: found – of feature targets (none evaluated)")
            continue
        conj = row["conjunction_fraction_first"]
        typer.echo(
            f"{row['model']}: found {row['fraction_found']:.2f} of feature targets, "
            f"{row['fraction_first']:.2f} by the first fixation, mean target rank {row['mean_target_rank']:.1f}"
            + ("" if conj is None else f"; {conj:.2f} of conjunction targets by the first fixation")
        )
    typer.echo(f"tables: {paths['summary_md']}")
    for key, path in paths.items():
        if key.startswith(("overall_", "by_dimension_")):
            typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add ``popout generate|evaluate`` to the CLI."""
    app.add_typer(popout_app, name="popout")
