"""``salscope compare``: representation change between encoders (CKA, weight change, task vs domain)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from salscope.cli._output import FIGURE_FORMATS_HELP, TABLE_FORMATS_HELP
from salscope.cli.options import (
    DATA_DIR_HELP,
    ENCODER_HELP,
    INPUT_SIZE_HELP,
    LABELS_HELP,
    MAX_IMAGES_HELP,
    SPREAD_IMAGES_HELP,
    check_sample,
    default_out,
    input_size,
    labelled,
    model_list,
    out_help,
    sample_indices,
)
from salscope.devices import DEVICE_HELP, resolve_device
from salscope.errors import ConfigError


def _split_list(value: Optional[str]) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def compare(
    model: List[str] = typer.Option(..., "--model", "-m", help=ENCODER_HELP + " At least two; the first is the reference."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help=out_help("compare") + " Holds comparison.json, CSVs and figures."),
    dataset: str = typer.Option("osie", "--dataset", help="Probe images: a data set name."),
    split: str = typer.Option("test", "--split", help="train, val, test or all."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated layer names (default: all layers of the first model)."),
    labels: Optional[str] = typer.Option(None, "--labels", help=LABELS_HELP),
    roles: Optional[str] = typer.Option(None, "--roles", help="pretrained,saliency,scene[,replicate] labels for the verdict; replicate = set-up II trained with another seed, needed for a decision (default: the order of 3 models)."),
    reduce: str = typer.Option("pool", "--reduce", help="pool (spatial mean per channel, exact CKA) or flatten (minibatch CKA)."),
    biased: bool = typer.Option(False, "--biased", help="Use the biased HSIC estimator (default: debiased)."),
    size: str = typer.Option("224x224", "--input-size", help=INPUT_SIZE_HELP),
    batch_size: int = typer.Option(16, "--batch-size", help="Images per forward pass (and per minibatch with --reduce flatten)."),
    max_images: Optional[int] = typer.Option(None, "--max-images", help=MAX_IMAGES_HELP),
    spread_images: Optional[int] = typer.Option(None, "--spread-images", help=SPREAD_IMAGES_HELP),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples over probe images (0 = none)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and of the data split."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    neurons: Optional[str] = typer.Option(None, "--neurons", help="Comma-separated `salscope dissect` result folders, one per model in --model order: adds the category shift."),
    figure_formats: str = typer.Option("png", "--figure-formats", help=FIGURE_FORMATS_HELP),
    table_formats: str = typer.Option("csv", "--table-formats", help=TABLE_FORMATS_HELP + " csv: every table; others: layer_change and verdict."),
) -> None:
    """Layer × layer CKA of several encoders on the same probe images, weight change, task-vs-domain verdict."""
    from salscope.analysis.representation.compare import add_category_shift, compare_models
    from salscope.analysis.representation.outputs import write_comparison
    from salscope.data.loaders import load_dataset
    from salscope.models.factory import parse_specs
    from salscope.report.figures import figure_formats as using_figure_formats
    from salscope.report.figures import parse_figure_formats
    from salscope.report.tables import parse_table_formats

    for option, value, least in (("--batch-size", batch_size, 1), ("--n-boot", n_boot, 0)):
        if value < least:
            raise ConfigError(f"{option} must be at least {least}, got {value}"
                              + (" (0 = no bootstrap intervals)" if option == "--n-boot" else ""))
    check_sample(max_images, spread_images)
    specs = parse_specs(labelled(model_list(model), labels), role="encoder")
    figures, tables = parse_figure_formats(figure_formats), parse_table_formats(table_formats)
    if len(specs) < 2:
        raise ConfigError("--model needs at least two encoders, e.g. -m vgg16 -m run2/checkpoints/best.ckpt")
    hw = input_size(size)
    ds = load_dataset(dataset, data_dir)
    if split != "all":
        ds = ds.split(split, seed=seed)
    stimuli = ds.stimuli
    keep = sample_indices(len(stimuli), max_images, spread_images)
    if keep is not None:
        stimuli = stimuli.subset(keep)
    result = compare_models({s.label: s for s in specs}, stimuli, _split_list(layers), reduce=reduce,
                            debiased=not biased, size=hw, batch_size=batch_size, roles=_split_list(roles),
                            n_boot=n_boot, seed=seed, device=resolve_device(device))
    out = default_out(out, "compare")
    if neurons:
        add_category_shift(result, _split_list(neurons) or [])
    with using_figure_formats(figures):
        paths = write_comparison(result, out, table_formats=tables)
    ref = result.models[0]
    for label in result.models[1:]:
        diag = result.diagonal(ref, label)
        cells = ", ".join(f"{l} {c:.3f}" for l, c in zip(result.layers, diag))
        typer.echo(f"CKA({ref}, {label}): {cells}")
    for row in result.verdict:
        ci = row.get("saliency_minus_scene_ci")
        extra = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
        typer.echo(
            f"{row['layer']}: 1-CKA(pre,saliency) {row['change_saliency']:.3f}, 1-CKA(pre,scene) {row['change_scene']:.3f}, "
            f"difference {row['saliency_minus_scene']:+.3f}{extra}, CKA(saliency,scene) {row['cka_saliency_scene']:.3f}"
        )
        typer.echo(f"  finding 4: {row['decision']} ({row['decision_reason']})")
    typer.echo(f"{len(result.image_ids)} probe images; results in {paths['json'].parent}")


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the CLI."""
    app.command("compare")(compare)
