"""Verdicts on the paper's four findings, computed from a study's numbers.

Each function takes the results dict of the stage(s) it judges and returns a
:class:`Verdict`: ``reproduced``, ``not reproduced`` or ``inconclusive``, plus
one line saying which numbers decided it. Nothing here is written by hand
into the report.

References
----------
He, Tavakoli, Borji, Mi, Pugeault. Understanding and Visualizing Deep Visual
Saliency Models. CVPR 2019 — the four claims listed in ``paper/BRIEF.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"

#: Categories the paper says a pretrained network already encodes (finding 1).
ENCODED_CATEGORIES = ("person head", "text", "symbol", "vehicle")


@dataclass
class Verdict:
    """The outcome of one finding and the sentence that justifies it."""

    status: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status, "reason": self.reason}


def _rows(results: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return list(results.get(key) or [])


def finding_encoded(neurons: dict[str, Any], model: str = "pretrained") -> Verdict:
    """Finding 1: head, text, symbol and vehicle each have channels with region NSS > T in the pretrained encoder.

    Reproduced when every one of the four categories has at least one channel
    above the threshold in some analysed layer; not reproduced when none has;
    inconclusive when only some do or a category has no annotated regions.
    """
    rows = [r for r in _rows(neurons, "per_category") if r.get("model") == model]
    if not rows:
        return Verdict(INCONCLUSIVE, f"no neuron-analysis rows for the {model} encoder")
    best: dict[str, int] = {}
    for row in rows:
        best[row["category"]] = max(best.get(row["category"], 0), int(row["count_above"]))
    absent = [c for c in ENCODED_CATEGORIES if c not in best]
    parts = ", ".join(f"{c}: {best[c]}" for c in ENCODED_CATEGORIES if c in best)
    threshold = neurons.get("threshold", 1.5)
    if absent:
        return Verdict(INCONCLUSIVE, f"no annotated regions for {', '.join(absent)} (max channels > T={threshold}: {parts})")
    encoded = [c for c in ENCODED_CATEGORIES if best[c] > 0]
    if len(encoded) == len(ENCODED_CATEGORIES):
        return Verdict(REPRODUCED, f"every category has channels with region NSS > {threshold} in some layer ({parts})")
    if not encoded:
        return Verdict(NOT_REPRODUCED, f"no category has a channel with region NSS > {threshold} ({parts})")
    return Verdict(INCONCLUSIVE, f"only {', '.join(encoded)} have channels with region NSS > {threshold} ({parts})")


def finding_bias(neurons: dict[str, Any], before: str = "pretrained", after: str = "saliency",
                 favoured: str = "person head", disfavoured: str = "text") -> Verdict:
    """Finding 2: saliency fine-tuning raises the favoured category (head) more than the other (text).

    Compares the change of the top-k mean region NSS, after − before, in the
    deepest analysed layer (the fine-tuned one). Reproduced when the head's
    gain exceeds the text's; not reproduced otherwise; inconclusive when a
    category or a model is missing.
    """
    rows = _rows(neurons, "per_category")
    layers = list(neurons.get("layers") or [])
    if not rows or not layers:
        return Verdict(INCONCLUSIVE, "no neuron-analysis results")
    layer = layers[-1]
    table = {(r["model"], r["category"]): float(r["topk_mean"]) for r in rows if r["layer"] == layer}
    needed = [(m, c) for m in (before, after) for c in (favoured, disfavoured)]
    missing = [f"{m}/{c}" for m, c in needed if (m, c) not in table]
    if missing:
        return Verdict(INCONCLUSIVE, f"missing scores in {layer}: {', '.join(missing)}")
    gain_f = table[(after, favoured)] - table[(before, favoured)]
    gain_d = table[(after, disfavoured)] - table[(before, disfavoured)]
    text = (f"in {layer}, top-k mean region NSS changed by {gain_f:+.3f} for {favoured} "
            f"and {gain_d:+.3f} for {disfavoured}")
    return Verdict(REPRODUCED if gain_f > gain_d else NOT_REPRODUCED, text)


def finding_natural_vs_synthetic(evaluate: dict[str, Any], popout: dict[str, Any], metric: str = "nss") -> Verdict:
    """Finding 3: deep models beat classical ones on natural images, classical beat deep on pop-out arrays.

    Natural: the best deep model's ``metric`` against the best classical one.
    Synthetic: the best classical model's fraction of pop-out targets found by
    the first fixation — the map's maximum lies on the target (conjunction
    controls excluded) — against the best deep model's. "Found within 100
    fixations" is not used: it rewards smooth maps as much as pop-out. Both
    halves hold → reproduced; neither → not reproduced; one → inconclusive.
    """
    table = _rows(evaluate, "table")
    deep = [r for r in table if r.get("kind") == "deep" and r.get(metric) is not None]
    classical = [r for r in table if r.get("kind") == "classical" and r.get(metric) is not None]
    overall = _rows(popout, "overall")
    pdeep = [r for r in overall if r.get("kind") == "deep"]
    pclassical = [r for r in overall if r.get("kind") == "classical"]
    if not (deep and classical and pdeep and pclassical):
        return Verdict(INCONCLUSIVE, "needs deep and classical models on both natural and pop-out images")
    bd = max(deep, key=lambda r: r[metric])
    bc = max(classical, key=lambda r: r[metric])
    pd = max(pdeep, key=lambda r: r["fraction_first"])
    pc = max(pclassical, key=lambda r: r["fraction_first"])
    natural = bd[metric] > bc[metric]
    synthetic = pc["fraction_first"] > pd["fraction_first"]
    text = (f"natural {metric.upper()}: best deep {bd['model']} {bd[metric]:.3f} vs best classical "
            f"{bc['model']} {bc[metric]:.3f}; pop-out targets found by the first fixation: best classical "
            f"{pc['model']} {pc['fraction_first']:.2f} vs best deep {pd['model']} {pd['fraction_first']:.2f}")
    if natural and synthetic:
        return Verdict(REPRODUCED, text)
    if not natural and not synthetic:
        return Verdict(NOT_REPRODUCED, text)
    return Verdict(INCONCLUSIVE, text)


def finding_task_not_domain(representation: dict[str, Any]) -> Verdict:
    """Finding 4: fine-tuning changes representations by task, not by the data's domain.

    Saliency (II) and scene (III) fine-tuning saw the same images. If the data's
    domain drove the change, II and III would move alike and stay close to each
    other; if the task drove it, II ends further from III than III is from the
    pretrained encoder. Per fine-tuned layer we take
    ``delta = CKA(pre, III) − CKA(II, III)`` with its bootstrap interval:
    reproduced when the interval is above 0 in the deepest layer, not
    reproduced when below, inconclusive when it contains 0.
    """
    rows = _rows(representation, "per_layer")
    rows = [r for r in rows if r.get("delta") is not None]
    if not rows:
        return Verdict(INCONCLUSIVE, "no representation-comparison results")
    row = rows[-1]
    lo, hi = row.get("delta_ci", [None, None])
    text = (f"{row['layer']}: CKA(pre, II) {row['cka_pre_saliency']:.3f}, CKA(pre, III) {row['cka_pre_scene']:.3f}, "
            f"CKA(II, III) {row['cka_saliency_scene']:.3f}; delta {row['delta']:+.3f}"
            + (f" [{lo:+.3f}, {hi:+.3f}]" if lo is not None else ""))
    if lo is None:
        return Verdict(INCONCLUSIVE, text + " (no confidence interval)")
    if lo > 0:
        return Verdict(REPRODUCED, text)
    if hi < 0:
        return Verdict(NOT_REPRODUCED, text)
    return Verdict(INCONCLUSIVE, text)
