"""What the evaluation scores: a model built from a spec, precomputed maps, or the inter-observer baseline."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from salscope.errors import AnalysisError, ModelError
from salscope.models.factory import (
    INTER_OBSERVER,
    ModelSpec,
    parse_spec,
    parse_specs,
    precomputed,
    saliency_model,
)


def has_log_density(model: Any) -> bool:
    """Whether a model gives a log-density of its own (a probabilistic model), not only a saliency map.

    A ``has_log_density`` attribute (bool) says so explicitly; otherwise a
    wrapper whose network declares ``output`` (the deep readout models) has one
    when that output is ``"log_density"``; otherwise a model has one when it
    overrides :meth:`SaliencyModel.log_density` (e.g. ``center_bias``). The base
    class's default — :func:`~salscope.models.base.log_density_from_map` of the
    saliency map — is a conversion, not a density of the model's own.
    """
    from salscope.models.base import SaliencyModel

    declared = getattr(model, "has_log_density", None)
    if isinstance(declared, bool):
        return declared
    output = getattr(getattr(model, "model", None), "output", None)
    if isinstance(output, str):
        return output == "log_density"
    own = getattr(type(model), "log_density", None)
    return own is not None and own is not SaliencyModel.log_density


class ModelSource:
    """A :class:`SaliencyModel` seen by the evaluation: needs the image, gives map and (if it has one) log-density."""

    needs_image = True

    def __init__(self, model: Any, name: str | None = None, kind: str | None = None):
        self.model = model
        self.name = name or getattr(model, "name", type(model).__name__)
        self.kind = kind or getattr(model, "kind", "other")
        self.has_log_density = has_log_density(model)

    def predict(self, dataset: Any, index: int, image: np.ndarray | None) -> tuple[np.ndarray, Any]:
        """``(saliency map, lazy log-density or None)``; None for a model without a density of its own."""
        smap = np.asarray(self.model.saliency_map(image), dtype=np.float64)
        if self.has_log_density:
            return smap, lambda: np.asarray(self.model.log_density(image), dtype=np.float64)
        return smap, None


class InterObserver:
    """Leave-one-subject-out inter-observer model (the human upper reference of Table 1)."""

    needs_image = False
    has_log_density = True
    kind = "baseline"

    def __init__(self, name: str = INTER_OBSERVER):
        self.name = name

    def subjects(self, fixations: Any) -> np.ndarray:
        subj = np.unique(fixations.subject)
        if subj.size and subj.min() < 0:
            raise AnalysisError("inter_observer needs subject ids; this data set's fixations have none (subject = -1)")
        return subj


def resolve_models(models: Sequence[Any], labels: Sequence[str] | None = None, **placement: Any) -> list[Any]:
    """Sources for several specs, their labels unique (``LABEL=SPEC`` or ``labels`` name them).

    ``placement`` (``device``, ``amp``) goes to the deep models the specs build.
    """
    specs = [m if (not isinstance(m, (str, os.PathLike, ModelSpec)) and hasattr(m, "needs_image")) else None
             for m in models]
    texts = [m for m, s in zip(models, specs) if s is None]
    parsed = iter(parse_specs(texts, None if labels is None else [l for l, s in zip(labels, specs) if s is None]))
    out = [s if s is not None else resolve_model(next(parsed), **placement) for s in specs]
    names = [src.name for src in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ModelError(f"two models share the label {dup[0]!r}; name them LABEL=SPEC (or pass --labels)")
    return out


def resolve_model(spec: Any, label: str | None = None, **placement: Any) -> Any:
    """The evaluation's source for one model spec (:func:`salscope.models.factory.parse_spec`'s grammar).

    ``maps:DIR`` (or a folder) → :class:`~salscope.models.precomputed.PrecomputedMaps`;
    ``inter_observer`` → :class:`InterObserver`; anything else the factory
    builds (names, checkpoints, ``FILE.py:FACTORY``, models) → :class:`ModelSource`.
    A registered name wins over a folder of the same name; write ``maps:./builtin``
    to evaluate the folder. ``label`` (or ``LABEL=SPEC``) names it in the tables.
    """
    if not isinstance(spec, (str, os.PathLike, ModelSpec)) and hasattr(spec, "predict") and hasattr(spec, "needs_image"):
        return spec
    parsed = parse_spec(spec, label=label)
    if parsed.source == "maps":
        return precomputed(parsed)
    if parsed.source == "inter_observer":
        return InterObserver() if parsed.label == INTER_OBSERVER else InterObserver(name=parsed.label)
    if parsed.source == "object" and not hasattr(parsed.obj, "saliency_map"):
        raise ModelError(f"cannot evaluate a {type(parsed.obj).__name__}; pass a model name, checkpoint, map folder "
                         "or SaliencyModel")
    return ModelSource(saliency_model(parsed, **placement), name=parsed.label, kind=parsed.kind)
