"""``run_study``: the study's stages in order, cached and resumable (one module per stage in :mod:`salscope.study.stages`).

Stages, in order (each cached under ``OUT/stages/<stage>-<hash>/``):

``train``     set-ups I (encoder fixed), II (saliency fine-tune), II′ (II again
              with seed + 1) and III (scene fine-tune on the same images), none
              of them on the region-annotated images — :func:`salscope.train.train`.
``evaluate``  deep (I, II), classical, centre-bias and inter-observer models on
              the natural test split — :mod:`salscope.analysis.evaluation`; a
              gallery of their maps — :mod:`salscope.analysis.gallery`.
``popout``    generate the pop-out benchmark and score the same models with
              centre priors off — :mod:`salscope.analysis.popout.scoring`; a gallery.
``neurons``   region-based NSS and Network Dissection of the pretrained, II and
              III encoders on held-out annotated images, with permutation nulls,
              random-initialisation references and bootstrap intervals —
              :mod:`salscope.analysis.neurons.analysis`, :mod:`salscope.analysis.neurons.stats`;
              the neuron browser's data and thumbnails (``browser/``) —
              :mod:`salscope.analysis.neurons.browser`.
``compare``   linear CKA and Gram-change directions between pretrained, II, II′
              and III, task vs domain — :mod:`salscope.analysis.representation.compare`.
``report``    ``OUT/report/index.html`` — :mod:`salscope.study.report_stage`; the
              verdicts are decided in :mod:`salscope.study.findings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from salscope.errors import DataError
from salscope.report.figures import figure_formats, missing_formats
from salscope.settings import data_dir as resolve_data_dir
from salscope.study.config import StudyConfig
from salscope.study.runner import Stage, run_stages
from salscope.study.stages.common import annotated_ids, data_root
from salscope.study.stages.compare import stage_compare
from salscope.study.stages.evaluate import stage_evaluate
from salscope.study.stages.neurons import check_held_out, stage_neurons
from salscope.study.stages.popout import stage_popout
from salscope.study.stages.train import stage_train

__all__ = ["annotated_ids", "build_stages", "check_held_out", "check_inputs", "data_root", "run_study", "stage_compare",
           "stage_evaluate", "stage_neurons", "stage_popout", "stage_train"]


def check_inputs(config: StudyConfig, data_dir: Path | None) -> dict[str, str]:
    """Check every input folder/file the study needs before it starts; return their paths (provenance)."""
    root = resolve_data_dir(data_dir)
    needed = {
        "dataset": root / config.data.dataset,
        "regions": root / config.data.regions,
        "scene labels": root / config.data.scenes,
    }
    missing = [f"{what} at {path}" for what, path in needed.items() if not path.exists()]
    if missing:
        raise DataError(
            "the study cannot start: missing " + "; ".join(missing)
            + f" (data root {root}; set SALSCOPE_DATA or --data-dir, or change [data] in the config)"
        )
    provenance = {what: str(path.resolve()) for what, path in needed.items()}
    readme = root / config.data.dataset / "README.md"
    if readme.is_file():
        # errors="replace": a README that is not UTF-8 is provenance, not input; never a reason to stop.
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
        provenance["dataset README"] = lines[0].lstrip("# ").strip() if lines else ""
    return provenance


def build_stages(report: Any) -> list[Stage]:
    """The study's stages in order (``report`` is the report stage's function)."""
    return [
        Stage("train", ("data", "train"), stage_train, title="Train set-ups I, II, II′, III"),
        Stage("evaluate", ("data", "evaluate"), stage_evaluate, upstream=("train",), title="Natural images"),
        Stage("popout", ("popout",), stage_popout, upstream=("train",), title="Pop-out arrays"),
        Stage("neurons", ("data", "neurons"), stage_neurons, upstream=("train",), title="Neuron analysis"),
        Stage("compare", ("data", "compare"), stage_compare, upstream=("train",), title="Representation change"),
    ]


def run_study(config: StudyConfig, out_dir: str | Path, *, data_dir: str | Path | None = None,
              only: list[str] | None = None, force: list[str] | None = None, log=print) -> Path:
    """Run (or resume) the study into ``out_dir`` and write ``out_dir/report/index.html``; return its path."""
    from salscope.study import report_stage  # noqa: PLC0415

    out_dir = Path(out_dir)
    data_dir = Path(data_dir) if data_dir is not None else None
    provenance = check_inputs(config, data_dir)
    with figure_formats(config.report.figure_formats):   # every stage figure in the formats [report] names
        records = run_stages(config, build_stages(None), out_dir, data_dir=data_dir, only=only, force=force, log=log)
    for r in records:
        if r.status == "cached" and (lacking := missing_formats(r.results, config.report.figure_formats)):
            log(f"[{r.name}] its cached figures have no {'/'.join(lacking)} files ([report] figure_formats changed "
                f"since the stage ran); rerun with --force {r.name} to draw them")
    results = {r.name: r.results for r in records if r.results}
    stages = [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 1), "folder": str(r.folder.relative_to(out_dir))}
              for r in records]
    index = report_stage.render(config, results, stages, provenance, out_dir / "report")
    log(f"[report] {index}")
    return index
