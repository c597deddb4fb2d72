"""Verdicts come from numbers; the HTML report renders offline with every image loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from salscope.io import save_figure
from salscope.report import verdicts as V
from salscope.report.html import Figure, Section, Table, write_report


def _neurons(head_after=2.0, text_after=1.0):
    rows = []
    for model, head, text in (("pretrained", 1.6, 1.7), ("saliency", head_after, text_after)):
        for cat, score, count in (("person head", head, 3), ("text", text, 2), ("symbol", 1.2, 1), ("vehicle", 1.1, 0)):
            rows.append({"model": model, "layer": "l3", "category": cat, "topk_mean": score, "count_above": count,
                         "instances": 5})
            rows.append({"model": model, "layer": "l2", "category": cat, "topk_mean": score, "count_above": 0})
    return {"layers": ["l2", "l3"], "threshold": 1.5, "per_category": rows}


def test_finding_encoded_counts_categories():
    v = V.finding_encoded(_neurons())
    assert v.status == V.INCONCLUSIVE and "vehicle: 0" in v.reason and "person head, text, symbol" in v.reason
    rows = _neurons()["per_category"]
    for r in rows:
        r["count_above"] = 4
    assert V.finding_encoded({"per_category": rows}).status == V.REPRODUCED
    for r in rows:
        r["count_above"] = 0
    assert V.finding_encoded({"per_category": rows}).status == V.NOT_REPRODUCED
    assert V.finding_encoded({"per_category": [r for r in rows if r["category"] != "text"]}).status == V.INCONCLUSIVE


def test_finding_bias_compares_gains_in_deepest_layer():
    v = V.finding_bias(_neurons(head_after=2.0, text_after=1.0))
    assert v.status == V.REPRODUCED and "+0.400 for person head" in v.reason and "-0.700 for text" in v.reason
    assert V.finding_bias(_neurons(head_after=1.0, text_after=2.5)).status == V.NOT_REPRODUCED
    assert V.finding_bias({"layers": [], "per_category": []}).status == V.INCONCLUSIVE


def test_finding_natural_vs_synthetic():
    evaluate = {"table": [{"model": "deep", "kind": "deep", "nss": 1.8}, {"model": "gbvs", "kind": "classical", "nss": 1.2}]}
    popout = {"overall": [{"model": "deep", "kind": "deep", "fraction_first": 0.3, "fraction_found": 1.0},
                          {"model": "gbvs", "kind": "classical", "fraction_first": 0.7, "fraction_found": 0.9}]}
    v = V.finding_natural_vs_synthetic(evaluate, popout)
    assert v.status == V.REPRODUCED and "gbvs 0.70 vs best deep deep 0.30" in v.reason
    popout["overall"][0]["fraction_first"] = 0.9
    assert V.finding_natural_vs_synthetic(evaluate, popout).status == V.INCONCLUSIVE
    evaluate["table"][0]["nss"] = 1.0
    assert V.finding_natural_vs_synthetic(evaluate, popout).status == V.NOT_REPRODUCED


def test_finding_task_not_domain_uses_interval():
    row = {"layer": "l3", "cka_pre_saliency": 0.6, "cka_pre_scene": 0.8, "cka_saliency_scene": 0.5,
           "delta": 0.3, "delta_ci": [0.1, 0.4]}
    assert V.finding_task_not_domain({"per_layer": [row]}).status == V.REPRODUCED
    row["delta_ci"] = [-0.1, 0.4]
    assert V.finding_task_not_domain({"per_layer": [row]}).status == V.INCONCLUSIVE
    row["delta"], row["delta_ci"] = -0.3, [-0.4, -0.1]
    assert V.finding_task_not_domain({"per_layer": [row]}).status == V.NOT_REPRODUCED


def _report(tmp_path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    png = save_figure(fig, tmp_path / "src" / "line.png")
    plt.close(fig)
    sections = [
        Section("f1", "Finding 1", "Some categories are encoded.", V.finding_encoded(_neurons()),
                tables=[Table("f1_counts", "counts", [{"category": "text", "count": 2, "score": 1.23456}])],
                figures=[Figure(png, "A line from (0,0) to (1,1)", "a test figure")]),
        Section("f2", "Finding 2", "Head over text.", V.finding_bias(_neurons())),
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

    rows = category_pivot(_neurons(), "l3")
    head = next(r for r in rows if r["category"] == "person head")
    assert head["top-k pretrained"] == 1.6 and head["top-k saliency"] == 2.0 and head["> T saliency"] == 3
    assert len(rows) == 4


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
