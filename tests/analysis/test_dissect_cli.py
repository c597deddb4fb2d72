"""``salscope dissect`` end to end on two OSIE images, and its error messages."""

from __future__ import annotations

import csv
import json

import pytest

from salscope.cli import main

ARGS = ["--layers", "block5,block11", "--max-images", "2", "--input-size", "96x72", "--mask-size", "48x36",
        "--batch-size", "2", "--figure-categories", "person head"]


def test_dissect_writes_tables_figures_and_comparison(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SALSCOPE_DATA", str(data_root))
    out = tmp_path / "out"
    # one spec twice: the second is named by LABEL=SPEC (unnamed, the two labels clash — see the last lines)
    rc = main(["dissect", "--model", "efficientnet_lite0", "--model", "again=efficientnet_lite0", *ARGS, "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "channels with region NSS > 1.5" in printed and "best category changed" in printed
    meta = json.loads((out / "efficientnet_lite0" / "results.json").read_text())
    assert list(meta["layers"]) == ["block5", "block11"] and meta["settings"]["n_images"] == 2
    assert meta["settings"]["input_size"] == [72, 96]
    rows = list(csv.DictReader(open(out / "efficientnet_lite0" / "summary.csv")))
    assert len(rows) == 2 * len(meta["categories"])
    assert {r["category"] for r in rows} == set(meta["categories"])
    for name in ("counts_heatmap.png", "counts_heatmap.json", "masked_block5_person_head.png",
                 "channels_block11.csv", "layer_block5.npz"):
        assert (out / "efficientnet_lite0" / name).is_file(), name
    # identical encoders: nothing changed
    best = list(csv.DictReader(open(out / "compare_best_category.csv")))
    assert [int(r["changed"]) for r in best] == [0, 0]
    assert int(best[0]["compared"]) == meta["layers"]["block5"]["firing"] > 70
    assert (out / "bars_block5.png").is_file() and (out / "compare_categories.csv").is_file()
    assert (out / "again" / "results.json").is_file()
    rc = main(["dissect", "--model", "efficientnet_lite0", "--model", "efficientnet_lite0", *ARGS, "--out", str(out / "x")])
    assert rc == 2 and "two models share the label 'efficientnet_lite0'" in capsys.readouterr().err
    assert not (out / "x").exists()


@pytest.mark.parametrize("argv, message", [
    (["--model", "efficientnet_lite0", "--layers", "conv9_9"], "unknown layer(s) 'conv9_9'"),
    (["--model", "efficientnet_lite0", "--layers", "block5", "--input-size", "224"], "--input-size: '224' is not WIDTHxHEIGHT"),
    (["--model", "efficientnet_lite0", "--layers", "block5", "--regions", "no-such-regions"], "no-such-regions"),
    (["--model", "efficientnet_lite0", "--layers", "block5", "--aggregation", "median"], "aggregation='median'"),
])
def test_dissect_bad_input(data_root, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.setenv("SALSCOPE_DATA", str(data_root))
    rc = main(["dissect", *argv, "--max-images", "1", "--out", str(tmp_path), "--no-figures"])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_dissect_report_writes_the_neuron_browser(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SALSCOPE_DATA", str(data_root))
    out = tmp_path / "out"
    rc = main(["dissect", "--model", "efficientnet_lite0", "--model", "again=efficientnet_lite0", "--layers", "block1,block3",
               "--max-images", "2", "--input-size", "96x72", "--mask-size", "48x36", "--batch-size", "2",
               "--no-figures", "--report", "--out", str(out)])
    assert rc == 0
    assert "neurons.html" in capsys.readouterr().out
    report = out / "report"
    page = (report / "neurons.html").read_text()
    data = json.loads(page.split('id="neuron-data">', 1)[1].split("</script>", 1)[0])
    assert [r["key"] for r in data["roles"]] == ["efficientnet_lite0", "again"]
    assert data["roles"][0]["label"] == "efficientnet_lite0 (reference)"
    meta = json.loads((out / "efficientnet_lite0" / "results.json").read_text())
    assert [lay["name"] for lay in data["layers"]] == ["block1", "block3"]
    assert len(data["units"]) == meta["layers"]["block1"]["firing"] + meta["layers"]["block3"]["firing"] > 30
    # the same encoder twice: every score, and so every change, is the same
    assert all(u["scores"]["efficientnet_lite0"] == u["scores"]["again"] for u in data["units"])
    assert all(1 <= len(u["regions"]) <= 2 for u in data["units"])
    from salscope.report.browser import thumbnail_files

    assert all((report / "neurons" / f).is_file() for f in thumbnail_files(data))
    index = (report / "index.html").read_text()
    assert 'href="neurons.html"' in index and "neurons.html#block3/" in index and "http" not in index
    assert (report / "tables" / "summary_0.csv").is_file()
