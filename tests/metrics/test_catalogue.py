"""The one metric catalogue: the evaluation's lists come from it, and the CLI's defaults too."""

from salscope.metrics.catalogue import CATALOGUE, DEFAULT_METRICS, FIXATION_METRICS, LOWER_IS_BETTER, METRICS, label


def test_catalogue_gives_the_evaluation_lists():
    assert METRICS == ("auc", "sauc", "auc_judd", "auc_borji", "nss", "cc", "kld", "sim", "ig", "emd")
    assert DEFAULT_METRICS == ("auc", "sauc", "auc_judd", "nss", "cc", "kld", "sim", "ig")
    assert FIXATION_METRICS == {"auc", "sauc", "nss", "ig"} and LOWER_IS_BETTER == {"kld", "emd"}
    assert [m.name for m in CATALOGUE if m.random] == ["auc_borji"]
    assert label("kld") == "KLD ↓" and label("new") == "new"


def test_the_cli_default_is_the_catalogue_default():
    from typer.testing import CliRunner

    from salscope.cli import app

    text = CliRunner().invoke(app, ["evaluate", "--help"], env={"COLUMNS": "300"}).output
    assert ",".join(DEFAULT_METRICS) in text.replace(" ", "").replace("│", "")
