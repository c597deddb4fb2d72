"""The neuron analysis of He et al.: which channels respond to which salient-region categories, and how that changes.

:func:`analyse_neurons` runs one encoder over the annotated images once
(:func:`salscope.analysis.neurons.capture.run_capture`) and returns
:class:`NeuronResults`: per layer the region-NSS table (region × channel), the
per-category summary (top-k mean, count above T, ranked channels) and the
Network Dissection IoU. :func:`compare_neurons` compares several encoders
(pretrained, set-up II, set-up III) over the same images: per layer and
category the change of counts and top-k scores, the channels that gained or
lost a category, and per layer the number of channels whose best category
changed (the paper's conv5_3 channel 288 story).

A channel is *scored* when it varies over the data set (its dataset-wide
maximum is above its minimum); constant channels are skipped (NaN scores,
never counted or ranked). The sign does not matter: block outputs of
EfficientNet-Lite or ResNet are linear (projection conv + BN + residual), and a
channel that is negative everywhere but least negative on heads is a head
detector. A ReLU channel that never fires is constant at 0 and so skipped by
the same rule. ``LayerNeurons.fires`` keeps its historical name for this mask.
Several encoders are compared over the channels scored in all of them.

References
----------
He, S., Tavakoli, H. R., Borji, A., Mi, Y., Pugeault, N. "Understanding and
Visualizing Deep Visual Saliency Models", CVPR 2019, Sec. 4–5, Figs. 3–5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from salscope.analysis.neurons.capture import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_MASK_SIZE,
    NeuronCapture,
    run_capture,
)
from salscope.analysis.neurons.dissection import (
    DEFAULT_IOU_THRESHOLD,
    DEFAULT_QUANTILE,
    DissectionResult,
)
from salscope.analysis.neurons.region_nss import (
    DEFAULT_THRESHOLD,
    DEFAULT_TOP_K,
    CategoryScores,
    aggregate_categories,
)
from salscope.analysis.tabular import TabularResult
from salscope.errors import AnalysisError
from salscope.io import finite_or_none as _num
from salscope.models.factory import encoder, parse_spec
from salscope.report.tables import columns_of

RESULTS_SCHEMA = 1
SUMMARY_COLUMNS = ("layer", "category", "n_instances", "top_k_mean", "count_above_t", "iou_detectors", "best_iou",
                   "best_channels")
CHANNEL_COLUMNS = ("layer", "category", "rank", "channel", "score", "iou")
CHANGE_COLUMNS = ("model", "layer", "channel", "category", "change", "score_before", "score_after", "best_before",
                  "best_after")


@dataclass
class LayerNeurons:
    """One layer's results: region scores ``(R, C)``, firing mask, activation range, IoU."""

    layer: str
    region_scores: np.ndarray
    fires: np.ndarray
    act_min: np.ndarray
    act_max: np.ndarray
    dissection: DissectionResult | None
    flat_maps: int = 0

    @property
    def channels(self) -> int:
        return int(self.fires.size)


