"""Verdicts come from numbers; the HTML report renders offline with every image loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from salscope.report.figures import save_figure
from salscope.report import verdicts as V
from salscope.study import findings as F
from salscope.report.html import Figure, Section, Table, write_report


def _encoded_rows(encoded=("person head", "text", "symbol", "vehicle")):
    rows = []
    for layer in ("l2", "l3"):
        for cat in ("person head", "text", "symbol", "vehicle", "other"):
            hit = cat in encoded and layer == "l3"
            rows.append({"layer": layer, "category": cat, "instances": 12, "encoded": hit,
                         "p_holm": 0.004 if hit else 0.6, "top_k_excess": 0.5 if hit else 0.0,
                         "random_excess_max": 0.1})
    return rows


def _neurons(diff=0.4, lo=0.1, hi=0.7):
    per_category = []
    for model in ("pretrained", "saliency"):
        for cat, score, count in (("person head", 1.6, 3), ("text", 1.7, 2)):
            per_category.append({"model": model, "layer": "l3", "category": cat, "topk_mean": score,
                                 "count_above": count, "instances": 5})
    return {"layers": ["l2", "l3"], "threshold": 1.5, "alpha": 0.05, "random_seeds": 3,
            "encoded": _encoded_rows(), "per_category": per_category,
            "contrast": {"layer": "l3", "favoured": "person head", "disfavoured": "text", "gain_favoured": diff + 0.1,
                         "gain_disfavoured": 0.1, "diff": diff, "lo": lo, "hi": hi, "n_boot": 1000}}


def test_finding_encoded_needs_all_four_categories_tested_encoded():
    v = F.decide_encoded(_neurons())
    assert v.status == V.REPRODUCED and "also encoded: no other category" in v.reason
    v = F.decide_encoded({"encoded": _encoded_rows(("person head", "text", "symbol"))})
    assert v.status == V.INCONCLUSIVE and "only person head, text, symbol" in v.reason
    assert F.decide_encoded({"encoded": _encoded_rows(())}).status == V.NOT_REPRODUCED
    rows = [r for r in _encoded_rows() if r["category"] != "text"]
    assert F.decide_encoded({"encoded": rows}).status == V.INCONCLUSIVE
    assert F.decide_encoded({}).status == V.INCONCLUSIVE
    # selectivity: another category that is encoded is named
    rows = _encoded_rows()
    rows[-1]["encoded"] = True
    assert "also encoded: other" in F.decide_encoded({"encoded": rows}).reason


def test_finding_bias_needs_an_interval_that_excludes_zero():
    v = F.decide_bias(_neurons())
    assert v.status == V.REPRODUCED and "+0.500 for person head" in v.reason and "cross-fitted" in v.reason and "[+0.100, +0.700]" in v.reason
    assert F.decide_bias(_neurons(diff=0.1, lo=-0.2, hi=0.4)).status == V.INCONCLUSIVE
    assert F.decide_bias(_neurons(diff=-0.5, lo=-0.8, hi=-0.2)).status == V.NOT_REPRODUCED
    assert F.decide_bias({"layers": [], "per_category": []}).status == V.INCONCLUSIVE
    missing_interval = _neurons()
    missing_interval["contrast"]["lo"] = None
    assert F.decide_bias(missing_interval).status == V.INCONCLUSIVE


def _contrast(diff, lo, hi, **names):
    return {"metric": "sauc", "deep": "set-up II", "classical": "bms", "deep_value": 0.8, "classical_value": 0.7,
            "diff": diff, "lo": lo, "hi": hi, **names}


def test_finding_natural_vs_synthetic_uses_both_intervals():
    evaluate = {"contrast": _contrast(0.1, 0.05, 0.15)}
    popout = {"contrast": _contrast(0.4, 0.2, 0.6)}
    v = F.decide_natural_vs_synthetic(evaluate, popout)
    assert v.status == V.REPRODUCED and "natural sauc: set-up II 0.800 vs bms 0.700" in v.reason
    popout["contrast"].update(lo=-0.1)
    assert F.decide_natural_vs_synthetic(evaluate, popout).status == V.INCONCLUSIVE
    evaluate["contrast"].update(diff=-0.1, lo=-0.15, hi=-0.05)
    assert F.decide_natural_vs_synthetic(evaluate, popout).status == V.NOT_REPRODUCED
    assert F.decide_natural_vs_synthetic({}, popout).status == V.INCONCLUSIVE


def _report(tmp_path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    png = save_figure(fig, tmp_path / "src" / "line.png")
    plt.close(fig)
    sections = [
        Section("f1", "Finding 1", "Some categories are encoded.", F.decide_encoded(_neurons()),
                tables=[Table("f1_counts", "counts", [{"category": "text", "count": 2, "score": 1.23456}])],
                figures=[Figure(png, "A line from (0,0) to (1,1)", "a test figure")]),
        Section("f2", "Finding 2", "Head over text.", F.decide_bias(_neurons())),
    ]
    meta = {"versions": {"salscope": "0.1.0"}, "stages": [{"name": "train", "status": "ran", "seconds": 1.5, "folder": "x"}],
            "provenance": {"osie": "/data/osie"}, "config_toml": "[train]\nepochs = 1\n"}
    return write_report(tmp_path / "report", title="salscope study <test>", sections=sections, meta=meta)


def test_report_files_and_escaping(tmp_path):
    index = _report(tmp_path)
    page = index.read_text()
    assert "salscope study &lt;test&gt;" in page                 # escaped
    assert 'alt="A line from (0,0) to (1,1)"' in page
    assert "http://" not in page and "https://" not in page       # offline: no external resources
    assert (index.parent / "figures" / "f1-00-line.png").is_file()
    assert (index.parent / "tables" / "f1_counts.csv").read_text().splitlines() == ["category,count,score", "text,2,1.23456"]
    assert json.loads((index.parent / "tables" / "meta.json").read_text())["schema_version"] == 1
    assert page.count('class="verdict') >= 4 and "1.235" in page


def test_failed_rewrite_keeps_the_previous_report(tmp_path, monkeypatch):
    import errno

    import salscope.report.html as html_mod

    index = _report(tmp_path)
    before = {p.relative_to(index.parent): p.read_bytes() for p in index.parent.rglob("*") if p.is_file()}

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(html_mod.shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _report(tmp_path)
    after = {p.relative_to(index.parent): p.read_bytes() for p in index.parent.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in index.parent.parent.iterdir()) == ["report", "src"]   # no partial folder left


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_in_headless_chromium(tmp_path):
    """Every image loads, nothing logs an error; a screenshot is saved."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed (make test installs Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    index = _report(tmp_path)
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}"))
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        page.evaluate("() => Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode(); }))")
        images = page.evaluate("() => [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth, i.alt])")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(images) == 1 and images[0][1] > 0 and images[0][2]
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_long_tables_are_linked_not_inlined(tmp_path):
    rows = [{"i": i} for i in range(500)]
    sections = [Section("s", "S", "claim", tables=[Table("long", "A long table", rows, inline=False)])]
    meta = {"versions": {"salscope": "0.1.0"}, "stages": [], "provenance": {}, "config_toml": ""}
    page = write_report(tmp_path / "r", title="t", sections=sections, meta=meta).read_text()
    assert "A long table: 500 rows in" in page and "<td>499</td>" not in page
    assert len((tmp_path / "r" / "tables" / "long.csv").read_text().splitlines()) == 501


