"""Every study config is validated before any stage runs: types, ranges, finite numbers, choices (issue 19)."""

from __future__ import annotations

import pytest

from salscope.cli import main
from salscope.errors import ConfigError
from salscope.study.config import build_config

BAD = [
    ({"train": {"lr": float("inf")}}, r"\[train\] lr = inf: use a finite number"),
    ({"train": {"lr": float("nan")}}, r"\[train\] lr = nan: use a finite number"),
    ({"train": {"lr": -1.0}}, r"\[train\] lr = -1.0: must be in"),
    ({"train": {"lr_decay": 1.5}}, r"\[train\] lr_decay = 1.5: must be in"),
    ({"train": {"max_train_images": -5}}, r"\[train\] max_train_images = -5: must be at least 0"),
    ({"train": {"epochs": 0}}, r"\[train\] epochs = 0: must be at least 1"),
    ({"train": {"batch_size": 0}}, r"\[train\] batch_size = 0: must be at least 1"),
    ({"train": {"threads": -2}}, r"\[train\] threads = -2: must be at least 0"),
    ({"train": {"input_size": [16, 1000000]}}, r"\[train\] input_size = \[16, 1000000\]"),
    ({"train": {"input_size": [224]}}, r"\[train\] input_size = \[224\]"),
    ({"train": {"input_size": [224.5, 224]}}, r"\[train\] input_size"),
    ({"neurons": {"threshold": float("nan")}}, r"\[neurons\] threshold = nan: use a finite number"),
    ({"neurons": {"top_k": 0}}, r"\[neurons\] top_k = 0: must be at least 1"),
    ({"neurons": {"alpha": 0.0}}, r"\[neurons\] alpha = 0.0: must be in"),
    ({"neurons": {"permutations": 0}}, r"\[neurons\] permutations = 0"),
    ({"neurons": {"input_size": [8, 8]}}, r"\[neurons\] input_size = \[8, 8\]"),
    ({"neurons": {"random_seeds": -1}}, r"\[neurons\] random_seeds = -1"),
    ({"compare": {"bootstrap": 1}}, r"\[compare\] bootstrap = 1: use 0 \(no intervals\) or at least 2"),
    ({"compare": {"bootstrap": -3}}, r"\[compare\] bootstrap = -3"),
    ({"compare": {"margin": float("inf")}}, r"\[compare\] margin = inf"),
    ({"popout": {"hit": "pixel"}}, r"\[popout\] hit = 'pixel': use one of item, disc, ink"),
    ({"evaluate": {"convention": "matlab"}}, r"\[evaluate\] convention = 'matlab'"),
    ({"evaluate": {"max_images": -1}}, r"\[evaluate\] max_images = -1"),
    ({"train": {"epochs": "ten"}}, r"key 'epochs' expects a int"),
    ({"train": {"nope": 1}}, r"unknown key 'nope'"),
    ({"nope": {}}, r"unknown table \[nope\]"),
]


@pytest.mark.parametrize("tables, message", BAD, ids=[m.split(":")[0][:40] for _, m in BAD])
def test_bad_config_is_refused_with_one_line(tables, message):
    with pytest.raises(ConfigError, match=message) as exc:
        build_config(tables)
    assert "\n" not in str(exc.value)


def test_presets_and_defaults_validate():
    for preset in (None, "quick", "standard", "paper"):
        build_config(preset=preset)
    assert build_config({"compare": {"bootstrap": 0}}).compare.bootstrap == 0     # documented: no intervals


def test_show_config_refuses_a_nan_threshold(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text("[neurons]\nthreshold = nan\n")
    before = path.read_bytes()
    assert main(["study", "--config", str(path), "--show-config"]) == 2
    err = capsys.readouterr().err
    assert "[neurons] threshold = nan: use a finite number" in err and "Traceback" not in err
    assert path.read_bytes() == before
