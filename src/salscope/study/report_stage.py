"""Assemble the study report from the stages' results.

Each section states the paper's claim, shows this run's numbers and figures,
and carries the verdict computed by its finding in :mod:`salscope.study.findings`.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
from pathlib import Path
from typing import Any

from salscope import __version__
from salscope.report.html import Section, Table, write_report
from salscope.study.config import StudyConfig, dump_toml
from salscope.study.findings import FINDINGS, category_pivot, stage_figures as _figures

__all__ = ["build_sections", "category_pivot", "render", "versions"]


def versions() -> dict[str, str]:
    """Versions of salscope, Python and the key libraries."""
    out = {"salscope": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "numpy", "scipy", "lightning", "POT", "opencv-python-headless", "efficientnet-lite-pytorch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def images_used(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per stage and use: how many images, and (neurons) how many of them a fine-tuned set-up saw."""
    rows = list(results.get("train", {}).get("images_table", []))
    neurons = results.get("neurons")
    if neurons:
        rows.append({"stage": "neurons", "use": "region-annotated images analysed", "images": neurons.get("n_images"),
                     "trained on": len(neurons.get("overlap_ids") or [])})
    for name, use in (("evaluate", "natural test images"), ("popout", "pop-out arrays"),
                      ("compare", "CKA probe images (test split)")):
        if results.get(name):
            rows.append({"stage": name, "use": use, "images": results[name].get("n_images")})
    return rows


def build_sections(results: dict[str, dict[str, Any]], *, smoke: bool = False) -> list[Section]:
    """The training summary, then one section per finding (:data:`salscope.study.findings.FINDINGS`)."""
    train = results.get("train", {})
    sections: list[Section] = []
    if smoke:
        sections.append(Section(
            "smoke", "Smoke run", "",
            text="Smoke run: too small for the verdicts to be trusted. This run used the quick preset (a few "
                 "training steps, a subset of the images); use `salscope study --standard` for a run whose "
                 "intervals mean something."))
    if train:
        sections.append(Section(
            "training", "Set-ups I, II, II′ and III", "",
            text=train.get("text", ""),
            tables=[Table("training", "Training of the set-ups (validation scores)", train.get("table", [])),
                    Table("images", "Which images each stage used, and whether any analysed image was trained on",
                          images_used(results))],
            figures=_figures(train),
        ))
    for finding in FINDINGS:
        section = finding.section(results)
        if section is not None:
            sections.append(section)
    return sections


def render(config: StudyConfig, results: dict[str, dict[str, Any]], stages: list[dict[str, Any]],
           provenance: dict[str, str], out_dir: Path, title: str = "salscope study") -> Path:
    """Write the report folder; return the path of ``index.html``."""
    ids: dict[str, Any] = {f"train/{k}": {"train": v.get("train_ids", []), "val": v.get("val_ids", [])}
                           for k, v in results.get("train", {}).get("setups", {}).items()}
    for name in ("neurons", "evaluate", "compare"):
        if results.get(name, {}).get("image_ids") is not None:
            ids[name] = results[name]["image_ids"]
    meta = {"image_ids": ids, "versions": versions(), "stages": stages, "provenance": provenance, "config_toml": dump_toml(config),
            "config": config.to_dict()}
    smoke = getattr(getattr(config, "run", None), "scale", "") == "quick"
    return write_report(out_dir, title=title, sections=build_sections(results, smoke=smoke), meta=meta,
                        figure_formats=config.report.figure_formats, table_formats=config.report.table_formats)
