"""File-system faults end in one line naming the path, not a traceback (issue 19); SALSCOPE_DEBUG shows it."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest
from PIL import Image

from salscope.cli import main


def _image(tmp_path):
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


def _predict(image, out):
    return main(["predict", str(image), "--out", str(out), "--model", "spectral_residual"])


def test_output_path_that_is_a_file(tmp_path, capsys):
    image = _image(tmp_path)
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    assert _predict(image, blocker) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err and str(blocker) in err
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder(tmp_path, capsys):
    image = _image(tmp_path)
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert _predict(image, out) == 2
        assert "check the permissions" in capsys.readouterr().err
    finally:
        out.chmod(0o700)


@pytest.mark.parametrize("code, fix", [(errno.ENOSPC, "free some disk space"), (errno.EROFS, "read-only"),
                                       (errno.EACCES, "check the permissions")])
def test_disk_full_or_read_only_write_is_one_line(tmp_path, capsys, monkeypatch, code, fix):
    import salscope.io as sio

    image = _image(tmp_path)

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / "out" / "photo.png"))

    monkeypatch.setattr(sio.os, "replace", fail)
    assert _predict(image, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert fix in err and str(tmp_path / "out" / "photo.png") in err and "Traceback" not in err
    assert not (tmp_path / "out" / "photo.png").exists()
    monkeypatch.setenv("SALSCOPE_DEBUG", "1")
    with pytest.raises(OSError):
        _predict(image, tmp_path / "out")


def test_unexpected_bugs_still_show_their_traceback(monkeypatch):
    import salscope.cli.predict as predict

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(predict, "predict_files", bug)
    with pytest.raises(ZeroDivisionError):
        main(["predict", "x.png", "--out", "unused", "--model", "spectral_residual"])
