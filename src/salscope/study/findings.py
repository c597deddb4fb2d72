"""The paper's four findings: each one's claim, the test that decides it, and its report section.

One :class:`Finding` per claim of He et al. (2019). Its ``decide`` reads the
results of the stages it needs and returns a
:class:`~salscope.report.verdicts.Verdict`; its ``section`` turns the same
results into the report's section (tables, figures, the verdict). Every rule
is a test with a stated error rate or an interval, never a bare comparison of
two numbers:

1. *Encoded* — per layer and category a permutation null (category labels
   shuffled across the region instances, Phipson & Smyth p-values), Holm
   correction over categories × layers, and a random-initialisation reference
   (the same architecture with random weights, several seeds). A category is
   encoded when its top-k mean beats the null (adjusted p < α) *and* its excess
   over the null is larger than in every random network.
2. *Bias* — the gain of the top-k mean region NSS from the pretrained encoder
   to set-up II, person head minus text, with a bootstrap interval over images.
3. *Natural vs synthetic* — set-ups trained in this study against the best
   classical model: on natural images by shuffled AUC (which a centre prior
   cannot win), on pop-out arrays by the fraction of targets found at the first
   fixation (item-level), each a paired bootstrap interval.
4. *Task, not domain* — a direction-aware statistic against a same-task
   replicate (set-up II trained again with another seed): see
   :func:`salscope.analysis.representation.verdict.task_vs_domain_decision`.

Each rule says ``reproduced`` only when its interval (or adjusted p-value)
excludes the null, ``not reproduced`` when the evidence is against the claim,
and ``inconclusive`` otherwise.

References
----------
He, Tavakoli, Borji, Mi, Pugeault. Understanding and Visualizing Deep Visual
Saliency Models. CVPR 2019. Phipson & Smyth, "Permutation P-values Should Never
Be Zero", SAGMB 2010. Holm, "A simple sequentially rejective multiple test
procedure", Scand. J. Statist. 1979. Efron & Tibshirani, An Introduction to the
Bootstrap, 1993. Kornblith et al., "Similarity of Neural Network Representations
Revisited", ICML 2019.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from salscope.report.browser import PAGE as BROWSER_PAGE
from salscope.report.browser import channel_link
from salscope.report.html import Figure, Link, Section, Table
from salscope.report.verdicts import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Verdict

#: Categories the paper says a pretrained network already encodes (finding 1).
ENCODED_CATEGORIES = ("person head", "text", "symbol", "vehicle")
#: Finding 2's contrast: the favoured and the disfavoured category.
BIAS_CONTRAST = ("person head", "text")


def _rows(results: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    return list((results or {}).get(key) or [])


def _ci(lo: Any, hi: Any) -> str:
    return "" if lo is None or hi is None else f" [{lo:+.3f}, {hi:+.3f}]"


def _interval_status(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return INCONCLUSIVE
    if lo > 0:
        return REPRODUCED
    if hi < 0:
        return NOT_REPRODUCED
    return INCONCLUSIVE


# -- finding 1 ----------------------------------------------------------------------------------------------
def decide_encoded(neurons: dict[str, Any]) -> Verdict:
    """Finding 1: head, text, symbol and vehicle are encoded in some layer of the pretrained encoder.

    ``neurons["encoded"]``: one row per (layer, category) of the pretrained
    encoder with ``encoded`` (adjusted permutation p < α and excess over the
    null above every random-initialisation seed), ``p_holm``, ``top_k_excess``
    and ``random_excess_max``. Reproduced when all four categories are encoded
    in some layer; not reproduced when none is; inconclusive when only some
    are, or a category has no annotated region.
    """
    rows = _rows(neurons, "encoded")
    if not rows:
        return Verdict(INCONCLUSIVE, "no permutation-tested neuron rows for the pretrained encoder")
    alpha = neurons.get("alpha", 0.05)
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row.get("instances"):
            continue
        old = best.get(row["category"])
        key = (bool(row.get("encoded")), -(row.get("p_holm") if row.get("p_holm") is not None else 1.0))
        if old is None or key > (bool(old.get("encoded")), -(old.get("p_holm") if old.get("p_holm") is not None else 1.0)):
            best[row["category"]] = row
    n_tests = sum(1 for r in rows if r.get("instances") and r.get("p_holm") is not None)
    n_perm = neurons.get("permutations")
    if n_perm and n_tests and n_tests / (n_perm + 1) >= alpha:
        return Verdict(INCONCLUSIVE, f"{n_perm} permutations cannot reach α = {alpha} after Holm over {n_tests} tests "
                                     f"(smallest possible adjusted p = {n_tests}/{n_perm + 1}); use more "
                                     "[neurons] permutations")
    absent = [c for c in ENCODED_CATEGORIES if c not in best]
    parts = ", ".join(f"{c}: {'encoded' if best[c].get('encoded') else 'not'} in {best[c]['layer']} "
                      f"(Holm p {best[c].get('p_holm', float('nan')):.3g})" for c in ENCODED_CATEGORIES if c in best)
    others = sorted({r["category"] for r in rows if r.get("encoded") and r["category"] not in ENCODED_CATEGORIES})
    tail = f"; also encoded: {', '.join(others) if others else 'no other category'}"
    if absent:
        return Verdict(INCONCLUSIVE, f"no annotated regions for {', '.join(absent)} ({parts}){tail}")
    encoded = [c for c in ENCODED_CATEGORIES if best[c].get("encoded")]
    rule = f"permutation null, Holm over categories × layers at α = {alpha}, and above {neurons.get('random_seeds', 0)} random-init seeds"
    if len(encoded) == len(ENCODED_CATEGORIES):
        return Verdict(REPRODUCED, f"all four encoded ({rule}): {parts}{tail}")
    if not encoded:
        return Verdict(NOT_REPRODUCED, f"none of the four is encoded ({rule}): {parts}{tail}")
    return Verdict(INCONCLUSIVE, f"only {', '.join(encoded)} encoded ({rule}): {parts}{tail}")


def browser_folder(results: dict[str, Any]) -> Path | None:
    """The neuron stage's browser folder when its data is on disk (the report then has ``neurons.html``)."""
    folder = ((results.get("neurons") or {}).get("browser") or {}).get("folder")
    return Path(folder) if folder and (Path(folder) / "data.json").is_file() else None


