"""``salscope data list|info|show|fetch`` through the real entry point."""

from __future__ import annotations

import numpy as np
from PIL import Image

from salscope.cli import main


def test_info(data_root, capsys):
    assert main(["data", "info", "osie", "--data-dir", str(data_root)]) == 0
    out = capsys.readouterr().out
    assert "images        700" in out and "fixations     98321" in out
    assert "train 490 / val 70 / test 140" in out and "150 images, 760 instances" in out


def test_list(data_root, capsys):
    assert main(["data", "list", "--data-dir", str(data_root)]) == 0
    out = capsys.readouterr().out
    assert "osie " in out and "fetchable" in out and str(data_root / "osie-regions") in out


def test_show_writes_png(data_root, tmp_path, capsys):
    out = tmp_path / "runs" / "osie-1001.png"
    assert main(["data", "show", "osie", "1001", "--out", str(out), "--data-dir", str(data_root)]) == 0
    assert "141 fixations, 9 regions" in capsys.readouterr().out
    im = np.asarray(Image.open(out).convert("RGB"))
    assert im.shape[0] > 300 and im.shape[1] > 1000
    # region outlines are drawn in pure yellow
    yellow = (im[..., 0] > 240) & (im[..., 1] > 240) & (im[..., 2] < 40)
    assert yellow.sum() > 500
    assert not list(out.parent.glob(".*"))  # no temp file left behind


def test_errors_exit_2(data_root, tmp_path, capsys):
    assert main(["data", "show", "osie", "999", "--out", str(tmp_path / "x.png"), "--data-dir", str(data_root)]) == 2
    assert "unknown image id '999'" in capsys.readouterr().err
    assert main(["data", "info", "osie", "--data-dir", str(tmp_path)]) == 2
    assert "salscope data fetch osie" in capsys.readouterr().err
    assert main(["data", "fetch", "nope", "--data-dir", str(tmp_path)]) == 2
    assert not (tmp_path / "x.png").exists()
