"""Statistics between the models of one evaluation: paired per-image differences, intervals, Wilcoxon, Holm.

For every pair of evaluated models ``(a, b)`` (in the order given) and every
metric, over the images both models scored with a finite value:

- ``difference`` = mean over images of ``a_i − b_i`` (each image once, its
  per-image mean, whatever its number of fixations), with its percentile
  bootstrap interval (images resampled with replacement,
  :func:`salscope.analysis.intervals.paired_bootstrap`);
- ``p`` = the two-sided Wilcoxon signed-rank test of the ``a_i − b_i``
  (``scipy.stats.wilcoxon``): zero differences are dropped (Wilcoxon's own
  rule), the null distribution is exact for at most 50 non-zero differences
  without ties in their sizes and the normal approximation otherwise
  (``wilcoxon_method`` says which); no non-zero difference gives ``p = 1``;
- ``p_holm`` = Holm's step-down correction of ``p`` over the whole family,
  every pair × every metric with a finite ``p``: sort the ``m`` p-values,
  ``p_holm(k) = max_{j ≤ k} min(1, (m − j + 1) p(j))``. It controls the
  family-wise error rate without assuming independence;
- ``better``: the model with the better mean difference (higher, or lower for
  :data:`~salscope.analysis.evaluation.LOWER_IS_BETTER` metrics: KLD, EMD),
  ``"tie"`` for a difference of exactly 0; ``significant``: ``p_holm < alpha``.

And for every model × metric an interval on its summary value
(:func:`mean_intervals`): images resampled, the mean recomputed as the summary
computes it (pooled over fixations — per-image means weighted by their number
of fixations — for AUC, sAUC, NSS and IG with ``average="fixation"`` under
``"tuebingen"``; else the mean of per-image values).

All resampling draws from ``numpy.random.default_rng(seed)``: same seed, same
numbers.

References
----------
Wilcoxon, F. Individual comparisons by ranking methods. Biometrics Bulletin 1
(6), 80–83, 1945. Holm, S. A simple sequentially rejective multiple test
procedure. Scandinavian Journal of Statistics 6 (2), 65–70, 1979. Efron, B.,
Tibshirani, R. J. An Introduction to the Bootstrap, ch. 13, 1993.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from salscope import io
from salscope.analysis.evaluation import FIXATION_METRICS, LOWER_IS_BETTER, EvaluationResult
from salscope.metrics.catalogue import label as _label
from salscope.analysis.intervals import bootstrap_mean, paired_bootstrap
from salscope.errors import AnalysisError

#: Name of the multiple-comparison correction, as written in every output.
CORRECTION = "holm"
#: Largest number of non-zero differences with an exact Wilcoxon null distribution (scipy's own limit).
EXACT_MAX = 50
#: Below this many images a percentile bootstrap interval is too narrow to trust; the method text says so.
FEW_IMAGES = 10
#: Columns of ``paired.csv``, in order.
COLUMNS = ("metric", "model_a", "model_b", "better", "difference", "ci_lo", "ci_hi", "n_images", "p", "p_holm",
           "significant", "wilcoxon_method")


def holm(pvalues: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the order given; NaN stays NaN and is not counted in the family.

    With the ``m`` finite p-values sorted, ``p(1) ≤ … ≤ p(m)``:
    ``p_holm(k) = max_{j ≤ k} min(1, (m − j + 1) p(j))``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise AnalysisError(f"holm: give a 1-D list of p-values, got shape {p.shape}")
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise AnalysisError("holm: p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(finite)
    m = idx.size
    if m:
        order = idx[np.argsort(p[idx], kind="stable")]
        scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
        out[order] = np.maximum.accumulate(scaled)
    return out


def wilcoxon_p(diff: Any) -> tuple[float, str]:
    """``(p, method)`` of the two-sided Wilcoxon signed-rank test of paired differences (see the module doc)."""
    d = np.asarray(diff, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), ""
    d = d[d != 0]
    if d.size == 0:
        return 1.0, "no non-zero difference"
    ties = np.unique(np.abs(d)).size < d.size
    method = "exact" if d.size <= EXACT_MAX and not ties else "approx"
    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method=method).pvalue), method


def _by_image(result: EvaluationResult, model: str, metric: str) -> dict[int, tuple[float, int]]:
    return {r["image_index"]: (float(r[metric]), int(r["n_fixations"])) for r in result.rows if r["model"] == model}


def pooled(result: EvaluationResult, metric: str) -> bool:
    """Whether ``result.summary()`` pools ``metric`` over fixations (else it averages per-image values)."""
    return result.average == "fixation" and metric in FIXATION_METRICS and result.convention == "tuebingen"


def mean_intervals(result: EvaluationResult, *, n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> dict[str, dict[str, dict[str, Any]]]:
    """``{model: {metric: {"mean", "lo", "hi", "n_images"}}}``: each summary value and its bootstrap interval.

    Images are resampled; a pooled metric (:func:`pooled`) is the mean of the
    per-image means weighted by their fixation counts, so ``mean`` equals
    ``result.summary()`` (to rounding). ``lo``/``hi`` are None without an
    interval (``n_boot = 0``, one image, or no finite value).
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for model in result.models:
        out[model] = {}
        for metric in result.metrics:
            per = _by_image(result, model, metric)
            values = np.array([v for v, _ in per.values()])
            weights = np.array([n for _, n in per.values()], dtype=np.float64) if pooled(result, metric) else None
            mean, lo, hi = bootstrap_mean(values, weights, n_boot=n_boot, seed=seed, level=level)
            out[model][metric] = {"mean": mean, "lo": lo, "hi": hi, "n_images": int(np.isfinite(values).sum())}
    return out


