"""Compare the representations of several encoders on the same probe images: task vs domain.

For models given as encoders (or specs — names, ``ckpt:PATH``, ``FILE.py:FACTORY``
— built by :func:`salscope.models.factory.encoder`), :func:`compare_models` runs every
model on each batch of probe images in lock-step and measures

* layer × layer CKA matrices for every model pair (``cka[(a, b)][i, j]`` =
  CKA(layer i of a, layer j of b)) and their diagonals;
* the relative weight change ``‖W − W₀‖ / ‖W₀‖`` of every layer against the
  reference model (the first one; all parameters of the layer's stage, conv and
  BN alike, taken as one vector);
* the paper's task-vs-domain verdict when the roles are given (pre-trained,
  saliency fine-tune = set-up II, scene fine-tune = set-up III, and optionally
  ``replicate`` = set-up II trained again with another seed, II′): per layer
  CKA statistics, the direction-aware statistics below, each with a
  percentile bootstrap CI over probe images (the same seeded resamples for
  every number, so differences are paired), and the decision of
  :func:`~salscope.analysis.representation.verdict.task_vs_domain_decision`.

Set-ups II and III see the *same* images, so the data-domain shift is common to
both. Whether II's change is due to the task is a question about *directions*:
on the pooled features of the probe images, every model's centred Gram matrix
scaled to unit norm, ``K̂_m`` (so ``CKA(a, b) = ⟨K̂_a, K̂_b⟩``; U-centred for the
debiased estimator), changes from the pretrained encoder ``D_m = K̂_m − K̂_pre``,
and ``align(a, b) = cos(D_a, D_b)``:

* ``move_saliency``, ``move_scene``, ``move_replicate`` = ``‖D_m‖``;
  ``replicate_distance`` = ``‖K̂_II − K̂_II′‖``, the seed noise floor;
* ``align_scene`` = cos(D_II, D_III), ``align_replicate`` = cos(D_II, D_II′),
  ``task_effect = align_replicate − align_scene``: > 0 when a same-task
  replicate moves with II better than the scene model does;
* ``cka_saliency_replicate`` = CKA(II, II′), ``replicate_minus_scene`` =
  CKA(II, II′) − CKA(II, III) and ``scene_closer_to_pre`` = CKA(pre, III) −
  CKA(II, III).

``task_minus_domain`` (= ``scene_closer_to_pre``) is kept for old readers but
is *not* a decision statistic: it is positive when III never trained
(III = pre) and when III moved along II's direction, only less.

Features: ``reduce="pool"`` (spatial mean per channel) uses the exact streaming
linear CKA and bootstraps by resampling image rows of the Gram matrices
(O(n_boot·n²) time, O(n²) memory per layer); ``reduce="flatten"`` uses
minibatch CKA (Nguyen et al. 2021) and bootstraps over images within their
minibatches (:meth:`MinibatchCKA.bootstrap`); the direction statistics always
use the pooled features (with those same draws in flatten mode). See
:mod:`salscope.analysis.representation.similarity`.

The verdict's statistics and decision rule live in
:mod:`salscope.analysis.representation.verdict`, the files and figures
:func:`~salscope.analysis.representation.outputs.write_comparison` writes in
:mod:`salscope.analysis.representation.outputs`.

References
----------
S. He et al. Understanding and Visualizing Deep Visual Saliency Models. CVPR
2019 (fourth finding: the change is due to the task).
S. Kornblith et al. Similarity of Neural Network Representations Revisited. ICML 2019.
D. J. Schuirmann. A comparison of the two one-sided tests procedure and the
power approach for assessing the equivalence of average bioavailability.
J. Pharmacokinet. Biopharm. 15(6), 1987 (equivalence by interval inclusion).
D. Lakens. Equivalence tests: a practical primer for t tests, correlations, and
meta-analyses. Soc. Psychol. Personal. Sci. 8(4), 2017.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from salscope.analysis.representation.verdict import ALL_ROLES, REPLICATE, ROLES, verdict_rows
from salscope.analysis.neurons.analysis import NeuronResults, compare_neurons
from salscope.analysis.representation.similarity import (
    MinibatchCKA,
    StreamingLinearCKA,
    feature_vectors,
)
from salscope.analysis.tabular import TabularResult
from salscope.errors import AnalysisError
from salscope.models.factory import encoder, parse_spec
from salscope.progress import track
from salscope.report.tables import columns_of


@dataclass(repr=False)
class Comparison(TabularResult):
    """Everything :func:`compare_models` measured (:meth:`to_dict`; written by :mod:`~salscope.analysis.representation.outputs`).

    Tables (:class:`~salscope.analysis.tabular.TabularResult`):
    ``layer_change`` (per model and layer: CKA with the reference, ``1 − CKA``,
    relative weight change), ``verdict`` (per layer, each interval as
    ``<name>_lo``/``<name>_hi``) and ``cka`` (long form: one row per model
    pair and layer pair).
    """

    models: list[str]
    layers: list[str]
    layer_map: dict[str, dict[str, str]]
    image_ids: list[str]
    reduce: str
    debiased: bool
    cka: dict[tuple[str, str], np.ndarray]
    weight_change: dict[str, np.ndarray]
    verdict: list[dict[str, Any]] = field(default_factory=list)
    roles: dict[str, str] | None = None
    n_boot: int = 0
    seed: int = 0
    category_shift: Any = None

    def _tables(self) -> dict[str, Any]:
        ref = self.models[0]
        change = [{"model": label, "reference": ref, "layer": layer, "cka": float(d),
                   "representation_change": float(1 - d), "relative_weight_change": float(self.weight_change[label][i])}
                  for label in self.models[1:] for i, (layer, d) in enumerate(zip(self.layers, self.diagonal(ref, label)))]
        verdict = []
        for row in self.verdict:
            flat: dict[str, Any] = {}
            for k, v in row.items():
                if k.endswith("_ci"):
                    flat[f"{k}_lo"], flat[f"{k}_hi"] = v if v is not None else (None, None)
                else:
                    flat[k] = v
            verdict.append(flat)
        cka = [{"model_a": a, "model_b": b, "layer_a": la, "layer_b": lb, "cka": float(m[i, j])}
               for (a, b), m in self.cka.items() for i, la in enumerate(self.layers) for j, lb in enumerate(self.layers)]
        return {"layer_change": (["model", "reference", "layer", "cka", "representation_change", "relative_weight_change"],
                                 change),
                "verdict": (columns_of(verdict), verdict),
                "cka": (["model_a", "model_b", "layer_a", "layer_b", "cka"], cka)}

    def diagonal(self, a: str, b: str) -> np.ndarray:
        """CKA of each layer of ``a`` with the same layer of ``b``."""
        return np.diag(self.cka[(a, b)]).copy()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "models": self.models,
            "layers": self.layers,
            "layer_map": self.layer_map,
            "n_images": len(self.image_ids),
            "image_ids": self.image_ids,
            "reduce": self.reduce,
            "estimator": "debiased" if self.debiased else "biased",
            "cka": {f"{a}|{b}": m.tolist() for (a, b), m in self.cka.items()},
            "diagonal": {f"{a}|{b}": self.diagonal(a, b).tolist() for (a, b) in self.cka},
            "weight_change": {m: v.tolist() for m, v in self.weight_change.items()},
            "roles": self.roles,
            "verdict": self.verdict,
            "direction_statistics": {
                "features": "pool",
                "gram": ("U-centred" if self.debiased else "centred (H K H)") + " linear Gram, unit Frobenius norm",
                "reference": "pretrained",
            },
            "bootstrap": {"n_boot": self.n_boot, "seed": self.seed, "level": 0.95, "unit": "image",
                          "scheme": "within minibatches" if self.reduce == "flatten" else "all images"},
            "category_shift": self.category_shift,
        }


# -- inputs ---------------------------------------------------------------------------------------
def resolve_models(models: Mapping[str, Any] | Sequence[Any]) -> dict[str, torch.nn.Module]:
    """``{label: encoder}`` from encoders or specs, through :func:`salscope.models.factory.encoder`.

    A mapping gives the labels; a list takes them from the specs (``LABEL=SPEC``,
    else the name or file stem), or ``model0``, ``model1`` … for encoder objects.
    Labels must be unique.
    """
    if isinstance(models, Mapping):
        specs = [parse_spec(m, role="encoder", label=str(k)) for k, m in models.items()]
    else:
        specs = [parse_spec(m, role="encoder", label=None if isinstance(m, (str, os.PathLike)) else f"model{i}")
                 for i, m in enumerate(models)]
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise AnalysisError(f"model labels must be unique, got {labels}; name them LABEL=SPEC or pass a dict "
                            "{label: model}")
    if len(specs) < 2:
        raise AnalysisError(f"compare needs at least two models, got {len(specs)}")
    out = {}
    for s in specs:
        m = encoder(s)
        if not hasattr(m, "layer_names") or not hasattr(m, "feature_info"):
            raise AnalysisError(f"model '{s.label}' is a {type(m).__name__}, not an encoder with named layers; pass "
                                "backbones, names, checkpoints or FILE.py:FACTORY")
        out[s.label] = m
    return out


def match_layers(backbones: Mapping[str, Any], layers: Sequence[str] | None,
                 layer_map: Mapping[str, Mapping[str, str]] | None = None) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Common layer names and, per model, the layer each name maps to.

    ``layer_map = {model: {common name: that model's layer}}`` renames layers
    for models whose names differ. Raises AnalysisError naming, per model, the
    layers it lacks.
    """
    layer_map = {k: dict(v) for k, v in (layer_map or {}).items()}
    unknown = [k for k in layer_map if k not in backbones]
    if unknown:
        raise AnalysisError(f"layer_map names unknown model(s) {unknown}; models are {list(backbones)}")
    first = next(iter(backbones))
    if layers is None:
        own = backbones[first].layer_names
        inv = {v: k for k, v in layer_map.get(first, {}).items()}
        layers = [inv.get(name, name) for name in own]
    layers = list(layers)
    if not layers:
        raise AnalysisError("no layers to compare; pass --layers (comma-separated)")
    mapping: dict[str, dict[str, str]] = {}
    problems = []
    for label, bb in backbones.items():
        m = {name: layer_map.get(label, {}).get(name, name) for name in layers}
        missing = [f"{name}" + (f" (as {own})" if own != name else "") for name, own in m.items() if own not in bb.layer_names]
        if missing:
            problems.append(f"'{label}' lacks {', '.join(missing)} (it has {', '.join(bb.layer_names)})")
        mapping[label] = m
    if problems:
        raise AnalysisError("layer names do not match across models: " + "; ".join(problems)
                            + ". Pick common layers with --layers or map them with layer_map")
    return layers, mapping