def test_category_pivot_puts_models_side_by_side():
    from salscope.study.report_stage import category_pivot

    neurons = _neurons()
    neurons["per_category"][2]["topk_mean"] = 2.0
    rows = category_pivot(neurons, "l3")
    head = next(r for r in rows if r["category"] == "person head")
    assert head["top-k pretrained"] == 1.6 and head["top-k saliency"] == 2.0 and head["> T saliency"] == 3
    assert len(rows) == 2


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_rewrite_keeps_files_salscope_did_not_write(tmp_path):
    from salscope.errors import StudyError

    index = _report(tmp_path)
    report = index.parent
    manifest = json.loads((report / ".salscope-manifest.json").read_text())
    assert manifest["schema_version"] == 1 and "index.html" in manifest["files"]
    assert "figures/f1-00-line.png" in manifest["files"] and "tables/meta.json" in manifest["files"]
    # The user keeps their thesis and a figure in the report folder, and salscope leaves a stale file of its own.
    (report / "thesis.tex").write_text("\\chapter{Saliency}")
    (report / "mine").mkdir()
    (report / "mine" / "fig.pdf").write_bytes(b"%PDF user figure")
    (report / "figures" / "edited-by-me.png").write_bytes(b"user png")
    stale = report / "tables" / "old_table.csv"
    stale.write_text("a\n1\n")
    record = json.loads((report / ".salscope-manifest.json").read_text())
    record["files"].append("tables/old_table.csv")
    (report / ".salscope-manifest.json").write_text(json.dumps(record))
    _report(tmp_path)
    files = _files(report)
    assert files["thesis.tex"] == b"\\chapter{Saliency}" and files["mine/fig.pdf"] == b"%PDF user figure"
    assert files["figures/edited-by-me.png"] == b"user png"
    assert "tables/old_table.csv" not in files                     # salscope's own stale file is removed
    assert "index.html" in files and "tables/f1_counts.csv" in files
    assert sorted(json.loads(files[".salscope-manifest.json"])["files"]) == sorted(manifest["files"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "src"]   # no partial folder left
    # A foreign file where the report writes one is never replaced: refused by name, nothing changed.
    (report / ".salscope-manifest.json").unlink()
    before = _files(report)
    with pytest.raises(StudyError, match=r"report/figures/f1-00-line.png was not written by salscope.*another --out"):
        _report(tmp_path)
    assert _files(report) == before


def test_a_report_folder_without_manifest_keeps_its_files(tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    (report / "thesis.tex").write_text("mine")
    index = _report(tmp_path)
    assert (report / "thesis.tex").read_text() == "mine" and index.is_file()
    assert "thesis.tex" not in json.loads((report / ".salscope-manifest.json").read_text())["files"]


def test_finding_encoded_is_inconclusive_when_permutations_cannot_reach_alpha():
    neurons = {**_neurons(), "permutations": 100}     # 10 tests: smallest Holm p = 10/101 > 0.05
    v = F.decide_encoded(neurons)
    assert v.status == V.INCONCLUSIVE and "cannot reach" in v.reason
    assert F.decide_encoded({**_neurons(), "permutations": 1000}).status == V.REPRODUCED


def test_quick_preset_report_says_smoke_run_on_top(tmp_path):
    from salscope.study.config import build_config
    from salscope.study.report_stage import render

    meta_args = ([{"name": "neurons", "status": "ran", "seconds": 1.0, "folder": "x"}], {"osie": "/data/osie"})
    quick = render(build_config(preset="quick"), {"neurons": _neurons()}, *meta_args, tmp_path / "q").read_text()
    assert quick.index("Smoke run: too small for the verdicts to be trusted") < quick.index('id="encoded"')
    standard = render(build_config(preset="standard"), {"neurons": _neurons()}, *meta_args, tmp_path / "s").read_text()
    assert "Smoke run" not in standard