@dataclass(repr=False)
class NeuronResults(TabularResult):
    """Neuron-analysis results of one encoder over one set of annotated images.

    Tables (:class:`~salscope.analysis.tabular.TabularResult`): ``summary``
    (:meth:`summary_rows`: one row per layer and category) and ``channels``
    (every scored channel ranked per layer and category, as ``channels_<layer>.csv``).
    """

    model: str
    categories: list[str]
    regions: list[dict[str, Any]]
    layers: dict[str, LayerNeurons]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    def layer(self, name: str) -> LayerNeurons:
        if name not in self.layers:
            raise AnalysisError(f"layer '{name}' was not analysed; analysed layers: {', '.join(self.layers)}")
        return self.layers[name]

    def category_scores(self, layer: str, *, aggregation: str | None = None, top_k: int | None = None,
                        threshold: float | None = None, channels: np.ndarray | None = None) -> CategoryScores:
        """Per-category summary of ``layer`` (defaults from :attr:`settings`).

        ``channels``: bool mask of the channels to score (default: the scored
        channels of this layer); :func:`compare_neurons` passes the channels
        scored in every compared model, so counts and top-k means are taken over
        the same channels before and after fine-tuning.
        """
        ln = self.layer(layer)
        mask = ln.fires if channels is None else (ln.fires & np.asarray(channels, dtype=bool))
        return aggregate_categories(
            ln.region_scores, [r["category"] for r in self.regions], self.categories, fires=mask,
            n_fixations=np.asarray([r["n_fixations"] for r in self.regions]),
            region_image=[r["image_id"] for r in self.regions],
            aggregation=aggregation or self.settings.get("aggregation", "instance"),
            top_k=top_k or int(self.settings.get("top_k", DEFAULT_TOP_K)),
            threshold=float(self.settings.get("threshold", DEFAULT_THRESHOLD) if threshold is None else threshold),
        )

    def iou_detectors(self, layer: str, iou_threshold: float | None = None) -> np.ndarray:
        """Bool ``(C, K)`` Network Dissection detectors of ``layer`` (skipped channels never detect)."""
        ln = self.layer(layer)
        if ln.dissection is None:
            raise AnalysisError("this analysis was run without Network Dissection (dissection=False)")
        t = float(self.settings.get("iou_threshold", DEFAULT_IOU_THRESHOLD) if iou_threshold is None else iou_threshold)
        return ln.dissection.detectors(t) & ln.fires[:, None]

    def _tables(self) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
        return {"summary": (list(SUMMARY_COLUMNS), self.summary_rows()),
                "channels": lambda: (list(CHANNEL_COLUMNS), [r for layer in self.layers for r in self.channel_rows(layer)])}

    def channel_rows(self, layer: str) -> list[dict[str, Any]]:
        """Every scored channel of ``layer`` per category, best first: layer, category, rank, channel, score, iou."""
        ln, cs = self.layer(layer), self.category_scores(layer)
        rows = []
        for k, cat in enumerate(self.categories):
            for rank, c in enumerate(cs.ranking[k]):
                if not np.isfinite(cs.scores[k, c]):
                    break
                rows.append({"layer": layer, "category": cat, "rank": rank + 1, "channel": int(c),
                             "score": _num(cs.scores[k, c]),
                             "iou": None if ln.dissection is None else _num(ln.dissection.iou[c, k])})
        return rows

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per (layer, category): instances, top-k mean, count above T, IoU detectors, best channels."""
        rows = []
        for layer, ln in self.layers.items():
            cs = self.category_scores(layer)
            det = self.iou_detectors(layer) if ln.dissection is not None else None
            for k, cat in enumerate(self.categories):
                best = [int(c) for c in cs.ranking[k, :3] if np.isfinite(cs.scores[k, c])]
                rows.append({
                    "layer": layer, "category": cat, "n_instances": int(cs.n_instances[k]),
                    "top_k_mean": _num(cs.top_k_mean[k]), "count_above_t": int(cs.count[k]),
                    "iou_detectors": None if det is None else int(det[:, k].sum()),
                    "best_iou": None if ln.dissection is None else _num(np.max(np.where(ln.fires, ln.dissection.iou[:, k], 0))),
                    "best_channels": " ".join(map(str, best)),
                })
        return rows

    # -- files ----------------------------------------------------------------------------------------
    def save(self, folder: str | Path, table_formats: Sequence[str] = ("csv",)) -> Path:
        """Write ``results.json`` (settings, regions, per-category tables), ``summary.csv`` and per-layer ``.npz``.

        ``table_formats`` other than ``csv`` (``md``, ``tex``, ``json``) also
        write the summary table as ``summary.<format>``.
        """
        from salscope.io import write_csv, write_json, write_npz  # noqa: PLC0415

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        layers_meta = {}
        for layer, ln in self.layers.items():
            arrays = {"region_scores": ln.region_scores, "fires": ln.fires, "act_min": ln.act_min, "act_max": ln.act_max}
            if ln.dissection is not None:
                d = ln.dissection
                arrays.update(iou=d.iou, iou_threshold=d.threshold, intersection=d.intersection, union=d.union,
                              mask_area=d.mask_area, iou_exact=d.exact)
            write_npz(folder / f"layer_{layer}.npz", **arrays)
            cs = self.category_scores(layer)
            layers_meta[layer] = {
                "channels": ln.channels, "firing": int(ln.fires.sum()), "flat_maps": ln.flat_maps,
                "top_k_mean": [_num(v) for v in cs.top_k_mean], "count_above_t": cs.count.tolist(),
                "ranking": [[int(c) for c in cs.ranking[k] if np.isfinite(cs.scores[k, c])][:50]
                            for k in range(len(self.categories))],
            }
            write_csv(folder / f"channels_{layer}.csv", self.channel_rows(layer), fieldnames=list(CHANNEL_COLUMNS))
        write_json(folder / "results.json", {
            "kind": "salscope.neurons", "results_schema": RESULTS_SCHEMA, "model": self.model,
            "categories": self.categories, "settings": self.settings, "layers": layers_meta, "regions": self.regions,
        })
        write_csv(folder / "summary.csv", self.summary_rows())
        extra = [f for f in table_formats if f != "csv"]
        if extra:
            self.write_tables(folder / "summary", extra, table="summary",
                              caption=f"{self.model}: region NSS per layer and category")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "NeuronResults":
        """Read what :meth:`save` wrote."""
        folder = Path(folder)
        path = folder / "results.json"
        if not path.is_file():
            raise AnalysisError(f"{path} not found; point at a folder written by `salscope dissect` or NeuronResults.save")
        meta = json.loads(path.read_text())
        if meta.get("kind") != "salscope.neurons":
            raise AnalysisError(f"{path} is not a neuron-analysis result (kind={meta.get('kind')!r})")
        layers = {}
        for layer in meta["layers"]:
            with np.load(folder / f"layer_{layer}.npz") as z:
                d = None
                if "iou" in z:
                    d = DissectionResult(z["iou"], z["iou_threshold"], z["intersection"], z["union"], z["mask_area"],
                                         z["iou_exact"] if "iou_exact" in z else None)
                layers[layer] = LayerNeurons(layer, z["region_scores"], z["fires"].astype(bool), z["act_min"],
                                             z["act_max"], d, int(meta["layers"][layer].get("flat_maps", 0)))
        return cls(meta["model"], list(meta["categories"]), list(meta["regions"]), layers, dict(meta["settings"]))


def results_from_capture(cap: NeuronCapture, model_name: str, settings: Mapping[str, Any] | None = None) -> NeuronResults:
    """Turn a finished :class:`NeuronCapture` into :class:`NeuronResults` (skipping channels constant over the data set)."""
    layers = {}
    for layer in cap.layers:
        mm = cap.minmax[layer]
        lo, hi = mm.min.numpy(), mm.max.numpy()
        fires = hi > lo   # any variance over the data set; signed (linear) channels count too
        scores = cap.region_scores(layer).copy()
        scores[:, ~fires] = np.nan
        if layer in cap.exact:
            diss = cap.exact[layer]       # all maps fitted in memory: exact two-pass thresholds and IoU
        else:
            diss = cap.dissect[layer].result() if cap.dissect is not None else None
        layers[layer] = LayerNeurons(layer, scores, fires, lo, hi, diss, cap.flat_maps[layer])
    return NeuronResults(model_name, list(cap.categories), list(cap.regions), layers, dict(settings or {}))


def analyse_neurons(model: Any, dataset: Any, regions: Mapping[str, Any], layers: Sequence[str], *,
                    name: str | None = None, categories: Sequence[str] | None = None,
                    input_size: Sequence[int] | None = DEFAULT_INPUT_SIZE, batch_size: int = 8,
                    max_images: int | None = None, top_k: int = DEFAULT_TOP_K, threshold: float = DEFAULT_THRESHOLD,
                    aggregation: str = "instance", convention: str = "tuebingen",
                    mask_size: tuple[int, int] = DEFAULT_MASK_SIZE, quantile: float = DEFAULT_QUANTILE,
                    iou_threshold: float = DEFAULT_IOU_THRESHOLD, bins: int = 256, dissection: bool = True,
                    device: Any = None) -> NeuronResults:
    """Region-based NSS and Network Dissection of ``layers`` of ``model`` over the annotated images.

    ``model``: a :class:`~salscope.models.backbones.Backbone`, any ``nn.Module``
    (layers are then module paths), or a spec for
    :func:`salscope.models.factory.encoder` (backbone name, ``ckpt:PATH``, ``FILE.py:FACTORY`` …).
    One forward pass per image; see :mod:`salscope.analysis.neurons.region_nss` and
    :mod:`salscope.analysis.neurons.dissection` for the two scores.

    References
    ----------
    He et al., CVPR 2019 (k = 10, T = 1.5); Bau et al., CVPR 2017 (top 0.5 %, IoU > 0.04).
    """
    if isinstance(model, (str, Path)):
        spec = parse_spec(model, role="encoder")
        name = name or spec.label
        model = encoder(spec)
    if top_k < 1:
        raise AnalysisError(f"top_k={top_k}: use a positive number of channels")
    from salscope.analysis.neurons.region_nss import AGGREGATIONS  # noqa: PLC0415

    if aggregation not in AGGREGATIONS:
        raise AnalysisError(f"aggregation={aggregation!r}: use one of {', '.join(AGGREGATIONS)}")
    cap = run_capture(model, dataset, regions, layers, categories=categories, input_size=input_size,
                      batch_size=batch_size, max_images=max_images, convention=convention, mask_size=mask_size,
                      bins=bins, dissection=dissection, quantile=quantile, device=device,
                      description=f"neurons {name or getattr(model, 'name', type(model).__name__)}")
    settings = {"dataset": getattr(dataset, "name", ""), "layers": list(layers), "top_k": int(top_k),
                "threshold": float(threshold), "aggregation": aggregation, "convention": convention,
                "input_size": None if input_size is None else [int(v) for v in input_size],
                "mask_size": [int(v) for v in mask_size], "quantile": float(quantile),
                "iou_threshold": float(iou_threshold), "bins": int(bins), "n_images": len(cap.image_ids),
                "recounted_layers": list(cap.refined), "dissection_exact": sorted(cap.exact)}
    return results_from_capture(cap, name or getattr(model, "name", type(model).__name__), settings)


# ---------------------------------------------------------------------------------------------------------------
# Comparing set-ups
# ---------------------------------------------------------------------------------------------------------------

@dataclass(repr=False)
class NeuronComparison(TabularResult):
    """Changes from a reference encoder to each other encoder, over the same images.

    ``categories`` rows: one per (model, layer, category) with counts and top-k
    means before/after; ``changes``: per (model, layer, channel, category) that
    crossed T (``gained``/``lost``); ``best``: per (model, layer) the number of
    channels whose best category changed; ``best_category``: ``{model: {layer: (C,) int}}``
    (-1 for skipped channels). Tables: ``categories``, ``changes`` and ``best``
    (:class:`~salscope.analysis.tabular.TabularResult`).
    """

    reference: str
    models: list[str]
    categories: list[str]
    category_rows: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    best_rows: list[dict[str, Any]]
    best_category: dict[str, dict[str, np.ndarray]]

    def _tables(self) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
        return {"categories": (columns_of(self.category_rows), self.category_rows),
                "changes": (list(CHANGE_COLUMNS), self.changes),
                "best": (columns_of(self.best_rows), self.best_rows)}

    def changed_best(self, model: str, layer: str) -> int:
        """How many channels of ``layer`` changed their best category from the reference to ``model``."""
        for row in self.best_rows:
            if row["model"] == model and row["layer"] == layer:
                return int(row["changed"])
        raise AnalysisError(f"no comparison for model {model!r}, layer {layer!r}; models: {self.models}")

    def save(self, folder: str | Path) -> Path:
        from salscope.io import write_csv, write_json  # noqa: PLC0415

        folder = Path(folder)
        write_csv(folder / "compare_categories.csv", self.category_rows)
        write_csv(folder / "compare_channel_changes.csv", self.changes, fieldnames=list(CHANGE_COLUMNS))
        write_csv(folder / "compare_best_category.csv", self.best_rows)
        write_json(folder / "compare.json", {"kind": "salscope.neurons.compare", "reference": self.reference,
                                             "models": self.models, "categories": self.categories,
                                             "best": self.best_rows})
        return folder


def best_categories(scores: np.ndarray, fires: np.ndarray) -> np.ndarray:
    """Best category per channel (argmax over the ``(K, C)`` category scores); -1 when skipped or unscored."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    best = np.argmax(s, axis=0)
    ok = fires & np.isfinite(s).any(0)
    return np.where(ok, best, -1)


