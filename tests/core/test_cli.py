"""The CLI shell: every sub-command is wired, usage and salscope errors exit with 2 and a clear line."""

from __future__ import annotations

from salscope.cli import _SUBCOMMANDS, main


def test_every_subcommand_has_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("data", "evaluate", "train", "predict", "dissect", "compare", "popout", "study"):
        assert name in _SUBCOMMANDS and name in out


def test_usage_error_exits_2_and_names_the_option(capsys):
    assert main(["train", "--no-such-option"]) == 2
    assert "No such option: --no-such-option" in capsys.readouterr().err


def test_salscope_error_is_one_line(capsys, tmp_path):
    code = main(["study", "--config", str(tmp_path / "missing.toml")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: study config") and "does not exist" in err and "Traceback" not in err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("salscope 0.1.0")