def _browser_links(results: dict[str, Any], gain: bool) -> list[Link]:
    if browser_folder(results) is None:
        return []
    g = results["neurons"]["browser"].get("largest_gain") if gain else None
    if not g:
        return [Link(BROWSER_PAGE, "Neuron browser: every channel, its regions and scores, before and after fine-tuning")]
    return [Link(channel_link(g["layer"], g["channel"]),
                 f"{g['layer']} channel {g['channel']}: the largest {g['category']} gain ({g['gain']:+.2f} region NSS, "
                 f"{g['reference']} {g['before']:.2f} → II {g['after']:.2f}), in the neuron browser")]


def _section_encoded(results: dict[str, Any]) -> Section | None:
    neurons = results.get("neurons")
    if not neurons:
        return None
    return Section(
        "encoded", "Finding 1: salient categories in a pretrained network", CLAIMS["encoded"], decide_encoded(neurons),
        text=neurons.get("text", "") + " " + neurons.get("encoded_text", ""),
        tables=[Table("encoded", "Pretrained encoder per layer and category: region-NSS top-k mean and count above T, "
                      "their permutation nulls, Holm-adjusted p, random-initialisation reference, cross-fitted top-k "
                      "and selective channels", _rows(neurons, "encoded")),
                Table("neurons_pretrained", "Region-based NSS per layer and category, pretrained encoder",
                      [r for r in _rows(neurons, "per_category") if r["model"] == "pretrained"], inline=False)],
        figures=stage_figures(neurons, "figures_encoded"), links=_browser_links(results, gain=False),
    )


# -- finding 2 ----------------------------------------------------------------------------------------------
def decide_bias(neurons: dict[str, Any]) -> Verdict:
    """Finding 2: saliency fine-tuning raises person head more than text.

    ``neurons["contrast"]``: ``{layer, favoured, disfavoured, gain_favoured,
    gain_disfavoured, diff, lo, hi, n_boot}`` — the gain of the cross-fitted
    top-k mean region NSS (channels chosen on half of the images, scored on the
    other; set-up II − pretrained, over the channels scored in both),
    favoured minus disfavoured, with its bootstrap interval over images.
    Reproduced when the interval is above 0, not reproduced when below,
    inconclusive when it contains 0.
    """
    c = (neurons or {}).get("contrast")
    if not c or c.get("diff") is None:
        return Verdict(INCONCLUSIVE, "no bootstrap of the fine-tuning gain (needs both categories annotated)")
    text = (f"in {c['layer']}, cross-fitted top-k mean region NSS gain {c['gain_favoured']:+.3f} for {c['favoured']} vs "
            f"{c['gain_disfavoured']:+.3f} for {c['disfavoured']}: difference {c['diff']:+.3f}"
            f"{_ci(c.get('lo'), c.get('hi'))} (95 % bootstrap over images, {c.get('n_boot')} resamples)")
    status = _interval_status(c.get("lo"), c.get("hi"))
    return Verdict(status, text + ("; the interval contains 0" if status == INCONCLUSIVE else ""))