def compare_neurons(results: Mapping[str, NeuronResults] | Sequence[NeuronResults], reference: str | int = 0, *,
                    aggregation: str | None = None, top_k: int | None = None,
                    threshold: float | None = None) -> NeuronComparison:
    """Compare neuron analyses of several encoders over the same images against ``reference``.

    Per layer and category: ``count`` (channels above T) and ``top_k_mean``
    before (reference) and after (each other model), and their differences.
    Per channel: categories it gained (score rose above T) or lost (fell to T
    or below), with its best category before and after. Per layer: the number
    of channels firing in both whose best category changed.
    """
    if not isinstance(results, Mapping):
        results = {r.model: r for r in results}
    names = list(results)
    if len(names) < 2:
        raise AnalysisError("compare_neurons: give at least two results (a reference and one other)")
    ref_name = names[reference] if isinstance(reference, int) else reference
    if ref_name not in results:
        raise AnalysisError(f"reference {ref_name!r} is not among the results: {names}")
    ref = results[ref_name]
    key = [(r["image_id"], r["instance"]) for r in ref.regions]
    for n in names:
        other = results[n]
        if [(r["image_id"], r["instance"]) for r in other.regions] != key or other.categories != ref.categories:
            raise AnalysisError(
                f"results {n!r} and {ref_name!r} were computed on different images/regions; rerun both on the same "
                "data set, regions and --max-images"
            )
    kw = {"aggregation": aggregation, "top_k": top_k, "threshold": threshold}
    cat_rows, changes, best_rows = [], [], []
    best_cat: dict[str, dict[str, np.ndarray]] = {ref_name: {}}
    t = float(ref.settings.get("threshold", DEFAULT_THRESHOLD) if threshold is None else threshold)
    layers = [lay for lay in ref.layer_names if all(lay in results[n].layers for n in names)]
    common = {lay: np.logical_and.reduce([results[n].layers[lay].fires for n in names]) for lay in layers}
    ref_cs = {lay: ref.category_scores(lay, channels=common[lay], **kw) for lay in layers}
    for lay in layers:
        best_cat[ref_name][lay] = best_categories(ref_cs[lay].scores, common[lay])
    for n in names:
        if n == ref_name:
            continue
        best_cat[n] = {}
        res = results[n]
        for lay in layers:
            if ref.layers[lay].channels != res.layers[lay].channels:
                raise AnalysisError(f"layer {lay}: {ref_name!r} has {ref.layers[lay].channels} channels, "
                                    f"{n!r} {res.layers[lay].channels}")
            a, b = ref_cs[lay], res.category_scores(lay, channels=common[lay], **kw)
            for k, cat in enumerate(ref.categories):
                cat_rows.append({"model": n, "layer": lay, "category": cat,
                                 "count_before": int(a.count[k]), "count_after": int(b.count[k]),
                                 "count_change": int(b.count[k] - a.count[k]),
                                 "top_k_before": _num(a.top_k_mean[k]), "top_k_after": _num(b.top_k_mean[k]),
                                 "top_k_change": _num(b.top_k_mean[k] - a.top_k_mean[k])})
            bb = best_categories(b.scores, common[lay])
            ba = best_cat[ref_name][lay]
            best_cat[n][lay] = bb
            both = (ba >= 0) & (bb >= 0)
            changed = both & (ba != bb)
            best_rows.append({"model": n, "layer": lay, "channels": int(ba.size), "scored_in_all": int(common[lay].sum()),
                              "compared": int(both.sum()),
                              "changed": int(changed.sum()),
                              "changed_fraction": _num(changed.sum() / both.sum()) if both.any() else None})
            above_a = np.where(np.isfinite(a.scores), a.scores, -np.inf) > t
            above_b = np.where(np.isfinite(b.scores), b.scores, -np.inf) > t
            for kind, mask in (("gained", above_b & ~above_a), ("lost", above_a & ~above_b)):
                ks, cs = np.nonzero(mask)
                for k, c in zip(ks.tolist(), cs.tolist()):
                    changes.append({"model": n, "layer": lay, "channel": c, "category": ref.categories[k], "change": kind,
                                    "score_before": _num(a.scores[k, c]), "score_after": _num(b.scores[k, c]),
                                    "best_before": ref.categories[ba[c]] if ba[c] >= 0 else "",
                                    "best_after": ref.categories[bb[c]] if bb[c] >= 0 else ""})
    changes.sort(key=lambda r: -abs((r["score_after"] or 0) - (r["score_before"] or 0)))
    return NeuronComparison(ref_name, names, list(ref.categories), cat_rows, changes, best_rows, best_cat)


