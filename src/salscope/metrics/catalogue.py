"""The one metric catalogue: every metric ``salscope evaluate`` scores, once, with what tables need to know.

Each :class:`MetricInfo` says how the metric is averaged (per fixation, pooled
over a split, or per map), whether lower is better, whether it is random (MIT
AUC-Borji / shuffled AUC draw negatives), whether the default list includes it,
and its column label. The tuples the evaluation uses (:data:`METRICS`,
:data:`DEFAULT_METRICS`, :data:`FIXATION_METRICS`, :data:`LOWER_IS_BETTER`) are
read off this table, so a metric is added in one line.

References
----------
Bylinskii et al., "What do different evaluation metrics tell us about saliency
models?", TPAMI 2019 (the metrics and their conventions); Kümmerer et al.,
"Saliency benchmarking made easy", ECCV 2018 (per-fixation metrics, IG).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """One metric: its name, column label and how it is averaged and ranked."""

    name: str
    label: str
    per_fixation: bool          # a mean over fixations (pooled across images with average="fixation")
    lower_is_better: bool = False
    default: bool = True        # in the evaluation's default list (EMD is slow; AUC-Borji is random)
    random: bool = False        # draws random negatives (seeded per image)


CATALOGUE: tuple[MetricInfo, ...] = (
    MetricInfo("auc", "AUC", per_fixation=True),
    MetricInfo("sauc", "sAUC", per_fixation=True),
    MetricInfo("auc_judd", "AUC-Judd", per_fixation=False),
    MetricInfo("auc_borji", "AUC-Borji", per_fixation=False, default=False, random=True),
    MetricInfo("nss", "NSS", per_fixation=True),
    MetricInfo("cc", "CC", per_fixation=False),
    MetricInfo("kld", "KLD ↓", per_fixation=False, lower_is_better=True),
    MetricInfo("sim", "SIM", per_fixation=False),
    MetricInfo("ig", "IG (bits)", per_fixation=True),
    MetricInfo("emd", "EMD ↓", per_fixation=False, lower_is_better=True, default=False),
)

BY_NAME: dict[str, MetricInfo] = {m.name: m for m in CATALOGUE}
#: Metric names understood by :func:`salscope.analysis.evaluation.evaluate`, in table order.
METRICS: tuple[str, ...] = tuple(m.name for m in CATALOGUE)
#: Used when no metric list is given.
DEFAULT_METRICS: tuple[str, ...] = tuple(m.name for m in CATALOGUE if m.default)
#: Metrics whose value is a mean over fixations.
FIXATION_METRICS: frozenset[str] = frozenset(m.name for m in CATALOGUE if m.per_fixation)
#: Metrics where lower is better.
LOWER_IS_BETTER: frozenset[str] = frozenset(m.name for m in CATALOGUE if m.lower_is_better)


def label(metric: str) -> str:
    """The column label of ``metric`` (its name when it is not in the catalogue)."""
    info = BY_NAME.get(metric)
    return info.label if info else metric