def paired_comparisons(result: EvaluationResult, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                       alpha: float = 0.05) -> list[dict[str, Any]]:
    """One row per metric × pair of models (columns :data:`COLUMNS`; see the module doc), Holm over all rows."""
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha={alpha!r}: give a significance level between 0 and 1 (e.g. 0.05)")
    rows = []
    for metric in result.metrics:
        for a, b in itertools.combinations(result.models, 2):
            va, vb = _by_image(result, a, metric), _by_image(result, b, metric)
            common = sorted(set(va) & set(vb))
            xa = np.array([va[i][0] for i in common])
            xb = np.array([vb[i][0] for i in common])
            ok = np.isfinite(xa) & np.isfinite(xb)
            diff, lo, hi = paired_bootstrap(xa[ok], xb[ok], n_boot=n_boot, seed=seed, level=level)
            p, method = wilcoxon_p(xa[ok] - xb[ok])
            if not np.isfinite(diff):
                better = ""
            elif diff == 0:
                better = "tie"
            else:
                better = a if (diff < 0) == (metric in LOWER_IS_BETTER) else b
            rows.append({"metric": metric, "model_a": a, "model_b": b, "better": better, "difference": diff,
                         "ci_lo": lo, "ci_hi": hi, "n_images": int(ok.sum()), "p": p, "wilcoxon_method": method})
    adjusted = holm([r["p"] for r in rows])
    for row, ph in zip(rows, adjusted):
        row["p_holm"] = float(ph)
        row["significant"] = bool(np.isfinite(ph) and ph < alpha)
    return [{k: row[k] for k in COLUMNS} for row in rows]


