"""Study config validation, stage caching by hash, resume and the folder lock."""

from __future__ import annotations

import json
import multiprocessing as mp
import time

import pytest

from salscope.errors import ConfigError, StudyError
from salscope.study.config import build_config, dump_toml, load_config
from salscope.study.runner import Stage, run_stages, study_lock


def test_defaults_then_preset_then_file(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('[train]\nepochs = 5\n[evaluate]\nmax_images = 7\n')
    config = load_config(path, preset="quick")
    assert config.train.epochs == 5                      # file beats preset
    assert config.train.max_train_images == 160          # from the preset
    assert config.evaluate.max_images == 7
    assert config.train.lr_decay == 0.8                  # default
    # dump → load round trip is the identity
    again = tmp_path / "again.toml"
    again.write_text(dump_toml(config))
    assert load_config(again).to_dict() == config.to_dict()


def test_unknown_key_lists_valid_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'epoch'.*valid keys:.*epochs"):
        build_config({"train": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"unknown table \[trian\].*valid tables: run, data, train"):
        build_config({"trian": {}})
    with pytest.raises(ConfigError, match="expects a int"):
        build_config({"train": {"epochs": "three"}})
    with pytest.raises(ConfigError, match="unknown preset 'fast'"):
        build_config(preset="fast")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_section_hash_tracks_only_its_tables():
    a = build_config()
    b = build_config({"popout": {"seed": 3}})
    assert a.section_hash("train") == b.section_hash("train")
    assert a.section_hash("popout") != b.section_hash("popout")


def _stages(calls, fail_in=None):
    def first(ctx):
        calls.append("first")
        (ctx.folder / "out.txt").write_text("x")
        return {"value": ctx.config.train.epochs}

    def second(ctx):
        calls.append("second")
        if fail_in == "second":
            raise RuntimeError("killed")
        return {"double": ctx.upstream["first"]["value"] * 2}

    return [Stage("first", ("train",), first), Stage("second", ("popout",), second, upstream=("first",))]


def test_stages_cache_resume_and_never_mix(tmp_path):
    calls: list[str] = []
    config = build_config({"train": {"epochs": 2}})
    with pytest.raises(RuntimeError):
        run_stages(config, _stages(calls, fail_in="second"), tmp_path, log=lambda m: None)
    assert calls == ["first", "second"]
    # resume: the finished stage is not redone, the unfinished one is
    records = run_stages(config, _stages(calls), tmp_path, log=lambda m: None)
    assert calls == ["first", "second", "second"]
    assert [r.status for r in records] == ["cached", "ran"]
    assert records[1].results == {"double": 4}
    # a different train config gives new folders for both stages (second depends on first)
    other = build_config({"train": {"epochs": 3}})
    records2 = run_stages(other, _stages(calls), tmp_path, log=lambda m: None)
    assert [r.status for r in records2] == ["ran", "ran"]
    assert records2[1].results == {"double": 6}
    assert records2[0].folder != records[0].folder and records2[1].folder != records[1].folder
    stage_json = json.loads((records2[1].folder / "stage.json").read_text())
    assert stage_json["schema_version"] == 1 and stage_json["status"] == "done"
    # changing only the popout table redoes only the second stage
    third = build_config({"train": {"epochs": 3}, "popout": {"seed": 9}})
    records3 = run_stages(third, _stages(calls), tmp_path, log=lambda m: None)
    assert [r.status for r in records3] == ["cached", "ran"]


def test_unknown_stage_name(tmp_path):
    with pytest.raises(StudyError, match="unknown stage 'thrid'"):
        run_stages(build_config(), _stages([]), tmp_path, only=["thrid"], log=lambda m: None)


def _hold_lock(path, ready, release):
    from pathlib import Path

    with study_lock(Path(path)):
        ready.set()
        release.wait(20)


def test_second_study_in_same_folder_is_refused(tmp_path):
    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(StudyError, match=r"in use by pid \d+"):
            with study_lock(tmp_path):
                pass
    finally:
        release.set()
        proc.join(20)
    with study_lock(tmp_path):   # free again once the holder is gone
        time.sleep(0)


def test_dump_toml_is_valid_toml_for_any_value():
    import math
    import tomllib

    config = build_config({"train": {"backbone": "vgg16 \U0001F600 é \x7f \"q\" \\ \n"}})
    config.neurons.threshold = float("nan")
    config.train.lr = float("inf")
    config.train.lr_decay = float("-inf")
    config.evaluate.classical = ["gbvs", "a\tb"]
    back = tomllib.loads(dump_toml(config))
    assert back["train"]["backbone"] == config.train.backbone
    assert math.isnan(back["neurons"]["threshold"]) and back["train"]["lr"] == math.inf
    assert back["train"]["lr_decay"] == -math.inf and back["evaluate"]["classical"] == ["gbvs", "a\tb"]
    assert back["train"]["input_size"] == [224, 224] and back["train"]["epochs"] == 20


def test_the_resolved_config_never_replaces_a_users_file(tmp_path, capsys):
    from salscope.cli import main
    from salscope.study.runner import RESOLVED_CONFIG

    config = build_config({"train": {"epochs": 2}})
    run_stages(config, _stages([]), tmp_path, log=lambda m: None)
    saved = tmp_path / RESOLVED_CONFIG
    assert load_config(saved).to_dict() == config.to_dict()
    assert not (tmp_path / "config.toml").exists()
    # A hand-written config in the study folder, used with --config, is never rewritten.
    mine = tmp_path / "config.toml"
    mine.write_text("# my study\n[train]\nepochs = 3\n")
    run_stages(load_config(mine), _stages([]), tmp_path, log=lambda m: None)
    assert mine.read_text() == "# my study\n[train]\nepochs = 3\n"
    assert load_config(saved).train.epochs == 3                    # salscope's own copy follows the run
    # Running the saved copy again leaves it as it is; an edited copy is refused, not overwritten.
    stamp = saved.stat().st_mtime_ns
    run_stages(load_config(saved), _stages([]), tmp_path, log=lambda m: None)
    assert saved.stat().st_mtime_ns == stamp
    edited = saved.read_text().replace("epochs = 3", "epochs = 4")
    saved.write_text(edited)
    with pytest.raises(StudyError, match=rf"{RESOLVED_CONFIG} was not written by salscope or was edited.*--config"):
        run_stages(build_config(), _stages([]), tmp_path, log=lambda m: None)
    assert saved.read_text() == edited
    assert main(["study", "--config", str(saved), "--out", str(tmp_path)]) == 2
    assert "copy it under another name" in capsys.readouterr().err and saved.read_text() == edited


def test_study_lock_is_a_filelock_lock(tmp_path):
    """Another tool holding the folder's lock with filelock keeps a study out, and the other way round."""
    from filelock import FileLock, Timeout

    from salscope.study.runner import LOCK_FILE

    with FileLock(str(tmp_path / LOCK_FILE), timeout=0):
        with pytest.raises(StudyError, match=r"in use by another process; wait for it to finish or choose another --out"):
            with study_lock(tmp_path):
                pass
    with study_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().startswith("pid ")
        with pytest.raises(Timeout):
            FileLock(str(tmp_path / LOCK_FILE), timeout=0).acquire()
    with FileLock(str(tmp_path / LOCK_FILE), timeout=0):   # released when the study's block ends
        pass
