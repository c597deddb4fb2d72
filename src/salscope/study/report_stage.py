"""Assemble the study report from the stages' results.

Each section states the paper's claim, shows this run's numbers and figures,
and carries the verdict computed in :mod:`salscope.report.verdicts`.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
from pathlib import Path
from typing import Any

from salscope import __version__
from salscope.report import verdicts as V
from salscope.report.html import Figure, Section, Table, write_report
from salscope.study.config import StudyConfig, dump_toml

CLAIMS = {
    "encoded": "Some salient-region categories (head, text, symbol, vehicle) are already encoded by neurons in "
               "several layers of an ImageNet-pretrained network.",
    "bias": "Fine-tuning for saliency makes the network favour some categories (person head) over others (text).",
    "natural": "Deep saliency models beat classical ones on natural images, but the converse holds on synthetic "
               "pop-out search arrays.",
    "task": "After fine-tuning, the change of the inner representations is due mostly to the task, not to the "
            "domain shift of the data (the same network fine-tuned on the same images for scene classification).",
}


def _figures(results: dict[str, Any], key: str = "figures") -> list[Figure]:
    out = []
    for fig in results.get(key) or []:
        path = Path(fig["path"])
        if path.is_file():
            out.append(Figure(path, fig.get("alt") or path.stem.replace("_", " "), fig.get("caption", "")))
    return out


def versions() -> dict[str, str]:
    """Versions of salscope, Python and the key libraries."""
    out = {"salscope": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "numpy", "scipy", "lightning", "POT", "opencv-python-headless", "efficientnet-lite-pytorch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
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


def build_sections(results: dict[str, dict[str, Any]]) -> list[Section]:
    """One section per finding plus the training summary, from the stage results present."""
    train = results.get("train", {})
    evaluate = results.get("evaluate", {})
    popout = results.get("popout", {})
    neurons = results.get("neurons", {})
    compare = results.get("compare", {})
    sections: list[Section] = []
    if train:
        sections.append(Section(
            "training", "Set-ups I, II and III", "",
            text=train.get("text", ""),
            tables=[Table("training", "Training of the three set-ups (validation scores)", train.get("table", []))],
            figures=_figures(train),
        ))
    if neurons:
        sections.append(Section(
            "encoded", "Finding 1: salient categories in a pretrained network", CLAIMS["encoded"],
            V.finding_encoded(neurons), text=neurons.get("text", ""),
            tables=[Table("neurons_pretrained", "Region-based NSS per layer and category, pretrained encoder",
                          [r for r in neurons.get("per_category", []) if r["model"] == "pretrained"])],
            figures=_figures(neurons, "figures_encoded"),
        ))
        sections.append(Section(
            "bias", "Finding 2: fine-tuning favours some categories", CLAIMS["bias"], V.finding_bias(neurons),
            tables=[Table("neurons_deepest", f"Top-k mean region NSS and channels above T per category in "
                          f"{(neurons.get('layers') or ['?'])[-1]}: pretrained, saliency (II), scene (III)",
                          category_pivot(neurons, (neurons.get("layers") or [""])[-1])),
                    Table("neurons_changed", "Channels that changed their best category", neurons.get("changed", [])),
                    Table("neurons_all", "Region-based NSS per model, layer and category", neurons.get("per_category", []),
                          inline=False)],
            figures=_figures(neurons, "figures_bias"),
        ))
    if evaluate or popout:
        sections.append(Section(
            "natural", "Finding 3: natural images vs pop-out search arrays", CLAIMS["natural"],
            V.finding_natural_vs_synthetic(evaluate, popout),
            tables=[Table("natural", "Natural images (OSIE test split)", evaluate.get("table", [])),
                    Table("popout_overall", "Pop-out arrays: targets found and fixations to find them",
                          popout.get("overall", [])),
                    Table("popout_by_dimension", "Pop-out arrays per feature dimension", popout.get("by_dimension", []))],
            figures=_figures(evaluate) + _figures(popout),
        ))
    if compare:
        sections.append(Section(
            "task", "Finding 4: task, not domain", CLAIMS["task"], V.finding_task_not_domain(compare),
            text=compare.get("text", ""),
            tables=[Table("representation", "Linear CKA between encoders per layer (bootstrap 95 % intervals)",
                          compare.get("per_layer", []))],
            figures=_figures(compare),
        ))
    return sections


def render(config: StudyConfig, results: dict[str, dict[str, Any]], stages: list[dict[str, Any]],
           provenance: dict[str, str], out_dir: Path, title: str = "salscope study") -> Path:
    """Write the report folder; return the path of ``index.html``."""
    meta = {"versions": versions(), "stages": stages, "provenance": provenance, "config_toml": dump_toml(config),
            "config": config.to_dict()}
    return write_report(out_dir, title=title, sections=build_sections(results), meta=meta)
