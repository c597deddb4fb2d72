"""``salscope dissect``: region-based NSS and Network Dissection of an encoder's channels.

A thin shell over :func:`salscope.analysis.neurons.analyse_neurons`. Give
``--model`` several times to compare set-ups over the same images (the first is
the reference): :func:`salscope.analysis.neurons.compare_neurons` then writes
the change tables and before/after figures.

Output folder: ``<model>/`` per model (``results.json``, ``summary.csv``,
``channels_<layer>.csv``, ``layer_<layer>.npz``, figures), and for several
models ``compare_*.csv`` and ``bars_<layer>.png``. ``--report`` adds
``report/`` (``index.html`` and the neuron browser ``neurons.html``, offline)
and ``browser/`` (its data and thumbnails):
:func:`salscope.analysis.neurons.report.write_dissect_report`. Model, layer and category
names enter file names only through :func:`salscope.names.slug` (``person head``
→ ``person_head``; a name with ``/``, ``$``, a leading dot … gets a hash
suffix), so every file stays inside ``--out``.
"""

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
    labelled,
    model_list,
    out_help,
    sample_indices,
)
from salscope.cli.options import input_size as input_size_of
from salscope.devices import DEVICE_HELP, resolve_device
from salscope.errors import AnalysisError
from salscope.names import slug


def _encoders(specs: List[str], weights: str) -> list[tuple[object, object]]:
    """``(ModelSpec, encoder)`` per ``--model``, through the one model factory (labels unique, else an error)."""
    from salscope.models.factory import encoder, parse_specs  # noqa: PLC0415

    w = None if weights.lower() == "none" else weights
    return [(s, encoder(s, weights=w)) for s in parse_specs(specs, role="encoder")]


def _load_regions(spec: str, stimuli, data_dir: Optional[str]):
    from salscope.data.regions import load_regions  # noqa: PLC0415

    path = Path(spec)
    if not path.exists():
        from salscope.settings import dataset_dir  # noqa: PLC0415

        path = dataset_dir(spec, data_dir)
    return load_regions(path, stimuli)