def _load_images(images: Any, image_ids: Sequence[str] | None) -> tuple[Any, list[str]]:
    n = len(images)
    if image_ids is None:
        image_ids = list(getattr(images, "ids", [str(i) for i in range(n)]))
    image_ids = [str(i) for i in image_ids]
    if len(image_ids) != n:
        raise AnalysisError(f"image_ids lists {len(image_ids)} ids for {n} images; give one id per probe image")
    if len(set(image_ids)) != n:
        dup = sorted({i for i in image_ids if image_ids.count(i) > 1})[:5]
        raise AnalysisError(f"image ids repeat ({dup}); each probe image must appear once")
    return images, image_ids


def check_same_images(ids: Mapping[str, Sequence[str]]) -> list[str]:
    """Verify every model saw the same probe images in the same order; return that list."""
    items = list(ids.items())
    ref_label, ref = items[0]
    for label, other in items[1:]:
        if list(other) != list(ref):
            a, b = set(ref), set(other)
            only_a, only_b = sorted(a - b)[:5], sorted(b - a)[:5]
            if only_a or only_b:
                detail = f"only in '{ref_label}': {only_a}; only in '{label}': {only_b}"
            else:
                first = next(i for i, (x, y) in enumerate(zip(ref, other)) if x != y)
                detail = f"same images in a different order (first difference at position {first}: {ref[first]} vs {other[first]})"
            raise AnalysisError(f"models were given different probe images: {detail}. Use one image list for all models")
    return list(ref)


