"""``salscope popout``: generate pop-out search arrays and score models on them."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from salscope.cli.options import (
    LABELS_HELP,
    MAX_IMAGES_HELP,
    MODEL_HELP,
    SPREAD_IMAGES_HELP,
    default_out,
    labelled,
    model_list,
    out_help,
)
from salscope.cli._output import FIGURE_FORMATS_HELP, TABLE_FORMATS_HELP
from salscope.devices import DEVICE_HELP, resolve_device

popout_app = typer.Typer(
    name="popout",
    help="Synthetic odd-one-out search arrays: generate a set, evaluate models (P3 protocol).",
    no_args_is_help=True,
)


@popout_app.command("generate")
def generate(
    out: Optional[Path] = typer.Option(None, "--out", "-o", help=out_help("popout-set") + " Holds PNG, masks, JSON, index.json."),
    preset: str = typer.Option("default", "--preset", help="default (288 images, 384×384) or quick (48, 256×256)."),
    seed: int = typer.Option(0, "--seed", help="Base seed; each image's seed derives from it."),
) -> None:
    """Generate a benchmark set: every dimension × level × set size of the preset."""
    from salscope.data.popout import generate_benchmark, load_popout_set

    out = default_out(out, "popout-set")
    index = generate_benchmark(out, preset=preset, seed=seed)
    typer.echo(f"{len(load_popout_set(out))} search arrays in {out} (index: {index})")


@popout_app.command("evaluate")
def evaluate(
    model: List[str] = typer.Option(..., "--model", "-m", help=MODEL_HELP),
    set_dir: Path = typer.Option(..., "--set", "-s", help="A folder made by `salscope popout generate`."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help=out_help("popout") + " Holds per_image.csv, summary.{json,md}, fig_*.png."),
    labels: Optional[str] = typer.Option(None, "--labels", help=LABELS_HELP),
    max_fixations: int = typer.Option(100, "--max-fixations", help="Cap of the simulated search (P3: 100)."),
    dimensions: Optional[str] = typer.Option(None, "--dimensions", help="Only these dimensions (comma-separated)."),
    max_images: Optional[int] = typer.Option(None, "--max-images", help=MAX_IMAGES_HELP),
    spread_images: Optional[int] = typer.Option(None, "--spread-images", help=SPREAD_IMAGES_HELP + " Keeps every dimension."),
    hit: str = typer.Option(
        "item",
        "--hit",
        help="When a fixation is on the target: item (the nearest item is the target; default), "
        "disc (P3: within a disc around the target centre) or ink (on the target's ink mask).",
    ),
    disc_radius: Optional[float] = typer.Option(
        None, "--disc-radius", help="Radius in px of the --hit disc mask (default: each target's radius, as P3)."
    ),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    figure_formats: str = typer.Option("png", "--figure-formats", help=FIGURE_FORMATS_HELP),
    table_formats: str = typer.Option(
        "md", "--table-formats", help=TABLE_FORMATS_HELP + " md: summary.md; others: overall.<format>, by_dimension.<format>."
    ),
) -> None:
    """Score models on a pop-out set (centre priors off) and write tables and figures."""
    from salscope.analysis.popout.scoring import evaluate_popout, write_popout_results
    from salscope.report.figures import figure_formats as using_figure_formats
    from salscope.report.figures import parse_figure_formats
    from salscope.report.tables import parse_table_formats

    names = labelled(model_list(model), labels)
    dims = [d.strip() for d in dimensions.split(",") if d.strip()] if dimensions else None
    figures, tables = parse_figure_formats(figure_formats), parse_table_formats(table_formats)
    results = evaluate_popout(
        names,
        set_dir,
        max_fixations=max_fixations,
        dimensions=dims,
        max_images=max_images or 0,
        spread_images=spread_images or 0,
        hit=hit,
        disc_radius=disc_radius,
        device=str(resolve_device(device)),
    )
    with using_figure_formats(figures):
        paths = write_popout_results(results, default_out(out, "popout"), table_formats=tables)
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
