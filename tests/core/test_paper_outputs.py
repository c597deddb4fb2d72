"""Figures and tables for papers: one save_figure (PNG/PDF/SVG), LaTeX/Markdown tables (issue 20, item 7)."""

from __future__ import annotations

import io as _io
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console
from rich.table import Table as RichTable

from salscope.cli._output import print_table, table_text
from salscope.errors import ConfigError
from salscope.report.figures import (
    current_figure_formats,
    figure_files,
    figure_formats,
    parse_figure_formats,
    pyplot,
    save_figure,
)
from salscope.report.html import Figure, Section, Table, write_report
from salscope.report.tables import latex_escape, parse_table_formats, to_latex, to_markdown, write_table


def _figure():
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, 1, 0], label="set-up II′ (50% _x_)")
    ax.set_title("nss & sim")
    return plt, fig


def test_save_figure_writes_png_pdf_svg_that_parse(tmp_path):
    plt, fig = _figure()
    out = save_figure(fig, tmp_path / "figs" / "line.png", ["png", "pdf", "svg"], dpi=50)
    assert out == tmp_path / "figs" / "line.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = (tmp_path / "figs" / "line.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    root = ET.parse(tmp_path / "figs" / "line.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["line.pdf", "line.png", "line.svg"]  # no temp files
    assert set(figure_files(out)) == {"png", "pdf", "svg"}
    # no creation date inside: the same figure gives the same vector files
    save_figure(fig, tmp_path / "again" / "line.png", ["pdf", "svg"], dpi=50)
    assert (tmp_path / "again" / "line.pdf").read_bytes() == pdf
    assert (tmp_path / "again" / "line.svg").read_bytes() == (tmp_path / "figs" / "line.svg").read_bytes()
    plt.close(fig)
    assert plt.get_backend().lower() == "agg"


def test_figure_formats_block_sets_the_default_and_restores_it(tmp_path):
    plt, fig = _figure()
    assert current_figure_formats() == ("png",)
    with figure_formats("svg, PDF"):
        assert current_figure_formats() == ("svg", "pdf")
        out = save_figure(fig, tmp_path / "a.png")
        with figure_formats(["png"]):
            save_figure(fig, tmp_path / "b.png")
    assert current_figure_formats() == ("png",)
    assert out == tmp_path / "a.svg"   # no PNG asked for: the first format's file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "a.svg", "b.png"]
    plt.close(fig)
    with pytest.raises(ConfigError, match=r"--figure-formats: unknown figure format 'tiff'; use some of png, pdf, svg"):
        parse_figure_formats("png,tiff")
    with pytest.raises(ConfigError, match="give at least one figure format"):
        parse_figure_formats(" , ")


def test_latex_escapes_every_special_character_and_keeps_the_column_count():
    assert latex_escape("a_b 50% & #1 $x$ {y} ~ ^ \\") == (
        r"a\_b 50\% \& \#1 \$x\$ \{y\} \textasciitilde{} \textasciicircum{} \textbackslash{}")
    assert latex_escape("KLD ↓ II′ 3×3") == r"KLD $\downarrow$ II$'$ 3$\times$3"
    rows = [{"model": "center_bias", "auc_judd": 0.812345, "n": 40, "note": "a & b"},
            {"model": "set-up II", "auc_judd": None, "n": 38, "note": None}]
    tex = to_latex(rows, caption="AUC_Judd on OSIE (test)", label="evaluate summary")
    assert tex.splitlines()[0].startswith("% Written by salscope; needs \\usepackage{booktabs}")
    assert r"\caption{AUC\_Judd on OSIE (test)}" in tex and r"\label{tab:evaluate-summary}" in tex
    assert r"\begin{tabular}{lrrl}" in tex
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    lines = [l for l in tex.splitlines() if l.endswith(r"\\")]
    assert lines == [r"model & auc\_judd & n & note \\", r"center\_bias & 0.8123 & 40 & a \& b \\",
                     r"set-up II & -- & 38 & -- \\"]   # the missing mark, an en dash, is LaTeX's --
    assert all(l.replace(r"\&", "").count("&") == 3 for l in lines)   # 4 columns in every row
    assert "\\begin{table}" not in to_latex(rows)   # no caption, no label: a bare tabular


def test_markdown_keeps_every_value_in_full():
    long = "built-in model trained for twelve epochs with early stopping"
    md = to_markdown([{"model": long, "nss": 0.5512345, "note": "a|b"}])
    assert md.splitlines() == ["| model | nss | note |", "|---|---:|---|", f"| {long} | 0.5512 | a\\|b |"]


def test_write_table_in_every_format(tmp_path):
    rows = [{"layer": "conv5_3", "count": 3, "score": 1.25}, {"layer": "conv4_3", "count": 0, "score": float("nan")}]
    paths = write_table(tmp_path / "counts", rows, None, "csv,md,latex,json", caption="Counts > T")
    assert set(paths) == {"csv", "md", "tex", "json"}
    assert paths["csv"].read_text().splitlines() == ["layer,count,score", "conv5_3,3,1.25", "conv4_3,0,nan"]
    assert paths["md"].read_text().startswith("Counts > T\n\n| layer | count | score |")
    assert r"conv5\_3 & 3 & 1.25 \\" in paths["tex"].read_text()
    assert '"score": null' in paths["json"].read_text()
    with pytest.raises(ConfigError, match=r"--table-formats: unknown table format 'xlsx'"):
        parse_table_formats("md,xlsx")
    assert parse_table_formats("Markdown, tex,md") == ("md", "tex")


def test_report_carries_vector_figures_and_latex_tables(tmp_path):
    plt, fig = _figure()
    png = save_figure(fig, tmp_path / "src" / "line.png", ["png", "pdf", "svg"])
    plt.close(fig)
    sections = [Section("f1", "Finding 1", "A claim.", tables=[Table("counts", "Counts_T", [{"layer": "conv5_3", "n": 2}])],
                        figures=[Figure(png, "a line", "A line.")])]
    index = write_report(tmp_path / "report", title="t", sections=sections, meta={"versions": {}, "stages": [],
                         "provenance": {}, "config_toml": ""}, figure_formats=["pdf"], table_formats=["csv", "tex"])
    report = index.parent
    assert sorted(p.name for p in (report / "figures").iterdir()) == ["f1-00-line.pdf", "f1-00-line.png"]
    assert sorted(p.name for p in (report / "tables").iterdir()) == ["counts.csv", "counts.tex", "meta.json"]
    page = index.read_text()
    assert '<a href="figures/f1-00-line.pdf">PDF</a>' in page and "line.svg" not in page
    assert '<a href="tables/counts.csv">CSV</a>, <a href="tables/counts.tex">LaTeX</a>' in page
    assert r"\caption{Counts\_T}" in (report / "tables" / "counts.tex").read_text()


def test_cli_table_boxed_only_on_a_terminal_that_fits_it(capsys):
    table = RichTable(title="osie/test — tuebingen")
    table.add_column("model")
    table.add_column("NSS", justify="right")
    table.add_row("a_model_name_far_too_long_for_a_narrow_terminal", "[bold]0.5512[/bold]")
    wide = Console(file=_io.StringIO(), force_terminal=True, width=120)
    print_table(table, wide)
    assert "┃" in wide.file.getvalue() and capsys.readouterr().out == ""
    narrow = Console(file=_io.StringIO(), force_terminal=True, width=30)
    print_table(table, narrow)
    assert narrow.file.getvalue() == ""
    assert capsys.readouterr().out == table_text(table) == (
        "osie/test — tuebingen\n\n| model | NSS |\n|---|---:|\n| a_model_name_far_too_long_for_a_narrow_terminal | 0.5512 |\n")
    print_table(table, Console(file=_io.StringIO()))   # not a terminal (a pipe, a log): Markdown
    assert "a_model_name_far_too_long_for_a_narrow_terminal | 0.5512" in capsys.readouterr().out


def test_missing_formats_finds_figures_drawn_without_a_format(tmp_path):
    from salscope.report.figures import missing_formats

    plt, fig = _figure()
    a = save_figure(fig, tmp_path / "a.png", ["png", "pdf"])
    b = save_figure(fig, tmp_path / "b.png", ["png", "pdf", "svg"])
    plt.close(fig)
    record = {"figures": [{"path": str(b)}], "nested": {"figures_bias": [{"path": str(a), "alt": "x"}]},
              "other": {"path": str(tmp_path / "gone.png")}}
    assert missing_formats(record, ["png", "pdf", "svg"]) == ["svg"]
    assert missing_formats(record, ["png", "pdf"]) == []
    assert missing_formats({"figures": []}, ["svg"]) == []
