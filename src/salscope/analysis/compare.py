"""Compare the representations of several encoders on the same probe images: task vs domain.

For models given as backbones (or names / checkpoints, resolved by
:func:`salscope.models.deep.load_encoder`), :func:`compare_models` runs every
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
  :func:`task_vs_domain_decision`.

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
:mod:`salscope.analysis.similarity`.

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
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from salscope.analysis.similarity import (
    MinibatchCKA,
    StreamingLinearCKA,
    feature_vectors,
    gram_geometry,
    gram_linear,
    percentile_ci,
)
from salscope.analysis.tabular import TabularResult
from salscope.errors import AnalysisError
from salscope.report.figures import pyplot, save_figure
from salscope.report.tables import columns_of

ROLES = ("pretrained", "saliency", "scene")
REPLICATE = "replicate"  # optional fourth role: set-up II trained again with another seed (II′)
ALL_ROLES = (*ROLES, REPLICATE)
NO_REPLICATE_FLOOR = 0.05  # ‖ΔK̂‖ below which III "did not move" when no replicate gives the noise floor (CKA(pre, III) > 0.9987)


@dataclass(repr=False)
class Comparison(TabularResult):
    """Everything :func:`compare_models` measured (see :meth:`to_dict` / :func:`write_comparison`).

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
    """``{label: Backbone}`` from backbones, backbone names or checkpoint paths.

    Strings go through :func:`salscope.models.deep.load_encoder` (falls back to
    :func:`get_backbone` for names if that module is unavailable). A list gets
    labels from the strings (file stem for paths) or ``model0``, ``model1`` ….
    """
    if isinstance(models, Mapping):
        items = list(models.items())
    else:
        items = []
        for i, m in enumerate(models):
            label = Path(str(m)).stem if isinstance(m, (str, os.PathLike)) else f"model{i}"
            items.append((label, m))
    labels = [k for k, _ in items]
    if len(set(labels)) != len(labels):
        raise AnalysisError(f"model labels must be unique, got {labels}; pass a dict {{label: model}}")
    if len(items) < 2:
        raise AnalysisError(f"compare needs at least two models, got {len(items)}")
    out = {}
    for label, m in items:
        if isinstance(m, (str, os.PathLike)):
            try:
                from salscope.models.deep import load_encoder  # noqa: PLC0415
            except ImportError:  # pragma: no cover - deep models not installed
                from salscope.models.backbones import get_backbone as load_encoder  # noqa: PLC0415
            m = load_encoder(str(m))
        if not hasattr(m, "layer_names") or not hasattr(m, "feature_info"):
            raise AnalysisError(f"model '{label}' is a {type(m).__name__}, not a Backbone; pass backbones, names or checkpoints")
        out[label] = m
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
    from salscope.progress import track  # noqa: PLC0415

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
        comparison.verdict = _verdict(comparison, acc, feats_all, key, n_boot, seed)
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


# Point values first in this order (old keys first, so old readers find them where they were).
_CKA_STATISTICS = ("change_saliency", "change_scene", "saliency_minus_scene", "cka_saliency_scene", "task_minus_domain",
                   "scene_closer_to_pre")
_DIRECTION_STATISTICS = ("move_saliency", "move_scene", "align_scene")
_REPLICATE_STATISTICS = ("move_replicate", "replicate_distance", "align_replicate", "task_effect",
                         "cka_saliency_replicate", "replicate_minus_scene")


def _statistics(cka: Any, geo: Any, replicate: bool) -> dict[str, np.ndarray]:
    """Every verdict statistic from ``cka(role, role)`` values and a :class:`GramGeometry` over the roles.

    Works on the point estimate (arrays of length 1) and on bootstrap replicates alike.
    """
    pre, sal, scene, rep = "pretrained", "saliency", "scene", REPLICATE
    out = {
        "change_saliency": 1 - cka(pre, sal),
        "change_scene": 1 - cka(pre, scene),
        "saliency_minus_scene": cka(pre, scene) - cka(pre, sal),
        "cka_saliency_scene": cka(sal, scene),
        "task_minus_domain": cka(pre, scene) - cka(sal, scene),  # kept for old readers; not a decision statistic
        "scene_closer_to_pre": cka(pre, scene) - cka(sal, scene),
        "move_saliency": geo.move(sal),
        "move_scene": geo.move(scene),
        "align_scene": geo.align(sal, scene),
    }
    if replicate:
        out.update({
            "move_replicate": geo.move(rep),
            "replicate_distance": geo.dist(sal, rep),
            "align_replicate": geo.align(sal, rep),
            "task_effect": geo.align(sal, rep) - geo.align(sal, scene),
            "cka_saliency_replicate": cka(sal, rep),
            "replicate_minus_scene": cka(sal, rep) - cka(sal, scene),
        })
        corrected = corrected_alignment(geo.align(sal, scene), geo.align(sal, rep), geo.dist(sal, rep), geo.move(scene))
        out["align_scene_corrected"] = corrected
        out["task_effect_corrected"] = 1.0 - corrected
    return out


