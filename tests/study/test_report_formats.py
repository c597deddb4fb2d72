"""[report] figure_formats / table_formats and the study's --figure-formats / --table-formats (issue 20, item 7)."""

from __future__ import annotations

import tomllib

import pytest
from typer.testing import CliRunner

from salscope.cli import app
from salscope.errors import ConfigError
from salscope.study.config import apply_report_formats, build_config, dump_toml


def test_report_formats_defaults_and_round_trip():
    cfg = build_config()
    assert cfg.report.figure_formats == ["png", "pdf", "svg"]
    assert cfg.report.table_formats == ["csv", "json", "md", "tex"]
    cfg = build_config({"report": {"figure_formats": ["PNG", "svg"], "table_formats": ["latex", "csv"]}})
    assert cfg.report.figure_formats == ["png", "svg"] and cfg.report.table_formats == ["tex", "csv"]
    assert build_config(tomllib.loads(dump_toml(cfg))).report == cfg.report


@pytest.mark.parametrize("table, message", [
    ({"figure_formats": ["png", "tiff"]}, r"\[report\] figure_formats: unknown figure format 'tiff'"),
    ({"figure_formats": ["pdf", "svg"]}, r"figure_formats = \['pdf', 'svg'\]: .* the page shows the PNG"),
    ({"figure_formats": ["png", "jpg"]}, r"the study saves figures as png, pdf, svg"),
    ({"table_formats": ["xlsx"]}, r"\[report\] table_formats: unknown table format 'xlsx'"),
    ({"table_formats": []}, r"\[report\] table_formats: give at least one table format"),
    ({"figure_formats": "png"}, r"\[report\]: key 'figure_formats' expects a list"),
])
def test_bad_report_formats_name_the_key_and_the_fix(table, message):
    with pytest.raises(ConfigError, match=message):
        build_config({"report": table})


def test_cli_options_set_the_report_formats():
    cfg = apply_report_formats(build_config(), "png,svg", "tex")
    assert cfg.report.figure_formats == ["png", "svg"] and cfg.report.table_formats == ["tex"]
    result = CliRunner().invoke(app, ["study", "--quick", "--show-config", "--figure-formats", "png,pdf",
                                      "--table-formats", "md,tex"])
    assert result.exit_code == 0, result.output
    report = tomllib.loads(result.output)["report"]
    assert report == {"figure_formats": ["png", "pdf"], "table_formats": ["md", "tex"]}
    bad = CliRunner().invoke(app, ["study", "--show-config", "--figure-formats", "svg"])
    assert bad.exit_code != 0 and "the page shows the PNG" in str(bad.exception)
