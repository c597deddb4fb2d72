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
:func:`salscope.analysis.neuron_report.write_dissect_report`. Model, layer and category
names enter file names only through :func:`salscope.names.slug` (``person head``
→ ``person_head``; a name with ``/``, ``$``, a leading dot … gets a hash
suffix), so every file stays inside ``--out``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

import typer

from salscope.errors import AnalysisError
from salscope.names import slug


def _size(value: Optional[str], option: str) -> Optional[tuple[int, int]]:
    """``WIDTHxHEIGHT`` → ``(height, width)``."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", value)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise AnalysisError(f"{option}: {value!r} is not WIDTHxHEIGHT (e.g. 224x224)")
    return int(m.group(2)), int(m.group(1))


def _label(spec: str, taken: set[str]) -> str:
    base = Path(spec).stem if (Path(spec).suffix or "/" in spec) else spec
    label, k = base, 2
    while label in taken:
        label, k = f"{base}-{k}", k + 1
    taken.add(label)
    return label


def _load_regions(spec: str, stimuli, data_dir: Optional[str]):
    from salscope.data.regions import load_regions  # noqa: PLC0415

    path = Path(spec)
    if not path.exists():
        from salscope.settings import dataset_dir  # noqa: PLC0415

        path = dataset_dir(spec, data_dir)
    return load_regions(path, stimuli)


def dissect_command(
    model: List[str] = typer.Option(..., "--model", help="Backbone name (efficientnet_lite0, vgg16, ...) or checkpoint; repeat to compare set-ups (first = reference)."),
    dataset: str = typer.Option("osie", "--dataset", help="Data set name or folder."),
    regions: str = typer.Option("osie-regions", "--regions", help="Region annotations: a name under the data root or a VOC/labelme/COCO path."),
    layers: str = typer.Option(..., "--layers", help="Comma-separated layer names, e.g. conv4_3,conv5_1,conv5_3."),
    out: str = typer.Option("runs/dissect", "--out", help="Output folder."),
    top_k: int = typer.Option(10, "--top-k", help="Channels averaged per category (paper: 10)."),
    threshold: float = typer.Option(1.5, "--threshold", help="Region-NSS threshold T for counting channels (paper: 1.5)."),
    aggregation: str = typer.Option("instance", "--aggregation", help="Combine a category's instances: instance (mean), fixation (weighted by fixations), image."),
    convention: str = typer.Option("tuebingen", "--convention", help="NSS convention: tuebingen or mit."),
    batch_size: int = typer.Option(8, "--batch-size", help="Images per forward pass."),
    max_images: Optional[int] = typer.Option(None, "--max-images", help="Use only the first N annotated images."),
    input_size: str = typer.Option("224x224", "--input-size", help="Encoder input WIDTHxHEIGHT (paper: 224x224); use the same for models you compare."),
    mask_size: str = typer.Option("112x112", "--mask-size", help="Network Dissection mask resolution WIDTHxHEIGHT."),
    quantile: float = typer.Option(0.005, "--quantile", help="Network Dissection: top fraction of activations that fires (0.005 = top 0.5 %)."),
    iou_threshold: float = typer.Option(0.04, "--iou-threshold", help="Network Dissection: IoU above which a channel detects a category."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Write the heat map, masked activation maps and comparison figures."),
    report: bool = typer.Option(False, "--report/--no-report", help="Also write OUT/report/: an offline HTML report with the neuron browser (every channel, its top regions as thumbnails, its scores in each model; deep links #layer/channel)."),
    figure_categories: str = typer.Option("person head,text", "--figure-categories", help="Categories for the masked activation maps (comma-separated)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Data root (default $SALSCOPE_DATA)."),
    weights: str = typer.Option("imagenet", "--weights", help="Weights for a backbone name: imagenet or none (random)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads."),
) -> None:
    """Which channels respond to which salient-region categories (He et al. 2019; Bau et al. 2017)."""
    import torch  # noqa: PLC0415

    from salscope.analysis.neurons import analyse_neurons, compare_neurons  # noqa: PLC0415
    from salscope.data import load_dataset  # noqa: PLC0415
    from salscope.models.deep import load_encoder  # noqa: PLC0415

    for option, value, least in (("--batch-size", batch_size, 1), ("--threads", threads, 1), ("--max-images", max_images, 1),
                                 ("--top-k", top_k, 1)):
        if value is not None and value < least:
            raise AnalysisError(f"{option} must be at least {least} (or left out for the default), got {value}")
    if threads:
        torch.set_num_threads(threads)
    layer_list = [v.strip() for v in layers.split(",") if v.strip()]
    if not layer_list:
        raise AnalysisError("--layers: give at least one layer name, e.g. --layers conv4_3,conv5_1,conv5_3")
    isize, msize = _size(input_size, "--input-size"), _size(mask_size, "--mask-size")
    taken: set[str] = set()
    # Every model first (a bad checkpoint fails before any image is read), then the data.
    loaded = [(_label(spec, taken), spec, load_encoder(spec, weights=None if weights.lower() == "none" else weights))
              for spec in model]
    ds = load_dataset(dataset, data_dir)
    reg = _load_regions(regions, ds.stimuli, data_dir)
    out_dir = Path(out)
    results, encoders = {}, {}
    for label, spec, enc in loaded:
        res = analyse_neurons(enc, ds, reg, layer_list, name=label, input_size=isize, batch_size=batch_size,
                              max_images=max_images, top_k=top_k, threshold=threshold, aggregation=aggregation,
                              convention=convention, mask_size=msize, quantile=quantile, iou_threshold=iou_threshold)
        res.settings["model_spec"] = str(spec)
        res.settings["regions"] = str(regions)
        res.save(out_dir / slug(label))
        results[label], encoders[label] = res, enc
        if figures:
            _figures(res, enc, ds, out_dir / slug(label), [c.strip() for c in figure_categories.split(",") if c.strip()])
        _print_summary(res)
    cmp = None
    if len(results) > 1:
        cmp = compare_neurons(results)
        cmp.save(out_dir)
        if figures:
            from salscope.analysis.neuron_figures import before_after_bars, channel_before_after  # noqa: PLC0415

            for lay in layer_list:
                before_after_bars(results, lay, out_dir / f"bars_{slug(lay)}.png", metric="count")
                before_after_bars(results, lay, out_dir / f"bars_topk_{slug(lay)}.png", metric="top_k_mean")
            from salscope.analysis.neurons import fig5_channel  # noqa: PLC0415

            pick = fig5_channel(cmp)      # the same rule as the study's Fig. 5
            if pick is not None:
                layer, channel, category = pick
                channel_before_after(encoders, ds, results, layer, channel,
                                     out_dir / f"channel_{slug(layer)}_{channel}.png", category=category)
        _print_comparison(cmp)
    if report:
        from salscope.analysis.neuron_report import write_dissect_report  # noqa: PLC0415

        shown = [out_dir / slug(label) / "counts_heatmap.png" for label in results]
        shown += [p for lay in layer_list for p in (out_dir / f"bars_{slug(lay)}.png", out_dir / f"bars_topk_{slug(lay)}.png")]
        shown += sorted(out_dir.glob("channel_*.png"))
        index = write_dissect_report(results, encoders, ds, reg, out_dir, comparison=cmp, figures=shown,
                                     batch_size=batch_size)
        typer.echo(f"report: {index} (neuron browser: {index.parent / 'neurons.html'})")
    typer.echo(f"wrote {out_dir}")


def _figures(res, enc, ds, folder: Path, categories: list[str]) -> None:
    from salscope.analysis.neuron_figures import count_heatmap, masked_activation_maps  # noqa: PLC0415

    count_heatmap(res, folder / "counts_heatmap.png")
    for cat in categories:
        if cat not in res.categories:
            continue
        for lay in res.layer_names:
            masked_activation_maps(enc, ds, res, lay, cat, folder / f"masked_{slug(lay)}_{slug(cat)}.png",
                                   n_channels=3, n_images=3)


def _print_summary(res) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

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
    Console().print(table)


def _print_comparison(cmp) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"channels whose best category changed (vs {cmp.reference})")
    for col in ("model", "layer", "changed", "compared"):
        table.add_column(col)
    for row in cmp.best_rows:
        table.add_row(row["model"], row["layer"], str(row["changed"]), str(row["compared"]))
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``dissect`` to the ``salscope`` application."""
    app.command("dissect")(dissect_command)