def corrected_alignment(align_scene: Any, align_replicate: Any, replicate_distance: Any, move_scene: Any) -> np.ndarray:
    """cos(D_II, D_III) corrected for the attenuation that seed noise puts on both directions.

    Model: each fine-tuned model's Gram change is a signal plus its own seed
    noise of size σ (the same for II and III: same architecture, data and
    schedule). Two seeds of II give σ² = ‖K̂_II − K̂_II′‖² / 2 and II's
    reliability r_II = cos(D_II, D_II′); III's is r_III = 1 − σ² / ‖D_III‖².
    The signals' cosine is then cos(D_II, D_III) / √(r_II · r_III) (Spearman's
    correction for attenuation): 1 when III moved in II's direction however
    noisily or weakly, lower when its direction differs. NaN where a
    reliability is not positive (III's move cannot be told from seed noise).

    References
    ----------
    Spearman, C. "The proof and measurement of association between two things",
    Am. J. Psychol. 15 (1904).
    """
    a, r2 = np.asarray(align_scene, dtype=float), np.asarray(align_replicate, dtype=float)
    d, m = np.asarray(replicate_distance, dtype=float), np.asarray(move_scene, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r3 = 1.0 - (d * d / 2.0) / (m * m)
        ok = (r2 > 0) & (r3 > 0) & np.isfinite(a)
        return np.where(ok, a / np.sqrt(np.where(ok, r2 * r3, 1.0)), np.nan)


def _verdict(comp: Comparison, acc: Any, pooled: Mapping[str, np.ndarray], key: Mapping, n_boot: int,
             seed: int) -> list[dict[str, Any]]:
    roles = comp.roles
    present = list(roles)  # in ALL_ROLES order
    replicate = REPLICATE in roles
    n = len(comp.image_ids)
    draws = None
    if n_boot > 0:
        # Images are the resampled units in both modes; flatten mode keeps each image in its minibatch.
        draws = acc.resample(n_boot, seed) if comp.reduce == "flatten" else np.random.default_rng(seed).integers(0, n, size=(n_boot, n))

    rows = []
    for li, layer in enumerate(comp.layers):
        k = {r: key[(roles[r], layer)] for r in present}

        def point_cka(a: str, b: str) -> np.ndarray:
            ma, mb = roles[a], roles[b]
            m = comp.cka[(ma, mb)] if (ma, mb) in comp.cka else comp.cka[(mb, ma)].T
            return np.array([m[li, li]])

        grams = {r: gram_linear(pooled[k[r]]) for r in present}
        point = _statistics(point_cka, gram_geometry(grams, "pretrained", debiased=comp.debiased), replicate)
        row: dict[str, Any] = {"layer": layer, **{name: float(v[0]) for name, v in point.items()}}
        if draws is not None:
            geo = gram_geometry(grams, "pretrained", draws=draws, debiased=comp.debiased)
            if comp.reduce == "flatten":
                pairs = [(k[a], k[b]) for i, a in enumerate(present) for b in present[i + 1:]]
                boot = acc.bootstrap(pairs, draws=draws)

                def boot_cka(a: str, b: str) -> np.ndarray:
                    return boot[(k[a], k[b])] if (k[a], k[b]) in boot else boot[(k[b], k[a])]
            else:
                boot_cka = geo.cka
            for name, values in _statistics(boot_cka, geo, replicate).items():
                ci = percentile_ci(values)
                row[f"{name}_ci"] = list(ci) if ci is not None else None
        row["decision"], row["decision_reason"] = task_vs_domain_decision(row)
        rows.append(row)
    return rows


def task_vs_domain_decision(row: Mapping[str, Any], *, margin: float = 0.1,
                            floor: float = NO_REPLICATE_FLOOR) -> tuple[str, str]:
    """Decide finding 4 for one layer's verdict row: ``("reproduced" | "not reproduced" | "inconclusive", reason)``.

    The rule, applied in this order to the 95 % bootstrap intervals over images:

    1. *III did not move*: the upper bound of ``move_scene`` (‖K̂_III − K̂_pre‖) is
       at or below the noise floor — ``replicate_distance`` (‖K̂_II − K̂_II′‖, how
       far two seeds of the same training land apart) or, without a replicate,
       ``floor`` (0.05, i.e. CKA(pre, III) > 0.9987) → "not reproduced": there is
       no change of III to attribute to the domain or to the task.
    2. Without a replicate → "inconclusive": a direction can only be called
       task-specific against the spread of the same task's directions.
    With a replicate, rules 3–4 read ``task_effect_corrected`` = 1 −
    :func:`corrected_alignment` (III's alignment with II corrected for the
    attenuation by both models' seed noise, estimated from II vs II′), since a
    III that moved along II's direction but less, with its own seed noise, has
    a lower raw cosine than a replicate: the raw ``task_effect`` would credit
    that to the task. The raw ``task_effect`` is still reported.

    3. *Equivalence*: the upper bound of ``task_effect`` = cos(D_II, D_II′) −
       cos(D_II, D_III) is below ``margin`` → "not reproduced": III moved in
       II's direction as closely as a same-task replicate does, up to the
       margin (an equivalence test by interval inclusion, Schuirmann 1987 TOST;
       Lakens 2017; one-sided because III aligning *better* than a replicate
       is no evidence for the task either). It is checked before rule 4 so that
       a difference that is statistically above 0 but practically negligible
       (interval inside (0, margin)) does not count as the task's.
    4. ``task_effect`` interval entirely above 0 and ``replicate_minus_scene``
       (CKA(II, II′) − CKA(II, III)) interval entirely above 0 → "reproduced":
       a same-task replicate moves with II, and stays closer to II, better
       than the same-data scene model.
    5. Otherwise "inconclusive". Missing intervals (``n_boot=0``) or an
       alignment undefined on some resample (interval None) → "inconclusive".

    References: Kornblith et al. 2019 (CKA); Schuirmann 1987; Lakens 2017.
    """
    move = row.get("move_scene_ci")
    if move is None:
        return "inconclusive", "no bootstrap interval for move_scene (n_boot=0?); nothing can be decided"
    has_rep = "replicate_distance" in row
    noise = float(row["replicate_distance"]) if has_rep else float(floor)
    noise_name = "the replicate noise floor ‖K̂_II − K̂_II′‖" if has_rep else "the stated floor (no replicate)"
    if move[1] <= noise:
        return "not reproduced", (f"III's representation did not change beyond {noise_name}: move_scene ≤ {move[1]:.3g} ≤ "
                                  f"{noise:.3g}; nothing to attribute")
    if not has_rep:
        return "inconclusive", "no same-task replicate (II′): the direction of III's change cannot be judged against seed noise"
    rms = row.get("replicate_minus_scene_ci")
    raw = row.get("task_effect_ci")
    if raw is None:
        return "inconclusive", "task_effect has no interval (an alignment is undefined on some resample)"
    # Seed noise lowers III's raw alignment, so the raw task_effect errs towards the task: below the margin it
    # shows equivalence all the more. For "reproduced" the attenuation-corrected statistic must agree.
    if raw[1] < margin:
        return "not reproduced", (f"task_effect interval [{raw[0]:+.3f}, {raw[1]:+.3f}] lies below the margin "
                                  f"{margin:g}: III moved in the direction of a same-task replicate")
    te, name = raw, "task_effect"
    if "task_effect_corrected" in row:
        te, name = row.get("task_effect_corrected_ci"), "task_effect_corrected"
        if te is None:
            return "inconclusive", ("the attenuation-corrected task effect has no interval: on some resample III's move "
                                    "cannot be told from seed noise (its reliability is not positive)")
        if te[1] < margin:
            return "not reproduced", (f"{name} interval [{te[0]:+.3f}, {te[1]:+.3f}] lies below the margin {margin:g}: "
                                      "corrected for seed noise, III moved in the direction of a same-task replicate")
    if te[0] > 0 and rms is not None and rms[0] > 0:
        return "reproduced", (f"{name} [{te[0]:+.3f}, {te[1]:+.3f}] > 0 and replicate_minus_scene "
                              f"[{rms[0]:+.3f}, {rms[1]:+.3f}] > 0: II′ follows II, III does not")
    return "inconclusive", (f"{name} [{te[0]:+.3f}, {te[1]:+.3f}] straddles 0 or the margin {margin:g}, or "
                            "replicate_minus_scene does not exclude 0")

def add_category_shift(comp: Comparison, neurons: Sequence[Any]) -> Comparison:
    """Attach the neuron analysis' category shift (one result per model, in ``comp.models`` order).

    ``neurons``: :class:`salscope.analysis.neurons.NeuronResults` or folders
    written by ``salscope dissect`` / ``NeuronResults.save``. Runs
    :func:`salscope.analysis.neurons.compare_neurons` against the first model
    and stores, per model and layer, the channels whose best category changed
    and, per category, the change in the number of channels above T.
    """
    from salscope.analysis.neurons import NeuronResults, compare_neurons  # noqa: PLC0415

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


# -- outputs --------------------------------------------------------------------------------------
def write_comparison(comp: Comparison, out_dir: str | os.PathLike, figures: bool = True,
                     table_formats: Sequence[str] = ("csv",)) -> dict[str, Path]:
    """Write ``comparison.json``, ``cka_<a>__<b>.csv``, ``layer_change.csv``, ``verdict.csv``, ``cka_models.csv`` and figures.

    ``table_formats`` other than ``csv`` (``md``, ``tex``, ``json``) also write
    ``layer_change`` and ``verdict`` in those formats (``verdict.tex`` …).

    Every figure (PNG) has its data beside it: the heat map's CSV,
    ``layer_change.csv`` for the bar plot, and ``cka_models.csv`` (CKA between
    every pair of models — pre, II, II′, III in role order — at the last,
    deepest, layer) for ``fig_cka_models.png``. ``verdict.csv`` has one row per
    layer with every statistic, ``<name>_lo``/``<name>_hi`` for its interval
    (empty when undefined) and the decision.
    """
    from salscope.io import write_csv, write_json  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"json": write_json(out / "comparison.json", comp.to_dict())}
    for (a, b), m in comp.cka.items():
        rows = [{"layer": la, **{lb: float(m[i, j]) for j, lb in enumerate(comp.layers)}} for i, la in enumerate(comp.layers)]
        paths[f"cka_{a}__{b}"] = write_csv(out / f"cka_{_safe(a)}__{_safe(b)}.csv", rows)
    tables = comp._tables()
    paths["layer_change"] = write_csv(out / "layer_change.csv", tables["layer_change"][1])
    if comp.verdict:
        paths["verdict"] = write_csv(out / "verdict.csv", tables["verdict"][1])
    for fmt in table_formats:   # the key tables for papers, beside the CSVs above
        if fmt != "csv":
            for name in ("layer_change", "verdict") if comp.verdict else ("layer_change",):
                paths[f"{name}_{fmt}"] = comp.write_tables(out / name, [fmt], table=name)[fmt]
    order, matrix = model_cka_matrix(comp)
    deepest = comp.layers[-1]
    paths["cka_models"] = write_csv(out / "cka_models.csv",
                                    [{"layer": deepest, "model": a, **{b: float(matrix[i, j]) for j, b in enumerate(order)}}
                                     for i, a in enumerate(order)])
    if comp.category_shift:
        paths["category_shift"] = write_csv(out / "category_shift.csv", comp.category_shift["categories"])
        paths["best_category_changed"] = write_csv(out / "best_category_changed.csv", comp.category_shift["best_category_changed"])
    if figures:
        paths.update(_figures(comp, out))
    return paths