def _section_bias(results: dict[str, Any]) -> Section | None:
    neurons = results.get("neurons")
    if not neurons:
        return None
    deepest = (neurons.get("layers") or [""])[-1]
    return Section(
        "bias", "Finding 2: fine-tuning favours some categories", CLAIMS["bias"], decide_bias(neurons),
        text=neurons.get("gain_text", ""),
        tables=[Table("gain", f"Gain of the top-k mean region NSS per category in {deepest}, pretrained → set-up II, "
                      "with 95 % bootstrap intervals over images, ranked", _rows(neurons, "gain")),
                Table("neurons_deepest", f"Top-k mean region NSS and channels above T per category in {deepest}: "
                      "pretrained, saliency (II), scene (III)", category_pivot(neurons, deepest)),
                Table("neurons_changed", "Channels that changed their best category", _rows(neurons, "changed")),
                Table("neurons_all", "Region-based NSS per model, layer and category", _rows(neurons, "per_category"),
                      inline=False)],
        figures=stage_figures(neurons, "figures_bias"), links=_browser_links(results, gain=True),
    )


# -- finding 3 ----------------------------------------------------------------------------------------------
def decide_natural_vs_synthetic(evaluate: dict[str, Any], popout: dict[str, Any]) -> Verdict:
    """Finding 3: trained deep set-ups beat classical models on natural images, classical beat them on pop-out.

    ``evaluate["contrast"]``: the best set-up trained in this study minus the
    best classical model on a centre-bias-free metric (shuffled AUC), paired
    bootstrap interval over test images. ``popout["contrast"]``: the best
    classical model minus the best trained set-up in the fraction of targets
    found by the first fixation (item-level hits, conjunction controls left
    out), paired bootstrap over arrays. Both intervals above 0 → reproduced;
    either below 0 → not reproduced; otherwise inconclusive. The shipped
    built-in model is reported but never decides.
    """
    nat, pop = (evaluate or {}).get("contrast"), (popout or {}).get("contrast")
    if not nat or not pop:
        return Verdict(INCONCLUSIVE, "needs trained deep set-ups and classical models on both natural and pop-out images")
    text = (f"natural {nat['metric']}: {nat['deep']} {nat['deep_value']:.3f} vs {nat['classical']} "
            f"{nat['classical_value']:.3f}, difference {nat['diff']:+.3f}{_ci(nat.get('lo'), nat.get('hi'))}; "
            f"pop-out found at the first fixation: {pop['classical']} {pop['classical_value']:.2f} vs {pop['deep']} "
            f"{pop['deep_value']:.2f}, difference {pop['diff']:+.2f}{_ci(pop.get('lo'), pop.get('hi'))}")
    a, b = _interval_status(nat.get("lo"), nat.get("hi")), _interval_status(pop.get("lo"), pop.get("hi"))
    if a == REPRODUCED and b == REPRODUCED:
        return Verdict(REPRODUCED, text)
    if NOT_REPRODUCED in (a, b):
        return Verdict(NOT_REPRODUCED, text)
    return Verdict(INCONCLUSIVE, text + "; an interval contains 0")


def _section_natural(results: dict[str, Any]) -> Section | None:
    evaluate, popout = results.get("evaluate", {}), results.get("popout", {})
    if not evaluate and not popout:
        return None
    return Section(
        "natural", "Finding 3: natural images vs pop-out search arrays", CLAIMS["natural"],
        decide_natural_vs_synthetic(evaluate, popout), text=evaluate.get("text", "") + " " + popout.get("text", ""),
        tables=[Table("natural", "Natural images (OSIE test split); 'origin' says which models this study trained",
                      _rows(evaluate, "table")),
                Table("popout_overall", "Pop-out arrays (conjunction controls left out): targets found, found by the "
                      "first fixation (item-level), the target's saliency rank among the items",
                      _rows(popout, "overall")),
                Table("popout_by_dimension", "Pop-out arrays per feature dimension", _rows(popout, "by_dimension"))],
        figures=stage_figures(evaluate) + stage_figures(popout),
    )