def fig5_channel(comparison: NeuronComparison, model: str | None = None, layer: str | None = None,
                 category: str = "person head") -> tuple[str, int, str] | None:
    """The paper's Fig. 5 channel: ``(layer, channel, category)`` whose ``category`` score rose most to ``model``.

    Defaults: the first compared model after the reference, the deepest layer
    compared, and person head (the first category when it is absent). Among the
    channels of that layer the one with the largest ``score_after −
    score_before`` over the channels that crossed T; ``None`` when none did.
    ``salscope dissect`` and the study both call this, so they pick the same
    channel from the same results.
    """
    others = [m for m in comparison.models if m != comparison.reference]
    model = model or (others[0] if others else None)
    layers = [r["layer"] for r in comparison.best_rows if r["model"] == model]
    layer = layer or (layers[-1] if layers else None)
    if category not in comparison.categories and comparison.categories:
        category = comparison.categories[0]
    best, channel = -np.inf, None
    for row in comparison.changes:
        if row["model"] == model and row["layer"] == layer and row["category"] == category:
            gain = (row["score_after"] or 0.0) - (row["score_before"] or 0.0)
            if gain > best:
                best, channel = gain, int(row["channel"])
    return None if channel is None else (str(layer), channel, category)


def channel_story(results: Mapping[str, NeuronResults], layer: str, channel: int) -> list[dict[str, Any]]:
    """Category scores of one channel in every model (e.g. conv5_3 channel 288 before/after fine-tuning)."""
    rows = []
    for n, res in results.items():
        cs = res.category_scores(layer)
        if not 0 <= channel < cs.scores.shape[1]:
            raise AnalysisError(f"channel {channel} out of range for layer {layer} ({cs.scores.shape[1]} channels)")
        ln = res.layer(layer)
        for k, cat in enumerate(res.categories):
            rows.append({"model": n, "layer": layer, "channel": int(channel), "category": cat,
                         "score": _num(cs.scores[k, channel]),
                         "rank": int(np.flatnonzero(cs.ranking[k] == channel)[0]) + 1 if np.isfinite(cs.scores[k, channel]) else None,
                         "iou": None if ln.dissection is None else _num(ln.dissection.iou[channel, k])})
    return rows
