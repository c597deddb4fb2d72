"""The one data-root rule (issue 20, item 9): --data-dir, $SALSCOPE_DATA, remembered, ../shared/data, download folder."""

from __future__ import annotations

import hashlib
import tomllib

import pytest

from salscope import settings
from salscope.cli import main
from salscope.data.fetch import REMOTE_DATASETS, RemoteDataset, fetch_dataset
from salscope.errors import ConfigError, DataError


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh HOME (config in ~/.config/salscope), no $SALSCOPE_DATA, a working folder and checkout with no
    ../shared/data beside them."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("SALSCOPE_DATA", raising=False)
    (tmp_path / "work" / "repo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work" / "repo")
    monkeypatch.setattr(settings, "CHECKOUT", tmp_path / "elsewhere" / "salscope")
    return tmp_path / "home"


def _root(tmp_path, name="data", sets=("mini",)):
    root = tmp_path / name
    for s in sets:
        (root / s).mkdir(parents=True)
    return root


def test_a_root_that_worked_is_remembered_in_the_user_config(home, tmp_path, monkeypatch, capsys):
    root = _root(tmp_path)
    with pytest.raises(DataError, match="no data folder found: pass --data-dir DIR or set SALSCOPE_DATA"):
        settings.data_dir()
    monkeypatch.setenv("SALSCOPE_DATA", str(root))
    assert settings.find_data_root().source == "SALSCOPE_DATA"
    assert not (home / ".config" / "salscope" / "settings.toml").exists()   # found, but no data set used yet
    assert settings.dataset_dir("mini") == root / "mini"
    path = home / ".config" / "salscope" / "settings.toml"
    assert tomllib.loads(path.read_text()) == {"data_dir": str(root.resolve())}
    monkeypatch.delenv("SALSCOPE_DATA")                                     # a new shell, no export
    found = settings.find_data_root()
    assert found.path == root.resolve() and found.source == "remembered"
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"data root      {root.resolve()} (remembered in {path})"
    # a missing data set names the root and where it came from
    with pytest.raises(DataError, match=r"data set 'other' not found: .*\(data root remembered in .*settings.toml\)"):
        settings.dataset_dir("other")


def test_precedence_and_a_vanished_remembered_root(home, tmp_path, monkeypatch):
    first, second, third = _root(tmp_path, "a"), _root(tmp_path, "b"), _root(tmp_path, "c")
    settings.dataset_dir("mini", first)                                     # --data-dir, remembered
    monkeypatch.setenv("SALSCOPE_DATA", str(second))
    assert settings.find_data_root(third) == settings.DataRoot(third, "--data-dir")
    assert settings.find_data_root() == settings.DataRoot(second, "SALSCOPE_DATA")
    monkeypatch.delenv("SALSCOPE_DATA")
    assert settings.find_data_root() == settings.DataRoot(first.resolve(), "remembered")
    # named roots must exist; they are never passed over
    with pytest.raises(DataError, match=r"data folder .*nope \(from --data-dir\) does not exist"):
        settings.data_dir(tmp_path / "nope")
    monkeypatch.setenv("SALSCOPE_DATA", str(tmp_path / "nope"))
    with pytest.raises(DataError, match=r"\(from SALSCOPE_DATA\) does not exist"):
        settings.data_dir()
    monkeypatch.delenv("SALSCOPE_DATA")
    # a remembered root that is gone is passed over: next comes ../shared/data beside the working folder
    for p in sorted(first.rglob("*"), reverse=True):
        p.rmdir()
    first.rmdir()
    beside = _root(tmp_path / "work", "shared/data")
    found = settings.find_data_root()
    assert found == settings.DataRoot(beside.resolve(), "beside the working folder")
    assert found.describe() == "../shared/data beside the working folder"


def test_shared_data_beside_the_checkout_then_the_download_folder(home, tmp_path, monkeypatch):
    checkout = tmp_path / "clone" / "salscope"
    checkout.mkdir(parents=True)
    monkeypatch.setattr(settings, "CHECKOUT", checkout)
    data = _root(tmp_path / "clone", "shared/data")
    assert settings.find_data_root() == settings.DataRoot(data.resolve(), "beside the checkout")
    for p in sorted(data.rglob("*"), reverse=True):
        p.rmdir()
    data.rmdir()
    download = settings.cache_root() / "data"
    assert settings.find_data_root(for_download=True) == settings.DataRoot(download, "download folder")
    with pytest.raises(DataError, match="no data folder found"):
        settings.find_data_root()                                            # nothing downloaded yet
    (download / "osie").mkdir(parents=True)
    assert settings.find_data_root().source == "download folder"


def test_settings_file_keeps_other_values_and_odd_paths(home, tmp_path):
    path = settings.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('colour = "blue"\nretries = 3\nfast = true\n')
    root = _root(tmp_path, 'da"ta\\ü x')
    assert settings.remember_data_root(root) == path
    assert tomllib.loads(path.read_text()) == {"colour": "blue", "retries": 3, "fast": True,
                                              "data_dir": str(root.resolve())}
    assert settings.find_data_root().path == root.resolve()
    assert not [p for p in path.parent.iterdir() if p.name != "settings.toml"]  # no temporary file left
    # a table is not ours to rewrite: left alone
    path.write_text('[other]\nx = 1\n')
    assert settings.remember_data_root(root) is None and path.read_text() == '[other]\nx = 1\n'


def test_a_broken_settings_file_is_named(home, tmp_path):
    path = settings.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("data_dir = \n")
    with pytest.raises(ConfigError, match=r"settings file .*settings.toml is not valid TOML.*fix it or delete it"):
        settings.data_dir()
    assert settings.data_dir(_root(tmp_path)) == tmp_path / "data"       # --data-dir does not read it
    assert main(["data", "list"]) == 2


def test_fetch_uses_the_same_rule_and_remembers(home, tmp_path, monkeypatch, www):
    folder, base, _ = www
    (folder / "LICENSE").write_text("MIT\n")
    digest = hashlib.sha256(b"MIT\n").hexdigest()
    monkeypatch.setitem(REMOTE_DATASETS, "tiny", RemoteDataset("tiny", "one file", base, lambda: {"LICENSE": digest}))
    target = tmp_path / "fresh"
    monkeypatch.setenv("SALSCOPE_DATA", str(target))                       # need not exist yet for a download
    assert fetch_dataset("tiny", progress=False) == target / "tiny"
    monkeypatch.delenv("SALSCOPE_DATA")
    assert settings.find_data_root() == settings.DataRoot(target.resolve(), "remembered")
    assert fetch_dataset("tiny", progress=False) == target.resolve() / "tiny"  # present: kept, not fetched again