def model_cka_matrix(comp: Comparison, layer: str | None = None) -> tuple[list[str], np.ndarray]:
    """CKA between every pair of models at one layer (default the last, deepest): ``(labels, M)``.

    Models with roles come first, in the order pretrained, saliency (II),
    replicate (II′), scene (III); the diagonal is 1.
    """
    layer = comp.layers[-1] if layer is None else layer
    i = comp.layers.index(layer)
    roles = comp.roles or {}
    first = [roles[r] for r in ("pretrained", "saliency", REPLICATE, "scene") if r in roles]
    order = first + [m for m in comp.models if m not in first]
    out = np.eye(len(order))
    for a_i, a in enumerate(order):
        for b_i, b in enumerate(order):
            if a_i != b_i:
                out[a_i, b_i] = comp.cka[(a, b)][i, i] if (a, b) in comp.cka else comp.cka[(b, a)][i, i]
    return order, out


def _safe(label: str) -> str:
    from salscope.names import slug  # noqa: PLC0415 (only this helper is ours to edit in this module)

    return slug(label)


def _figures(comp: Comparison, out: Path) -> dict[str, Path]:
    plt = pyplot()
    paths = {}
    L = len(comp.layers)
    for (a, b), m in comp.cka.items():
        fig, ax = plt.subplots(figsize=(1.2 + 0.45 * L, 1.0 + 0.45 * L))
        im = ax.imshow(m, vmin=0, vmax=1, cmap="magma", origin="lower")
        ax.set_xticks(range(L), comp.layers, rotation=90, fontsize=7)
        ax.set_yticks(range(L), comp.layers, fontsize=7)
        ax.set_xlabel(b)
        ax.set_ylabel(a)
        ax.set_title(f"{'debiased' if comp.debiased else 'biased'} linear CKA ({comp.reduce})", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        paths[f"fig_cka_{a}__{b}"] = save_figure(fig, out / f"fig_cka_{_safe(a)}__{_safe(b)}.png", dpi=120)
        plt.close(fig)

    ref = comp.models[0]
    others = comp.models[1:]
    fig, axes = plt.subplots(1, 2, figsize=(2 + 0.5 * L * len(others), 3.2))
    width = 0.8 / len(others)
    x = np.arange(L)
    verdict = {r["layer"]: r for r in comp.verdict}
    for k, label in enumerate(others):
        change = 1 - comp.diagonal(ref, label)
        err = None
        if verdict and comp.roles and label in (comp.roles["saliency"], comp.roles["scene"]):
            name = "change_saliency" if label == comp.roles["saliency"] else "change_scene"
            if f"{name}_ci" in comp.verdict[0]:
                lo = np.array([verdict[l][f"{name}_ci"][0] for l in comp.layers])
                hi = np.array([verdict[l][f"{name}_ci"][1] for l in comp.layers])
                err = np.clip(np.vstack([change - lo, hi - change]), 0, None)
        axes[0].bar(x + k * width, change, width, yerr=err, label=label, capsize=2)
        axes[1].bar(x + k * width, comp.weight_change[label], width, label=label)
    for ax, title in zip(axes, ("1 − CKA(reference, model)", "‖W − W₀‖ / ‖W₀‖")):
        ax.set_xticks(x + 0.4 - width / 2, comp.layers, rotation=90, fontsize=7)
        ax.set_title(f"{title}; reference {ref}", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths["fig_layer_change"] = save_figure(fig, out / "fig_layer_change.png", dpi=120)
    plt.close(fig)

    order, matrix = model_cka_matrix(comp)
    names = {m: r for r, m in (comp.roles or {}).items()}
    short = {"pretrained": "pre", "saliency": "II", REPLICATE: "II′", "scene": "III"}
    ticks = [f"{m}\n({short[names[m]]})" if m in names else m for m in order]
    k = len(order)
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * k, 1.2 + 0.9 * k))
    im = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma")
    for a in range(k):
        for b in range(k):
            ax.text(b, a, f"{matrix[a, b]:.3f}", ha="center", va="center", fontsize=8,
                    color="black" if matrix[a, b] > 0.6 else "white")
    ax.set_xticks(range(k), ticks, fontsize=7)
    ax.set_yticks(range(k), ticks, fontsize=7)
    ax.set_title(f"{'debiased' if comp.debiased else 'biased'} linear CKA, {comp.layers[-1]} ({comp.reduce})", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    paths["fig_cka_models"] = save_figure(fig, out / "fig_cka_models.png", dpi=120)
    plt.close(fig)
    return paths