@dataclass
class PairedStatistics:
    """Paired comparisons of every pair of models and intervals on every mean, for one :class:`EvaluationResult`."""

    dataset: str
    split: str | None
    convention: str
    average: str
    models: list[str]
    metrics: list[str]
    n_boot: int
    seed: int
    level: float
    alpha: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    intervals: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def method(self) -> str:
        """One paragraph saying what the numbers are (printed under the table, stored in the JSON)."""
        pct = f"{100 * self.level:g} %"
        boot = (f"{pct} percentile bootstrap interval ({self.n_boot} resamples of the images, seed {self.seed})"
                if self.n_boot else "no interval (n_boot = 0)")
        n_tests = sum(1 for r in self.rows if np.isfinite(r["p"]))
        counts = [r["n_images"] for r in self.rows if r["n_images"]] + [
            v["n_images"] for per in self.intervals.values() for v in per.values() if v["n_images"]]
        few = (f" Only {min(counts)} image(s): with fewer than {FEW_IMAGES} a bootstrap interval is too narrow "
               "(it can exclude 0 where the test cannot be small); read p." if counts and self.n_boot
               and min(counts) < FEW_IMAGES else "")
        return (f"difference = mean over images of (a − b) per-image values, {boot}; p = two-sided Wilcoxon "
                f"signed-rank test of the per-image differences; p_holm = Holm correction over all {n_tests} "
                f"pairs × metrics; better = the model with the better mean difference, named when p_holm < "
                f"{self.alpha:g} (else n.s.); KLD and EMD: lower is better.{few}")

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "split": self.split, "convention": self.convention, "average": self.average,
            "models": self.models, "metrics": self.metrics, "n_boot": self.n_boot, "seed": self.seed,
            "level": self.level, "alpha": self.alpha, "correction": CORRECTION, "test": "wilcoxon signed-rank",
            "method": self.method(), "comparisons": self.rows, "mean_intervals": self.intervals,
        }

    def summary_keys(self) -> dict[str, Any]:
        """What ``summary.json`` gains (``EvaluationResult.extra``): the interval on every mean and how it was made."""
        return {"mean_intervals": self.intervals,
                "mean_intervals_method": {"bootstrap": "percentile, images resampled", "n_boot": self.n_boot,
                                          "seed": self.seed, "level": self.level}}

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """Write ``paired.csv`` (one row per metric × pair) and ``paired.json`` atomically into ``out_dir``."""
        out = Path(out_dir)
        return {"paired_csv": io.write_csv(out / "paired.csv", self.rows, fieldnames=list(COLUMNS)),
                "paired_json": io.write_json(out / "paired.json", self.to_json())}

    #: Columns of the printed table.
    HEADER = ("metric", "a − b", "better (if significant)", "difference [CI]", "p (Wilcoxon)", "p_holm")

    def _cells(self, row: dict[str, Any]) -> list[str]:
        ci = (f" [{row['ci_lo']:+.4f}, {row['ci_hi']:+.4f}]" if row["ci_lo"] is not None else "")
        diff = f"{row['difference']:+.4f}{ci}" if np.isfinite(row["difference"]) else "n/a"
        better = row["better"] if row["significant"] else ("n/a" if not row["better"] else "n.s.")
        return [_label(row["metric"]), f"{row['model_a']} − {row['model_b']}", better, diff, _p(row["p"]),
                _p(row["p_holm"])]

    def to_markdown(self) -> str:
        """The comparisons as a GitHub markdown table with the method under it (full values: for logs and pipes)."""
        if not self.rows:
            return "one model: no paired comparisons\n"
        lines = ["| " + " | ".join(self.HEADER) + " |", "|---|---|---|---:|---:|---:|"]
        lines += ["| " + " | ".join(self._cells(r)) + " |" for r in self.rows]
        return "\n".join(lines) + f"\n\n{self.method()}\n"

    def rich_table(self) -> Any:
        """The comparisons as a :class:`rich.table.Table` (for a terminal)."""
        from rich.table import Table

        table = Table(title=f"paired comparisons — {self.dataset}{'/' + self.split if self.split else ''}",
                      caption=self.method())
        for i, head in enumerate(self.HEADER):
            table.add_column(head, justify="right" if i >= 3 else "left", overflow="fold")
        for row in self.rows:
            table.add_row(*self._cells(row))
        return table


def _p(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def paired_statistics(result: EvaluationResult, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                      alpha: float = 0.05) -> PairedStatistics:
    """Paired comparisons (:func:`paired_comparisons`) and mean intervals (:func:`mean_intervals`) of ``result``."""
    return PairedStatistics(
        dataset=result.dataset, split=result.split, convention=result.convention, average=result.average,
        models=list(result.models), metrics=list(result.metrics), n_boot=int(n_boot), seed=int(seed),
        level=float(level), alpha=float(alpha),
        rows=paired_comparisons(result, n_boot=n_boot, seed=seed, level=level, alpha=alpha),
        intervals=mean_intervals(result, n_boot=n_boot, seed=seed, level=level),
    )


def add_statistics(result: EvaluationResult, **kwargs: Any) -> PairedStatistics:
    """:func:`paired_statistics` of ``result``, its mean intervals also put into ``result.extra`` (→ ``summary.json``).

    What ``salscope evaluate`` calls before ``result.write``; ``kwargs`` as :func:`paired_statistics`.
    """
    stats_ = paired_statistics(result, **kwargs)
    result.extra.update(stats_.summary_keys())
    return stats_