def _batch_bounds(n: int, batch_size: int, minimum: int) -> list[tuple[int, int]]:
    n_batches = max(1, math.ceil(n / batch_size))
    sizes = [len(a) for a in np.array_split(np.arange(n), n_batches)]
    if min(sizes) < minimum:
        raise AnalysisError(
            f"{n} probe images split into batches of {sizes}: minibatch CKA needs ≥ {minimum} images per batch; "
            f"use more images or --reduce pool"
        )
    edges = np.cumsum([0, *sizes])
    return [(int(edges[i]), int(edges[i + 1])) for i in range(len(sizes))]


def _to_input(backbone: Any, images: Sequence[np.ndarray], size: tuple[int, int] | None, device: Any) -> torch.Tensor:
    xs = []
    for im in images:
        x = backbone.preprocess(np.asarray(im), device=device)
        if size is not None and tuple(x.shape[-2:]) != tuple(size):
            x = torch.nn.functional.interpolate(x, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
        xs.append(x)
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) != 1:
        raise AnalysisError(f"probe images have different sizes {sorted(shapes)}; pass size=(H, W) to resize them")
    return torch.cat(xs)


# -- weight change --------------------------------------------------------------------------------
def relative_weight_change(model: Any, reference: Any, layers: Sequence[str],
                           model_layers: Mapping[str, str] | None = None,
                           reference_layers: Mapping[str, str] | None = None) -> np.ndarray:
    """``‖W − W₀‖₂ / ‖W₀‖₂`` per layer over all parameters of the layer's stage (float64)."""
    out = np.empty(len(layers))
    for i, name in enumerate(layers):
        p = model.layer_parameters((model_layers or {}).get(name, name))
        p0 = reference.layer_parameters((reference_layers or {}).get(name, name))
        if list(p) != list(p0) or any(p[k].shape != p0[k].shape for k in p):
            raise AnalysisError(f"layer '{name}' has different parameters in the two models (different architectures?); "
                                "weight change needs the same backbone")
        num = sum(float(((p[k].detach().double() - p0[k].detach().double().to(p[k].device)) ** 2).sum()) for k in p)
        den = sum(float((p0[k].detach().double() ** 2).sum()) for k in p0)
        out[i] = math.sqrt(num) / math.sqrt(den) if den > 0 else float("nan")
    return out


