"""The whole study on a tiny configuration: stages, resume after a failure, the report (in Chromium: test_report_browser)."""

from __future__ import annotations

import json
import math

import pytest

from salscope.errors import DataError
from salscope.report import verdicts as V
from salscope.study import pipeline
from salscope.study.config import build_config

STAGES = ["train", "evaluate", "popout", "neurons", "compare"]


def _stage(out, name):
    [path] = list((out / "stages").glob(f"{name}-*/stage.json"))
    return json.loads(path.read_text())["results"]


def test_resume_redoes_only_the_unfinished_stage(study):
    logs = study["logs"]
    for name in STAGES[:-1]:
        assert f"[{name}] cached" in " ".join(logs), logs
    assert any(line.startswith("[compare] running") for line in logs)
    assert study["index"].is_file()


def test_stage_numbers_are_sane(study):
    out = study["out"]
    train = _stage(out, "train")
    assert set(train["setups"]) == {"fixed", "saliency", "replicate", "scene"}
    assert train["setups"]["replicate"]["seed"] == train["setups"]["saliency"]["seed"] + 1
    assert train["finetune_from"] == "block13"          # conv5_1-like: three layers before the decoder's input
    evaluate = {r["model"]: r for r in _stage(out, "evaluate")["table"]}
    assert {"set-up I", "set-up II", "builtin", "spectral_residual", "signature", "center_bias", "inter_observer"} <= set(evaluate)
    assert evaluate["inter_observer"]["nss"] > evaluate["center_bias"]["nss"] > 0
    assert all(0 <= r["auc_judd"] <= 1 for r in evaluate.values())
    popout = _stage(out, "popout")
    assert {r["kind"] for r in popout["overall"]} == {"deep", "classical"}
    assert all(0 <= r["fraction_first"] <= r["fraction_found"] <= 1 for r in popout["overall"])
    neurons = _stage(out, "neurons")
    assert neurons["layers"] == ["block13", "block14", "block15"]
    assert neurons["input_size"] == [64, 96]                       # the training input size by default
    assert {r["model"] for r in neurons["per_category"]} == {"pretrained", "saliency", "scene", "random0"}
    # held out: no analysed image was trained or validated on by a fine-tuned set-up
    seen = set().union(*(set(s["train_ids"]) | set(s["val_ids"]) for s in train["setups"].values()))
    assert neurons["image_ids"] and not set(neurons["image_ids"]) & seen and neurons["overlap_ids"] == []
    assert set(train["excluded_ids"]) >= set(neurons["image_ids"])
    assert all(0 < r["p_top_k"] <= 1 for r in neurons["encoded"] if r["p_top_k"] is not None)
    compare = _stage(out, "compare")
    assert [r["layer"] for r in compare["per_layer"]][-1] == "block15"
    for row in compare["per_layer"]:
        for key in ("cka_pre_saliency", "cka_pre_scene", "cka_saliency_scene"):
            assert -0.2 <= row[key] <= 1.0 + 1e-9
        if row["fine_tuned"]:   # frozen layers do not move: their alignments are undefined (None)
            assert math.isfinite(row["align_scene"]) and math.isfinite(row["align_replicate"])
            assert row["decision"] in {V.REPRODUCED, V.NOT_REPRODUCED, V.INCONCLUSIVE}
        else:
            assert row["move_saliency"] == pytest.approx(0, abs=1e-9)
    # set-up II changed the fine-tuned layers, not the frozen ones
    comparison = json.loads(next((out / "stages").glob("compare-*/comparison.json")).read_text())
    change = dict(zip(comparison["layers"], comparison["weight_change"]["saliency"]))
    assert change["block12"] == 0 and change["block13"] > 0