def dissect_command(
    model: List[str] = typer.Option(..., "--model", "-m", help=ENCODER_HELP + " Several compare set-ups (first = reference)."),
    labels: Optional[str] = typer.Option(None, "--labels", help=LABELS_HELP),
    dataset: str = typer.Option("osie", "--dataset", help="Data set name or folder."),
    regions: str = typer.Option("osie-regions", "--regions", help="Region annotations: a name under the data root or a VOC/labelme/COCO path."),
    layers: str = typer.Option(..., "--layers", help="Comma-separated layer names, e.g. conv4_3,conv5_1,conv5_3."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help=out_help("dissect")),
    top_k: int = typer.Option(10, "--top-k", help="Channels averaged per category (paper: 10)."),
    threshold: float = typer.Option(1.5, "--threshold", help="Region-NSS threshold T for counting channels (paper: 1.5)."),
    aggregation: str = typer.Option("instance", "--aggregation", help="Combine a category's instances: instance (mean), fixation (weighted by fixations), image."),
    convention: str = typer.Option("tuebingen", "--convention", help="NSS convention: tuebingen or mit."),
    batch_size: int = typer.Option(8, "--batch-size", help="Images per forward pass."),
    max_images: Optional[int] = typer.Option(None, "--max-images", help=MAX_IMAGES_HELP + " Counts annotated images."),
    spread_images: Optional[int] = typer.Option(None, "--spread-images", help=SPREAD_IMAGES_HELP),
    input_size: str = typer.Option("224x224", "--input-size", help=INPUT_SIZE_HELP + " Paper: 224x224; use the same for models you compare."),
    mask_size: str = typer.Option("112x112", "--mask-size", help="Network Dissection mask resolution WIDTHxHEIGHT."),
    quantile: float = typer.Option(0.005, "--quantile", help="Network Dissection: top fraction of activations that fires (0.005 = top 0.5 %)."),
    iou_threshold: float = typer.Option(0.04, "--iou-threshold", help="Network Dissection: IoU above which a channel detects a category."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write the heat map, masked activation maps and comparison figures."),
    report: bool = typer.Option(False, "--report/--no-report", help="Also write OUT/report/: an offline HTML report with the neuron browser (every channel, its top regions as thumbnails, its scores in each model; deep links #layer/channel)."),
    figure_categories: str = typer.Option("person head,text", "--figure-categories", help="Categories for the masked activation maps (comma-separated)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    weights: str = typer.Option("imagenet", "--weights", help="Weights for a backbone name: imagenet or none (random)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    figure_formats: str = typer.Option("png", "--figure-formats", help=FIGURE_FORMATS_HELP),
    table_formats: str = typer.Option("csv", "--table-formats", help=TABLE_FORMATS_HELP + " csv: every table; others: <model>/summary.<format>."),
) -> None:
    """Which channels respond to which salient-region categories (He et al. 2019; Bau et al. 2017)."""
    import torch  # noqa: PLC0415

    from salscope.analysis.neurons.analysis import analyse_neurons, compare_neurons  # noqa: PLC0415
    from salscope.data import load_dataset  # noqa: PLC0415
    from salscope.report.figures import figure_formats as using_figure_formats  # noqa: PLC0415
    from salscope.report.figures import parse_figure_formats  # noqa: PLC0415
    from salscope.report.tables import parse_table_formats  # noqa: PLC0415

    for option, value, least in (("--batch-size", batch_size, 1), ("--threads", threads, 1), ("--top-k", top_k, 1)):
        if value is not None and value < least:
            raise AnalysisError(f"{option} must be at least {least} (or left out for the default), got {value}")
    figure_fmts, table_fmts = parse_figure_formats(figure_formats), parse_table_formats(table_formats)
    if threads:
        torch.set_num_threads(threads)
    check_sample(max_images, spread_images)
    dev = resolve_device(device)
    layer_list = [v.strip() for v in layers.split(",") if v.strip()]
    if not layer_list:
        raise AnalysisError("--layers: give at least one layer name, e.g. --layers conv4_3,conv5_1,conv5_3")
    isize, msize = input_size_of(input_size), input_size_of(mask_size, "--mask-size")
    if msize is None:
        raise AnalysisError("--mask-size: give WIDTHxHEIGHT (e.g. 112x112)")
    # Every model first (a bad checkpoint fails before any image is read), then the data.
    loaded = _encoders(labelled(model_list(model), labels), weights)
    ds = load_dataset(dataset, data_dir)
    reg = _load_regions(regions, ds.stimuli, data_dir)
    annotated = [i for i, image_id in enumerate(ds.ids) if image_id in reg]
    keep = sample_indices(len(annotated), max_images, spread_images)
    if spread_images and keep is not None:     # N annotated images spread evenly; the first N: max_images below
        ds = ds.subset([annotated[k] for k in keep])
    out_dir = default_out(Path(out) if out else None, "dissect")
    results, encoders = {}, {}
    for spec, enc in loaded:
        label = spec.label
        res = analyse_neurons(enc, ds, reg, layer_list, name=label, input_size=isize, batch_size=batch_size,
                              max_images=max_images or None, top_k=top_k, threshold=threshold, aggregation=aggregation,
                              convention=convention, device=dev, mask_size=msize, quantile=quantile, iou_threshold=iou_threshold)
        enc.cpu()      # the figures below run a few images on the CPU
        res.settings["model_spec"] = spec.text
        res.settings["kind"] = spec.kind
        res.settings["regions"] = str(regions)
        res.save(out_dir / slug(label), table_formats=table_fmts)
        results[label], encoders[label] = res, enc
        if figures:
            with using_figure_formats(figure_fmts):
                _figures(res, enc, ds, out_dir / slug(label), [c.strip() for c in figure_categories.split(",") if c.strip()])
        _print_summary(res)
    cmp = None
    if len(results) > 1:
        cmp = compare_neurons(results)
        cmp.save(out_dir)
        if figures:
            from salscope.analysis.neurons.figures import (  # noqa: PLC0415
                before_after_bars,
                channel_before_after,
            )
            from salscope.analysis.neurons.analysis import fig5_channel  # noqa: PLC0415

            with using_figure_formats(figure_fmts):
                for lay in layer_list:
                    before_after_bars(results, lay, out_dir / f"bars_{slug(lay)}.png", metric="count")
                    before_after_bars(results, lay, out_dir / f"bars_topk_{slug(lay)}.png", metric="top_k_mean")
                pick = fig5_channel(cmp)      # the same rule as the study's Fig. 5
                if pick is not None:
                    layer, channel, category = pick
                    channel_before_after(encoders, ds, results, layer, channel,
                                         out_dir / f"channel_{slug(layer)}_{channel}.png", category=category)
        _print_comparison(cmp)
    if report:
        from salscope.analysis.neurons.report import write_dissect_report  # noqa: PLC0415

        shown = [out_dir / slug(label) / "counts_heatmap.png" for label in results]
        shown += [p for lay in layer_list for p in (out_dir / f"bars_{slug(lay)}.png", out_dir / f"bars_topk_{slug(lay)}.png")]
        shown += sorted(out_dir.glob("channel_*.png"))
        index = write_dissect_report(results, encoders, ds, reg, out_dir, comparison=cmp, figures=shown,
                                     batch_size=batch_size)
        typer.echo(f"report: {index} (neuron browser: {index.parent / 'neurons.html'})")
    typer.echo(f"wrote {out_dir}")


def _figures(res, enc, ds, folder: Path, categories: list[str]) -> None:
    from salscope.analysis.neurons.figures import count_heatmap, masked_activation_maps  # noqa: PLC0415

    count_heatmap(res, folder / "counts_heatmap.png")
    for cat in categories:
        if cat not in res.categories:
            continue
        for lay in res.layer_names:
            masked_activation_maps(enc, ds, res, lay, cat, folder / f"masked_{slug(lay)}_{slug(cat)}.png",
                                   n_channels=3, n_images=3)


def _print_summary(res) -> None:
    from rich.table import Table  # noqa: PLC0415

    from salscope.cli._output import print_table  # noqa: PLC0415

    t = res.settings.get("threshold", 1.5)
    k = res.settings.get("top_k", 10)
    table = Table(title=f"{res.model}: channels with region NSS > {t} / top-{k} mean")
    table.add_column("category")
    table.add_column("regions", justify="right")
    summaries = {lay: res.category_scores(lay) for lay in res.layer_names}
    for lay in res.layer_names:
        ln = res.layer(lay)
        table.add_column(f"{lay} ({int(ln.fires.sum())}/{ln.channels} fire)", justify="right")
    for j, cat in enumerate(res.categories):
        first = summaries[res.layer_names[0]]
        cells = [f"{int(cs.count[j])} / {cs.top_k_mean[j]:.2f}" if cs.n_instances[j] else "-" for cs in summaries.values()]
        table.add_row(cat, str(int(first.n_instances[j])), *cells)
    print_table(table)


def _print_comparison(cmp) -> None:
    from rich.table import Table  # noqa: PLC0415

    from salscope.cli._output import print_table  # noqa: PLC0415

    table = Table(title=f"channels whose best category changed (vs {cmp.reference})")
    for col in ("model", "layer", "changed", "compared"):
        table.add_column(col)
    for row in cmp.best_rows:
        table.add_row(row["model"], row["layer"], str(row["changed"]), str(row["compared"]))
    print_table(table)


def register(app: typer.Typer) -> None:
    """Add ``dissect`` to the ``salscope`` application."""
    app.command("dissect")(dissect_command)