# -- main entry -----------------------------------------------------------------------------------
def compare_models(
    models: Mapping[str, Any] | Sequence[Any],
    images: Any,
    layers: Sequence[str] | None = None,
    *,
    image_ids: Sequence[str] | None = None,
    layer_map: Mapping[str, Mapping[str, str]] | None = None,
    reduce: str = "pool",
    debiased: bool = True,
    size: tuple[int, int] | None = (224, 224),
    batch_size: int = 16,
    roles: Mapping[str, str] | Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> Comparison:
    """Layer × layer CKA, weight change and the task-vs-domain verdict for ≥ 2 models.

    ``images``: uint8 H×W×3 arrays or a :class:`~salscope.data.Stimuli` (loaded
    batch by batch); ``size`` resizes each to H×W (None keeps it). ``roles``
    names the models playing ``pretrained``, ``saliency``, ``scene`` and
    optionally ``replicate`` (a mapping, or a sequence of 3 or 4 labels zipped
    with :data:`ALL_ROLES`; with exactly three models and no roles their order
    is used). ``n_boot=0`` skips the bootstrap (and leaves the decision
    inconclusive). The verdict rows are described in the module docstring.
    """
    if reduce not in ("pool", "flatten"):
        raise AnalysisError(f"reduce={reduce!r} not understood; use 'pool' or 'flatten'")
    images, ids = _load_images(images, image_ids)
    n = len(ids)
    if n <= 3:
        raise AnalysisError(f"{n} probe images are too few for CKA (the debiased estimator needs ≥ 4); use more images")
    backbones = resolve_models(models)  # after the cheap checks: may load checkpoints or download weights
    labels = list(backbones)
    layers, mapping = match_layers(backbones, layers, layer_map)
    roles = _resolve_roles(roles, labels)
    sets = [(m, l) for m in labels for l in layers]
    key = {s: f"{s[0]}/{s[1]}" for s in sets}

    bounds = _batch_bounds(n, batch_size, 4 if reduce == "flatten" else 1)
    pooled: dict[str, list[np.ndarray]] = {key[s]: [] for s in sets}  # always: the direction statistics use them
    acc: StreamingLinearCKA | MinibatchCKA | None = MinibatchCKA([key[s] for s in sets]) if reduce == "flatten" else None
    for bb in backbones.values():
        bb.eval()
        if device is not None:
            bb.to(device)
    for start, stop in track(bounds, "compare: forward passes"):
        batch_images = [images[i] for i in range(start, stop)]
        feats: dict[str, torch.Tensor] = {}
        for label, bb in backbones.items():
            x = _to_input(bb, batch_images, size, device)
            with torch.no_grad():
                out = bb(x, [mapping[label][l] for l in layers])
            for l in layers:
                act = out[mapping[label][l]]
                feats[key[(label, l)]] = feature_vectors(act, reduce)
                pooled[key[(label, l)]].append(feature_vectors(act, "pool").cpu().numpy())
        if acc is None:
            acc = StreamingLinearCKA({k: v.shape[1] for k, v in feats.items()}, device=next(iter(feats.values())).device)
        acc.update(feats)

    ref = labels[0]
    weight_change = {}
    for label in labels[1:]:
        try:
            weight_change[label] = relative_weight_change(backbones[label], backbones[ref], layers, mapping[label], mapping[ref])
        except AnalysisError:
            weight_change[label] = np.full(len(layers), np.nan)  # different architectures: no weight distance
    feats_all = {k: np.concatenate(v) for k, v in pooled.items()}
    return _finish(labels, layers, mapping, ids, acc, feats_all, key, reduce, debiased, roles, n_boot, seed, weight_change)


def compare_features(
    features: Mapping[str, Mapping[str, Any]],
    image_ids: Mapping[str, Sequence[str]],
    layers: Sequence[str] | None = None,
    *,
    debiased: bool = True,
    roles: Mapping[str, str] | Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Comparison:
    """:func:`compare_models` on activations already computed: ``{model: {layer: n×p or n×C×h×w}}``.

    ``image_ids[model]`` lists that model's probe images in row order; they must
    be identical across models (AnalysisError naming the differences otherwise).
    4-D activations are spatially pooled. No weight change (no weights given).
    """
    labels = list(features)
    if len(labels) < 2:
        raise AnalysisError(f"compare needs at least two models, got {len(labels)}")
    missing_ids = [m for m in labels if m not in image_ids]
    if missing_ids:
        raise AnalysisError(f"image_ids lacks the probe image list of model(s) {missing_ids}")
    ids = check_same_images({m: [str(i) for i in image_ids[m]] for m in labels})
    common = [l for l in features[labels[0]] if all(l in features[m] for m in labels)]
    layers = list(layers) if layers is not None else common
    problems = [f"'{m}' lacks {[l for l in layers if l not in features[m]]}" for m in labels if any(l not in features[m] for l in layers)]
    if problems or not layers:
        raise AnalysisError("layer names do not match across models: " + ("; ".join(problems) or "no common layer"))
    n = len(ids)
    if n <= 3:
        raise AnalysisError(f"{n} probe images are too few for CKA (the debiased estimator needs ≥ 4); use more images")
    key = {(m, l): f"{m}/{l}" for m in labels for l in layers}
    feats = {}
    for (m, l), k in key.items():
        v = feature_vectors(features[m][l], "pool")
        if v.shape[0] != n:
            raise AnalysisError(f"features of '{m}' layer '{l}' have {v.shape[0]} rows for {n} image ids")
        feats[k] = v
    acc = StreamingLinearCKA({k: v.shape[1] for k, v in feats.items()})
    acc.update(feats)
    mapping = {m: {l: l for l in layers} for m in labels}
    weight_change = {m: np.full(len(layers), np.nan) for m in labels[1:]}
    return _finish(labels, layers, mapping, ids, acc, {k: v.numpy() for k, v in feats.items()}, key, "pool", debiased,
                   _resolve_roles(roles, labels), n_boot, seed, weight_change)


def _finish(labels, layers, mapping, ids, acc, feats_all, key, reduce, debiased, roles, n_boot, seed, weight_change) -> Comparison:
    cka: dict[tuple[str, str], np.ndarray] = {}
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            rows = [key[(a, l)] for l in layers]
            cols = [key[(b, l)] for l in layers]
            cka[(a, b)] = acc.matrix(rows, cols, debiased) if reduce == "pool" else acc.matrix(rows, cols)
    comparison = Comparison(models=labels, layers=layers, layer_map=mapping, image_ids=ids, reduce=reduce,
                            debiased=debiased if reduce == "pool" else True, cka=cka, weight_change=weight_change,
                            roles=roles, n_boot=n_boot, seed=seed)
    if roles is not None:
        comparison.verdict = verdict_rows(comparison, acc, feats_all, key, n_boot, seed)
    return comparison


def _resolve_roles(roles: Mapping[str, str] | Sequence[str] | None, labels: list[str]) -> dict[str, str] | None:
    if roles is None:
        if len(labels) != 3:
            return None
        roles = labels
    if not isinstance(roles, Mapping):
        roles = list(roles)
        if len(roles) not in (3, 4):
            raise AnalysisError(f"roles must name 3 or 4 models (pretrained, saliency, scene[, replicate]), got {roles}")
        roles = dict(zip(ALL_ROLES, roles))
    bad = [r for r in roles if r not in ALL_ROLES]
    unknown = [m for m in roles.values() if m not in labels]
    if bad or unknown or not set(ROLES) <= set(roles):
        raise AnalysisError(f"roles {dict(roles)} must map each of {ROLES} (and optionally '{REPLICATE}') "
                            f"to one of the models {labels}")
    if len(set(roles.values())) != len(roles):
        raise AnalysisError(f"roles {dict(roles)} give one model two roles; each role needs its own model "
                            "(two identical models under two labels are fine)")
    return {r: roles[r] for r in ALL_ROLES if r in roles}


def add_category_shift(comp: Comparison, neurons: Sequence[Any]) -> Comparison:
    """Attach the neuron analysis' category shift (one result per model, in ``comp.models`` order).

    ``neurons``: :class:`salscope.analysis.neurons.NeuronResults` or folders
    written by ``salscope dissect`` / ``NeuronResults.save``. Runs
    :func:`salscope.analysis.neurons.compare_neurons` against the first model
    and stores, per model and layer, the channels whose best category changed
    and, per category, the change in the number of channels above T.
    """
    if len(neurons) != len(comp.models):
        raise AnalysisError(f"{len(neurons)} neuron results for {len(comp.models)} models; give one per model, in order")
    loaded = [n if isinstance(n, NeuronResults) else NeuronResults.load(n) for n in neurons]
    cmp = compare_neurons(dict(zip(comp.models, loaded)), reference=0)
    comp.category_shift = {
        "reference": cmp.reference,
        "best_category_changed": cmp.best_rows,
        "categories": cmp.category_rows,
    }
    return comp
