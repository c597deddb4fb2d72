"""``salscope dissect --report``: an offline report folder with the neuron browser of the dissected models.

:func:`write_dissect_report` writes ``OUT/browser/`` (the browser's data and
thumbnails, :func:`salscope.analysis.neurons.browser.browser_data`) and
``OUT/report/`` (``index.html`` with each model's per-category summary, the
comparison tables when several models were given, and ``neurons.html``, the
browser; :func:`salscope.report.html.write_report`). The first model is the
reference the others' changes are taken against, as in ``dissect``'s tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from salscope import __version__
from salscope.analysis.neurons.browser import DEFAULT_IMAGES, browser_data, largest_gain
from salscope.analysis.neurons.analysis import NeuronComparison, NeuronResults
from salscope.report.browser import BrowserPage, channel_link
from salscope.report.html import Figure, Link, Section, Table, write_report


def write_dissect_report(results: Mapping[str, NeuronResults], models: Mapping[str, Any], dataset: Any,
                         regions: Mapping[str, Any], out_dir: str | Path, *, comparison: NeuronComparison | None = None,
                         figures: Sequence[Path] = (), n_images: int = DEFAULT_IMAGES, batch_size: int = 8,
                         category: str = "person head") -> Path:
    """Write ``out_dir/browser/`` and ``out_dir/report/``; return the report's ``index.html``.

    With several models, the report links the channel of the deepest layer
    whose ``category`` region NSS rose most from the first model to the second.
    """
    out_dir = Path(out_dir)
    names = list(results)
    labels = {n: n + (" (reference)" if i == 0 and len(names) > 1 else "") for i, n in enumerate(names)}
    browser_data(results, models, dataset, regions, out_dir / "browser", reference=names[0], labels=labels,
                 n_images=n_images, batch_size=batch_size)
    ref = results[names[0]]
    links = [Link("neurons.html", "Neuron browser: every channel, its regions and its scores in each model")]
    if len(names) > 1:
        g = largest_gain(results, names[0], names[1], ref.layer_names[-1], category)
        if g is not None:
            links.append(Link(channel_link(g["layer"], g["channel"]),
                              f"{g['layer']} channel {g['channel']}: the largest {g['category']} gain from {names[0]} "
                              f"to {names[1]} ({g['gain']:+.2f} region NSS)"))
    tables = [Table(f"summary_{i}", f"{name}: per layer and category, instances, top-k mean region NSS, channels above "
                    "T, Network Dissection detectors and the best channels", res.summary_rows())
              for i, name in enumerate(names) for res in [results[name]]]
    if comparison is not None:
        tables += [Table("compare_best", f"Channels whose best category changed (against {comparison.reference})",
                         comparison.best_rows),
                   Table("compare_categories", "Per model, layer and category: channels above T and top-k mean, "
                         "before and after", comparison.category_rows)]
    settings = ref.settings
    text = (f"{settings.get('n_images')} annotated images of {settings.get('dataset') or 'the data set'}, layers "
            f"{', '.join(ref.layer_names)}, top-k = {settings.get('top_k')}, T = {settings.get('threshold')}, "
            f"models: {', '.join(names)}.")
    section = Section("neurons", "Neuron analysis", "", text=text, tables=tables, links=links,
                      figures=[Figure(Path(p), f"figure {Path(p).stem.replace('_', ' ')} of the neuron analysis",
                                      _caption(Path(p))) for p in figures if Path(p).is_file()])
    meta = {"intro": "Region-based NSS (He et al., CVPR 2019) and Network Dissection IoU (Bau et al., CVPR 2017) "
                     f"of every channel, written by salscope dissect {__version__}.",
            "versions": {"salscope": __version__}, "settings": {n: dict(r.settings) for n, r in results.items()}}
    page = BrowserPage.load(out_dir / "browser", title="salscope dissect: neuron browser")
    return write_report(out_dir / "report", title="salscope dissect", sections=[section], meta=meta, browser=page)


def _caption(path: Path) -> str:
    stem = path.stem
    if stem.startswith("counts_heatmap"):
        return f"Channels with region NSS above T per layer and category ({path.parent.name})."
    if stem.startswith("bars_topk_"):
        return f"Top-k mean region NSS per category in {stem[len('bars_topk_'):]}, every model side by side."
    if stem.startswith("bars_"):
        return f"Channels above T per category in {stem[len('bars_'):]}, every model side by side."
    if stem.startswith("channel_"):
        return ("One channel in every model on the same images (the paper's Fig. 5): the one whose person-head "
                "score rose most among the channels that crossed T.")
    return stem.replace("_", " ")
