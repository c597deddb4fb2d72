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
from salscope.report.browser import BrowserPage
from salscope.report.html import Gallery, GalleryCell, Section, Table, write_report
from salscope.study.config import StudyConfig, dump_toml
from salscope.study.findings import FINDINGS, browser_folder, category_pivot, stage_figures as _figures
from salscope.study.scope import SCOPES

__all__ = ["build_sections", "category_pivot", "gallery_section", "render", "versions"]


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


def _gallery(name: str, caption: str, gallery: dict[str, Any] | None) -> Gallery | None:
    if not gallery or not gallery.get("rows"):
        return None
    rows = [(row["label"], [GalleryCell(Path(c["path"]), c["alt"], c.get("label", "")) if Path(c["path"]).is_file()
                            else GalleryCell(None, c["alt"]) for c in row["cells"]]) for row in gallery["rows"]]
    return Gallery(name, caption, list(gallery["columns"]), rows)


def gallery_section(results: dict[str, dict[str, Any]]) -> Section | None:
    """The maps themselves: natural test images and pop-out arrays, each model's map beside the human data."""
    evaluate, popout = results.get("evaluate") or {}, results.get("popout") or {}
    galleries = [g for g in (
        _gallery("natural", f"Natural images (OSIE {evaluate.get('split', 'test')} split, spread over the "
                 f"{evaluate.get('n_images')} evaluated): the image, every observer's fixations, their density (1° "
                 "Gaussian, the evaluation's gold map), then each model's saliency map, min–max normalised (bright = "
                 "salient), with its NSS on that image.", evaluate.get("gallery")),
        _gallery("popout", "Pop-out arrays, one per feature dimension at the largest target–distractor difference evaluated: the "
                 "array, its target (circled), then each model's map (centre priors off) with its first fixation, the "
                 "map's maximum (+), and whether that fixation lands on the target "
                 f"(hit rule '{(popout.get('gallery') or {}).get('hit', popout.get('hit', 'item'))}').",
                 popout.get("gallery"))) if g is not None]
    if not galleries:
        return None
    return Section("gallery", "Gallery: the saliency maps", "",
                   text="What the models predict, next to where people looked: the numbers of finding 3 are averages "
                        "over maps like these.", galleries=galleries)


def build_sections(results: dict[str, dict[str, Any]], *, smoke: bool = False,
                   config: StudyConfig | None = None) -> list[Section]:
    """The training summary, the gallery, then one section per finding (:data:`salscope.study.findings.FINDINGS`).

    With ``config`` every finding also says what this run can and cannot show
    (:mod:`salscope.study.scope`).
    """
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
    gallery = gallery_section(results)
    if gallery is not None:
        sections.append(gallery)
    for finding in FINDINGS:
        section = finding.section(results)
        if section is not None:
            if config is not None and finding.id in SCOPES:
                section.scope = SCOPES[finding.id](results, config)
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
    folder = browser_folder(results)
    browser = None if folder is None else BrowserPage.load(
        folder, title=f"{title}: neuron browser",
        note="Encoders: pretrained (ImageNet), II (fine-tuned for saliency) and III (fine-tuned for scene "
             "classification on the same images); the images were held out of their training unless the report's "
             "finding 1 says otherwise.")
    return write_report(out_dir, title=title, sections=build_sections(results, smoke=smoke, config=config), meta=meta,
                        figure_formats=config.report.figure_formats, table_formats=config.report.table_formats,
                        browser=browser)
