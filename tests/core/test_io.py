"""Atomic writers: all or nothing, schema version, ordinary file modes."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from salscope.io import atomic_path, write_csv, write_json, write_npy


def test_failed_write_leaves_old_file(tmp_path):
    dest = tmp_path / "a.json"
    write_json(dest, {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert json.loads(dest.read_text()) == {"schema_version": 1, "x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]   # no temp file left


def test_modes_and_formats(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_npy(tmp_path / "m.npy", np.arange(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert np.load(path).tolist() == [0, 1, 2]
    csv = write_csv(tmp_path / "t.csv", [{"a": 1, "b": 2.5}])
    assert csv.read_text() == "a,b\n1,2.5\n"