def test_report_has_every_finding_with_a_computed_verdict(study):
    page = study["index"].read_text()
    for anchor in ("encoded", "bias", "natural", "task", "training"):
        assert f'id="{anchor}"' in page
    assert "Which images each stage used" in page and "Smoke run" not in page
    statuses = {V.REPRODUCED, V.NOT_REPRODUCED, V.INCONCLUSIVE}
    meta = json.loads((study["index"].parent / "tables" / "meta.json").read_text())
    assert [s["name"] for s in meta["stages"]] == STAGES
    assert meta["config"]["train"]["epochs"] == 1
    assert set(meta["image_ids"]) >= {"train/saliency", "neurons", "evaluate", "compare"}
    assert sum(page.count(f">{s}<") for s in statuses) >= 8     # glance table + each section
    assert "https://" not in page and "http://" not in page


def test_missing_data_names_what_and_where(tmp_path, data_root):
    config = build_config({"data": {"regions": "no-such-regions"}})
    with pytest.raises(DataError, match=r"missing regions at .*no-such-regions"):
        pipeline.run_study(config, tmp_path, data_dir=data_root, log=lambda m: None)
    assert not (tmp_path / "stages").exists()


def test_paper_preset_runs_end_to_end_on_vgg16(tmp_path, data_root, tiny):
    """--paper wiring (VGG-16 layer names, conv5_1 fine-tuning, conv4_3/5_1/5_3 analysis) with random weights."""
    tiny = {**tiny, "train": {**tiny["train"], "weights": "none", "input_size": [64, 64], "max_train_images": 4,
                             "batch_size": 2},
            "evaluate": {**tiny["evaluate"], "gallery": 0}, "popout": {**tiny["popout"], "gallery": 0},
            "neurons": {"max_images": 3, "input_size": [64, 64], "browser_images": 0},   # wiring only: no pictures
            "compare": {"max_images": 6, "bootstrap": 5},
            "report": {"figure_formats": ["png"]}}   # PNG only: the vector formats are the tiny study's to test
    config = build_config(tiny, preset="paper")
    assert config.train.backbone == "vgg16" and config.train.finetune_from == "conv5_1"
    index = pipeline.run_study(config, tmp_path, data_dir=data_root, log=lambda m: None)
    train = _stage(tmp_path, "train")
    assert train["finetune_from"] == "conv5_1"
    assert _stage(tmp_path, "neurons")["layers"] == ["conv4_3", "conv5_1", "conv5_3"]
    compare = _stage(tmp_path, "compare")
    assert [r["layer"] for r in compare["per_layer"]] == ["conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]
    assert index.is_file()
    assert not list((index.parent / "figures").glob("*.pdf"))
    # asking for PDF/SVG later reruns no stage; the log names the stages whose cached figures lack them
    logs: list[str] = []
    again = build_config({**tiny, "report": {}}, preset="paper")
    pipeline.run_study(again, tmp_path, data_dir=data_root, log=logs.append)
    assert not any("running" in line for line in logs), logs
    for name in ("popout", "neurons", "compare"):
        assert f"[{name}] its cached figures have no pdf/svg files ([report] figure_formats changed since the stage " \
               f"ran); rerun with --force {name} to draw them" in logs, logs


def test_report_carries_every_figure_as_pdf_and_svg_and_every_table_as_latex(study):
    """[report] defaults: figure_formats png, pdf, svg; table_formats csv, json, md, tex (issue 20, item 7)."""
    import xml.etree.ElementTree as ET

    report = study["index"].parent
    pngs = sorted((report / "figures").glob("*.png"))
    assert len(pngs) >= 5
    page = study["index"].read_text()
    for png in pngs:
        pdf, svg = png.with_suffix(".pdf"), png.with_suffix(".svg")
        assert pdf.read_bytes()[:5] == b"%PDF-", pdf
        assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg", svg
        assert f'href="figures/{pdf.name}">PDF</a>' in page and f'href="figures/{svg.name}">SVG</a>' in page
    csvs = sorted((report / "tables").glob("*.csv"))
    assert csvs
    for table in csvs:
        tex = table.with_suffix(".tex").read_text()
        assert "\\toprule" in tex and "\\bottomrule" in tex, table
        columns = table.read_text().splitlines()[0].count(",") + 1
        header = next(line for line in tex.splitlines() if line.endswith("\\\\"))
        assert header.replace("\\&", "").count("&") == columns - 1, table
        assert table.with_suffix(".md").is_file() and table.with_suffix(".json").is_file()
