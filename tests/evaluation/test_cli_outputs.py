"""``salscope evaluate`` in a pipe: every value printed in full; figures and tables in the formats asked for (issue 20)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
from typer.testing import CliRunner

from salscope.cli import app
from salscope.data import load_dataset

LONG = "builtin_model_fine_tuned_for_twelve_epochs_on_osie"


def test_piped_evaluate_prints_full_values_and_writes_vector_figures_and_latex(data_root, tmp_path):
    ds = load_dataset("osie", data_root).split("test", seed=0)
    maps = tmp_path / LONG
    maps.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        h, w = ds.stimuli.sizes[i]
        np.save(maps / f"{ds.ids[i]}.npy", rng.random((h, w)))
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, [
        "evaluate", str(maps), "--metrics", "auc,auc_judd,nss,cc,kld,sim", "--max-images", "2",
        "--examples", "1", "--figure-formats", "png,pdf,svg", "--table-formats", "md,csv,tex", "--out", str(out),
        "--data-dir", str(data_root)])
    assert result.exit_code == 0, result.output
    printed = result.output
    summary = json.loads((out / "summary.json").read_text())["summary"]
    assert "…" not in printed
    for model in (LONG,):
        line = next(l for l in printed.splitlines() if l.startswith(f"| {model} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells == [model] + [f"{summary[model][m]:.4f}" for m in ("auc", "auc_judd", "nss", "cc", "kld", "sim")]
    # the example figures in every format asked for, each a valid file
    stem = out / f"examples_{LONG}"
    assert stem.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert stem.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    assert ET.parse(stem.with_suffix(".svg")).getroot().tag.endswith("svg")
    # the summary table as Markdown (with the notes), CSV and LaTeX
    assert (out / "summary.md").read_text().startswith("| model | AUC | AUC-Judd | NSS | CC | KLD ↓ | SIM |")
    assert (out / "summary.csv").read_text().splitlines()[0] == "model,auc,auc_judd,nss,cc,kld,sim"
    tex = (out / "summary.tex").read_text()
    assert LONG.replace("_", r"\_") + " & " in tex and r"\begin{tabular}{lrrrrrr}" in tex
    assert f"wrote {out / 'summary.tex'}" in printed
