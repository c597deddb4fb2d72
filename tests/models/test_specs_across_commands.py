"""Every command reads model specs through the one factory: the same specs give the same labels and kinds.

Saliency specs go to ``evaluate``, ``popout evaluate`` and ``predict``; encoder specs to ``dissect`` and
``compare``. Each command's own output names the models; they must be the labels and kinds that
:func:`salscope.models.factory.parse_specs` gives.
"""

from __future__ import annotations

import json

import pytest

from salscope.cli import main
from salscope.data.popout import generate_benchmark
from salscope.models.factory import parse_specs


@pytest.fixture(scope="module")
def saliency_specs(decoder_ckpt, user_file):
    return ["cb=center_bias", f"ckpt:{decoder_ckpt}", f"own={user_file}:make_density"]


def _expected(specs, role="saliency"):
    parsed = parse_specs(specs, role=role)
    return [s.label for s in parsed], [s.kind for s in parsed]


def test_saliency_commands_agree_on_labels_and_kinds(saliency_specs, data_root, tmp_path, capsys):
    labels, kinds = _expected(saliency_specs)
    assert (labels, kinds) == (["cb", "tiny", "own"], ["baseline", "deep", "deep"])

    ev = tmp_path / "ev"
    rc = main(["evaluate", *saliency_specs, "--metrics", "nss,auc", "--max-images", "2", "--data-dir", str(data_root),
               "-o", str(ev)])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["models"] == labels
    assert [summary["kinds"][m] for m in labels] == kinds

    pset = tmp_path / "set"
    generate_benchmark(pset, preset="quick", seed=0)
    po = tmp_path / "po"
    rc = main(["popout", "evaluate", *[a for s in saliency_specs for a in ("-m", s)], "--set", str(pset),
               "--max-images", "2", "-o", str(po)])
    assert rc == 0, capsys.readouterr().err
    models = json.loads((po / "summary.json").read_text())["models"]
    assert [m["name"] for m in models] == labels and [m["kind"] for m in models] == kinds
    # centre priors off where the model has a switch: the checkpoint's readout; the centre bias keeps its own
    assert [m["center_prior"] for m in models] == [True, False, False]

    image = sorted((data_root / "osie" / "stimuli").iterdir())[0]
    for spec in saliency_specs:
        out = tmp_path / "pred" / spec.split("=")[0].replace(":", "_").replace("/", "_")[-20:]
        rc = main(["predict", str(image), "--model", spec, "--out", str(out), "--format", "npy"])
        assert rc == 0, capsys.readouterr().err
        assert (out / f"{image.stem}.npy").is_file()


def test_encoder_commands_agree_on_labels_and_kinds(decoder_ckpt, data_root, tmp_path, capsys):
    specs = ["pre=efficientnet_lite0", f"ckpt:{decoder_ckpt}"]
    labels, kinds = _expected(specs, role="encoder")
    assert labels == ["pre", "tiny"]

    di = tmp_path / "di"
    rc = main(["dissect", *[a for s in specs for a in ("-m", s)], "--layers", "block4", "--max-images", "2",
               "--input-size", "96x72", "--mask-size", "48x36", "--no-figures", "--data-dir", str(data_root),
               "-o", str(di)])
    assert rc == 0, capsys.readouterr().err
    for label, kind in zip(labels, kinds):
        meta = json.loads((di / label / "results.json").read_text())
        assert meta["model"] == label and meta["settings"]["kind"] == kind

    co = tmp_path / "co"
    rc = main(["compare", *[a for s in specs for a in ("-m", s)], "--layers", "block4", "--max-images", "6",
               "--input-size", "64x64", "--n-boot", "0", "--data-dir", str(data_root), "-o", str(co)])
    assert rc == 0, capsys.readouterr().err
    assert json.loads((co / "comparison.json").read_text())["models"] == labels


def test_every_command_spells_size_sample_and_out_the_same_way():
    """--help of every command that takes them names the same options with the same meaning."""
    import re

    from typer.testing import CliRunner

    from salscope.cli import app
    from salscope.cli.options import MAX_IMAGES_HELP, SPREAD_IMAGES_HELP

    runner = CliRunner()

    def help_of(*cmd):
        text = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "400", "TERM": "dumb"}).output
        return re.sub(r"\s+", " ", text)

    for cmd in (("dissect",), ("compare",), ("evaluate",), ("popout", "evaluate")):
        text = help_of(*cmd)
        assert "--max-images" in text and MAX_IMAGES_HELP.split("(")[0].strip() in text, cmd
        assert "--spread-images" in text and SPREAD_IMAGES_HELP.split("(")[0].strip() in text, cmd
        assert "--out" in text and "-o" in text and "default runs/" in text, cmd
    for cmd in (("dissect",), ("compare",), ("train",)):
        text = help_of(*cmd)
        assert "--input-size" in text and "WIDTHxHEIGHT" in text and "--size" not in text.replace("--input-size", ""), cmd
    for cmd in (("dissect",), ("compare",), ("popout", "evaluate")):
        text = help_of(*cmd)
        assert re.search(r"--model\s+-m\b", text) and "LABEL=SPEC" in text and "--labels" in text, cmd