# -- finding 4 ----------------------------------------------------------------------------------------------
def decide_task_not_domain(representation: dict[str, Any]) -> Verdict:
    """Finding 4: the representation change is due to the task, not the data's domain.

    Decided in the deepest fine-tuned layer by
    :func:`salscope.analysis.representation.verdict.task_vs_domain_decision`: set-up II's Gram
    change from the pretrained encoder against set-up III's and against a
    same-task replicate II′ (each with a bootstrap interval over images).
    """
    from salscope.analysis.representation.verdict import task_vs_domain_decision  # noqa: PLC0415

    rows = [r for r in _rows(representation, "per_layer") if r.get("fine_tuned", True)]
    if not rows:
        return Verdict(INCONCLUSIVE, "no representation-comparison results")
    row = rows[-1]
    status, reason = task_vs_domain_decision(row, margin=representation.get("margin", 0.1))
    return Verdict(status, f"{row['layer']}: {reason}")


def _section_task(results: dict[str, Any]) -> Section | None:
    compare = results.get("compare")
    if not compare:
        return None
    return Section(
        "task", "Finding 4: task, not domain", CLAIMS["task"], decide_task_not_domain(compare),
        text=compare.get("text", ""),
        tables=[Table("representation", "Per layer: CKA between encoders, Gram-change sizes and directions "
                      "(II vs III, II vs the replicate II′), bootstrap 95 % intervals over images",
                      _rows(compare, "per_layer"))],
        figures=stage_figures(compare),
    )


# -- the catalogue ------------------------------------------------------------------------------------------
CLAIMS = {
    "encoded": "Some salient-region categories (head, text, symbol, vehicle) are already encoded by neurons in "
               "several layers of an ImageNet-pretrained network.",
    "bias": "Fine-tuning for saliency makes the network favour some categories (person head) over others (text).",
    "natural": "Deep saliency models beat classical ones on natural images, but the converse holds on synthetic "
               "pop-out search arrays.",
    "task": "After fine-tuning, the change of the inner representations is due mostly to the task, not to the "
            "domain shift of the data (the same network fine-tuned on the same images for scene classification).",
}


@dataclass(frozen=True)
class Finding:
    """One claim of the paper: its id, claim text, the stages it reads, and its report section."""

    id: str
    title: str
    claim: str
    stages: tuple[str, ...]
    section: Callable[[dict[str, Any]], Section | None]


FINDINGS = (
    Finding("encoded", "Finding 1", CLAIMS["encoded"], ("neurons",), _section_encoded),
    Finding("bias", "Finding 2", CLAIMS["bias"], ("neurons",), _section_bias),
    Finding("natural", "Finding 3", CLAIMS["natural"], ("evaluate", "popout"), _section_natural),
    Finding("task", "Finding 4", CLAIMS["task"], ("compare",), _section_task),
)


def verdicts(results: dict[str, dict[str, Any]]) -> dict[str, Verdict]:
    """The verdict of every finding whose stages ran: ``{finding id: Verdict}``."""
    out = {}
    for finding in FINDINGS:
        section = finding.section(results)
        if section is not None and section.verdict is not None:
            out[finding.id] = section.verdict
    return out


def category_pivot(neurons: dict[str, Any], layer: str) -> list[dict[str, Any]]:
    """One row per category in ``layer``: top-k mean and count above T for each model side by side."""
    rows: dict[str, dict[str, Any]] = {}
    for r in neurons.get("per_category", []):
        if r["layer"] != layer:
            continue
        row = rows.setdefault(r["category"], {"category": r["category"], "instances": r["instances"]})
        row[f"top-k {r['model']}"] = r["topk_mean"]
        row[f"> T {r['model']}"] = r["count_above"]
    return list(rows.values())


def stage_figures(results: dict[str, Any], key: str = "figures") -> list[Figure]:
    out = []
    for fig in (results or {}).get(key) or []:
        path = Path(fig["path"])
        if path.is_file():
            out.append(Figure(path, fig.get("alt") or path.stem.replace("_", " "), fig.get("caption", "")))
    return out
