"""``salscope evaluate`` on a few OSIE images through salscope.cli.main."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from salscope.cli import main


def test_evaluate_cli_writes_tables_and_examples(data_root, tmp_path, capsys):
    out = tmp_path / "eval"
    rc = main([
        "evaluate", "center_bias", "inter_observer", "--dataset", "osie", "--split", "test",
        "--metrics", "auc,nss,cc", "--max-images", "2", "--examples", "1", "--out", str(out),
        "--data-dir", str(data_root),
    ])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "center_bias" in printed and "inter_observer" in printed
    with open(out / "per_image.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["model"] for r in rows] == ["center_bias", "inter_observer"] * 2
    assert {r["image_id"] for r in rows} == {"1002", "1012"}  # first two test images of OSIE (split seed 0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["split"] == "test" and summary["n_images"] == 2 and summary["convention"] == "tuebingen"
    cb, io = summary["summary"]["center_bias"], summary["summary"]["inter_observer"]
    assert 0.5 < cb["auc"] < io["auc"] < 1.0 and cb["nss"] < io["nss"]
    nss_rows = np.mean([float(r["nss"]) for r in rows if r["model"] == "center_bias"])
    assert cb["nss"] == pytest.approx(nss_rows, abs=0.2)  # pooled vs per-image mean: close, not equal
    assert (out / "summary.md").read_text().startswith("| model | AUC | NSS | CC |")
    assert (out / "examples_center_bias.png").stat().st_size > 1000
    # paired statistics (issue 20): one pair × 3 metrics, the difference is the mean per-image difference
    with open(out / "paired.csv") as fh:
        paired = list(csv.DictReader(fh))
    assert [(r["metric"], r["model_a"], r["model_b"]) for r in paired] == [
        (m, "center_bias", "inter_observer") for m in ("auc", "nss", "cc")]
    for r in paired:
        per = {(x["model"], x["image_id"]): float(x[r["metric"]]) for x in rows}
        d = [per["center_bias", i] - per["inter_observer", i] for i in ("1002", "1012")]
        assert float(r["difference"]) == pytest.approx(np.mean(d), abs=1e-12)
        assert r["better"] == "inter_observer" and float(r["ci_lo"]) <= float(r["difference"]) <= float(r["ci_hi"])
        # 2 images of one sign: exact p = 2/4; Holm over the 3 tests: min(1, 3 p)
        assert float(r["p"]) == 0.5 and float(r["p_holm"]) == 1.0 and r["significant"] == "False"
    assert "p_holm" in printed and "Holm correction over all 3 pairs × metrics" in printed
    iv = summary["mean_intervals"]["inter_observer"]["nss"]
    assert iv["mean"] == pytest.approx(io["nss"], rel=1e-12) and iv["lo"] <= iv["mean"] <= iv["hi"]
    assert json.loads((out / "paired.json").read_text())["correction"] == "holm"


def test_evaluate_cli_reports_bad_input_as_one_line(data_root, tmp_path, capsys):
    rc = main(["evaluate", "center_bias", "--metrics", "nss,bogus", "--max-images", "1",
               "--out", str(tmp_path), "--data-dir", str(data_root)])
    assert rc == 2
    assert "unknown metric(s) bogus" in capsys.readouterr().err
    rc = main(["evaluate", str(tmp_path / "no_maps_here"), "--max-images", "1", "--out", str(tmp_path),
               "--data-dir", str(data_root)])
    assert rc == 2
    assert "unknown model" in capsys.readouterr().err


def test_evaluate_cli_workers_write_the_same_table(data_root, tmp_path, capsys):
    tables = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        rc = main(["evaluate", "center_bias", "--metrics", "auc,sauc,nss,kld", "--max-images", "3", "--workers", workers,
                   "--out", str(out), "--data-dir", str(data_root)])
        assert rc == 0
        tables.append((out / "per_image.csv").read_text())
    assert tables[0] == tables[1] and len(tables[0].splitlines()) == 4
    rc = main(["evaluate", "center_bias", "--workers", "0", "--out", str(tmp_path), "--data-dir", str(data_root)])
    assert rc == 2 and "--workers must be at least 1" in capsys.readouterr().err
