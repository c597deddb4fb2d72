"""pysaliency interop: the half-pixel shift, round trips, pysaliency's HDF5 layouts, and one model scored both ways."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from salscope.data import Dataset, Fixations, Stimuli, read_pysaliency_hdf5
from salscope.errors import DataError


def _h5py():
    return pytest.importorskip("h5py", reason="h5py (the optional HDF5 extra) is not installed")


def _pysaliency():
    return pytest.importorskip("pysaliency", reason="pysaliency is not installed (optional)")


def _scanpaths():
    """Two subjects on two images, sub-pixel coordinates whose two pixel conventions differ, durations in ms."""
    x = np.array([3.6, 7.2, 1.5, 0.4, 5.5, 9.9, 2.49])
    y = np.array([2.5, 0.6, 4.4, 3.3, 1.0, 6.7, 5.51])
    n = np.array([0, 0, 0, 0, 1, 1, 1])
    subject = np.array([0, 0, 0, 1, 0, 0, 1])
    order = np.array([0, 1, 2, 0, 0, 1, 0])
    duration = np.array([200.0, 150.0, 310.0, 250.0, 180.0, 90.0, 400.0])
    return Fixations(x, y, n, subject, order, duration)


# --------------------------------------------------------------------------- without pysaliency


def test_missing_pysaliency_or_h5py_names_the_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pysaliency", None)      # import pysaliency -> ImportError
    with pytest.raises(DataError, match="pip install pysaliency"):
        _scanpaths().to_pysaliency()
    monkeypatch.setitem(sys.modules, "h5py", None)
    (tmp_path / "f.hdf5").write_bytes(b"")
    with pytest.raises(DataError, match="pip install h5py"):
        Fixations.read_hdf5(tmp_path / "f.hdf5")


def _attrs(node, kind, version, attributes=()):
    node.attrs["type"] = np.bytes_(kind)
    node.attrs["version"] = np.bytes_(version)
    node.attrs["__attributes__"] = np.bytes_(json.dumps(list(attributes)))


def test_reads_fixation_trains_written_in_pysaliencys_layout(tmp_path):
    """FixationTrains 1.2 as pysaliency writes it: NaN-padded scanpaths, durations (s) as a scanpath fixation attribute."""
    h5py = _h5py()
    nan = np.nan
    path = tmp_path / "fixations.hdf5"
    with h5py.File(path, "w") as f:
        _attrs(f, "FixationTrains", "1.2", ["subjects", "scanpath_index"])
        f.attrs["scanpath_attribute_mapping"] = np.bytes_(json.dumps({"durations": "duration"}))
        f["train_xs"] = np.array([[4.1, 8.0, 2.0], [1.0, nan, nan], [6.0, 10.4, nan]])
        f["train_ys"] = np.array([[3.0, 1.1, 5.0], [3.9, nan, nan], [1.5, 7.2, nan]])
        f["train_ts"] = np.array([[0.0, 1.0, 2.0], [0.0, nan, nan], [0.0, 1.0, nan]])
        f["train_ns"] = np.array([0, 0, 1])
        f["train_subjects"] = np.array([0, 1, 0])
        g = f.create_group("scanpath_attributes")
        g.attrs["__attributes__"] = np.bytes_("[]")
        g = f.create_group("scanpath_fixation_attributes")
        g["durations"] = np.array([[0.2, 0.15, 0.31], [0.25, nan, nan], [0.18, 0.09, nan]])
        g.attrs["__attributes__"] = np.bytes_(json.dumps(["durations"]))
    fix = Fixations.read_hdf5(path)
    np.testing.assert_allclose(fix.x, [3.6, 7.5, 1.5, 0.5, 5.5, 9.9], atol=1e-12)
    np.testing.assert_allclose(fix.y, [2.5, 0.6, 4.5, 3.4, 1.0, 6.7], atol=1e-12)
    assert fix.n.tolist() == [0, 0, 0, 0, 1, 1] and fix.subject.tolist() == [0, 0, 0, 1, 0, 0]
    assert fix.order.tolist() == [0, 1, 2, 0, 0, 1]
    np.testing.assert_allclose(fix.duration, [200, 150, 310, 250, 180, 90])
    # the pixel pysaliency scores, int(x), is the pixel salscope scores
    assert fix.col.tolist() == [4, 8, 2, 1, 6, 10] and fix.row.tolist() == [3, 1, 5, 3, 1, 7]
    assert read_pysaliency_hdf5(path).order.tolist() == fix.order.tolist()
    with pytest.raises(DataError, match="holds FixationTrains, not stimuli; read it with Fixations.read_hdf5"):
        Stimuli.read_hdf5(path)


def test_reads_flat_fixations_with_and_without_history(tmp_path):
    h5py = _h5py()
    nan = np.nan
    for name, x_hist, order in (("with", [[nan, nan], [2.0, nan], [2.0, 3.0]], [0, 1, 2]),
                                ("without", [[nan], [nan], [nan]], [-1, -1, -1])):
        path = tmp_path / f"{name}.hdf5"
        with h5py.File(path, "w") as f:
            _attrs(f, "Fixations", "1.0", ["subjects", "duration"])
            for key, value in (("x", [2.0, 3.0, 4.75]), ("y", [1.0, 1.5, 2.0]), ("t", [0.0, 1.0, 2.0]),
                               ("x_hist", x_hist), ("y_hist", x_hist), ("t_hist", x_hist), ("n", [0, 0, 0]),
                               ("subjects", [3, 3, 3]), ("duration", [0.1, 0.2, 0.3])):
                f[key] = np.asarray(value)
        fix = Fixations.read_hdf5(path)
        np.testing.assert_allclose(fix.x, [1.5, 2.5, 4.25])
        assert fix.order.tolist() == order and fix.subject.tolist() == [3, 3, 3]
        np.testing.assert_allclose(fix.duration, [100, 200, 300])


def test_reads_file_stimuli_and_array_stimuli(tmp_path):
    h5py = _h5py()
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (6, 9, 3), dtype=np.uint8), rng.integers(0, 256, (5, 4), dtype=np.uint8)]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(images / f"im{i}.png")
    path = tmp_path / "stimuli.hdf5"
    with h5py.File(path, "w") as f:       # FileStimuli 2.1: names relative to the HDF5 file's folder, an ids attribute
        _attrs(f, "FileStimuli", "2.1", ["ids"])
        f.create_dataset("filenames", data=np.array([b"images/im0.png", b"images/im1.png"]), dtype=h5py.special_dtype(vlen=str))
        shapes = f.create_dataset("shapes", (2,), dtype=h5py.special_dtype(vlen=np.dtype("int64")))
        shapes[0], shapes[1] = np.array([6, 9, 3]), np.array([5, 4])
        f.create_dataset("ids", data=np.array([b"first", b"second"]), dtype=h5py.special_dtype(vlen=str))
        f.attrs["size"] = 2
    stim = Stimuli.read_hdf5(path)
    assert stim.paths == [images / "im0.png", images / "im1.png"] and stim.ids == ["first", "second"]
    assert stim.sizes == [(6, 9), (5, 4)]
    np.testing.assert_array_equal(stim[0], arrays[0])

    path = tmp_path / "arrays.hdf5"
    with h5py.File(path, "w") as f:       # Stimuli 1.1: the arrays themselves, datasets "0", "1", ...
        _attrs(f, "Stimuli", "1.1")
        for i, a in enumerate(arrays):
            f[str(i)] = a
        f.attrs["size"] = 2
    with pytest.raises(DataError, match="pass folder="):
        Stimuli.read_hdf5(path)
    stim = Stimuli.read_hdf5(path, folder=tmp_path / "decoded")
    assert stim.ids == ["0", "1"] and stim.sizes == [(6, 9), (5, 4)]
    np.testing.assert_array_equal(stim[0], arrays[0])
    np.testing.assert_array_equal(stim[1], np.repeat(arrays[1][:, :, None], 3, axis=2))
    with pytest.raises(DataError, match="already exists; pass an empty folder"):
        Stimuli.read_hdf5(path, folder=tmp_path / "decoded")


def test_files_that_are_not_pysaliencys_are_refused_by_name(tmp_path):
    h5py = _h5py()
    path = tmp_path / "other.hdf5"
    with h5py.File(path, "w") as f:
        f["maps"] = np.zeros(3)
    with pytest.raises(DataError, match=r"other.hdf5 has no 'type' attribute.*\(top-level entries: maps\)"):
        Fixations.read_hdf5(path)
    with h5py.File(path, "w") as f:
        _attrs(f, "FixationTrains", "9.0")
    with pytest.raises(DataError, match="FixationTrains version '9.0'; salscope reads versions 1.0, 1.1, 1.2"):
        Fixations.read_hdf5(path)
    (tmp_path / "text.hdf5").write_text("not hdf5")
    with pytest.raises(DataError, match="cannot read .*text.hdf5 as HDF5"):
        Fixations.read_hdf5(tmp_path / "text.hdf5")


# --------------------------------------------------------------------------- with pysaliency


def test_fixations_round_trip_through_pysaliency():
    pysaliency = _pysaliency()
    fix = _scanpaths()
    theirs = fix.to_pysaliency()
    assert isinstance(theirs, pysaliency.Fixations)
    np.testing.assert_allclose(theirs.x, fix.x + 0.5)
    assert theirs.x_int.tolist() == fix.col.tolist() and theirs.y_int.tolist() == fix.row.tolist()
    # the third fixation of subject 0 on image 0 remembers the first two (pysaliency's history)
    np.testing.assert_allclose(theirs.x_hist[2, :2], [4.1, 7.7])
    assert theirs.lengths.tolist() == fix.order.tolist()
    np.testing.assert_allclose(theirs.duration, fix.duration / 1000)
    back = Fixations.from_pysaliency(theirs)
    for key in ("n", "subject", "order"):
        assert getattr(back, key).tolist() == getattr(fix, key).tolist(), key
    np.testing.assert_allclose(back.x, fix.x, atol=1e-12)
    np.testing.assert_allclose(back.duration, fix.duration, rtol=1e-15)
    assert back.col.tolist() == fix.col.tolist() and back.row.tolist() == fix.row.tolist()
    # and a pysaliency FixationTrains (what its data set loaders return) comes in with its scanpath order
    trains = pysaliency.FixationTrains.from_fixation_trains([np.array([1.0, 2.7]), np.array([5.2])], [np.array([3.0, 4.0]), np.array([0.5])],
                                                            [np.array([0.0, 1.0]), np.array([0.0])], [0, 1], [4, 5])
    got = Fixations.from_pysaliency(trains)
    assert got.order.tolist() == [0, 1, 0] and got.subject.tolist() == [4, 4, 5] and got.col.tolist() == [1, 2, 5]


def test_stimuli_round_trip_through_pysaliency(tmp_path):
    pysaliency = _pysaliency()
    rng = np.random.default_rng(1)
    paths = []
    for name, shape in (("b", (7, 5, 3)), ("a", (4, 6, 3))):
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(paths[-1])
    stim = Stimuli(paths, ids=["one", "two"])
    theirs = stim.to_pysaliency()
    assert isinstance(theirs, pysaliency.FileStimuli) and list(theirs.sizes) == stim.sizes
    np.testing.assert_array_equal(theirs.stimuli[0], stim[0])
    back = Stimuli.from_pysaliency(theirs)
    assert back.paths == stim.paths and back.ids == stim.ids
    # in-memory pysaliency stimuli are written out as PNG files
    mem = pysaliency.Stimuli([stim[0], stim[1][:, :, 0]])
    got = Stimuli.from_pysaliency(mem, folder=tmp_path / "mem")
    assert got.ids == ["0", "1"] and got.sizes == stim.sizes
    np.testing.assert_array_equal(got[0], stim[0])


def test_hdf5_written_by_pysaliency_reads_as_from_pysaliency(tmp_path, monkeypatch):
    _pysaliency()
    _h5py()
    if not hasattr(np, "string_"):          # pysaliency 0.2.22's to_hdf5 calls np.string_, gone in NumPy 2
        monkeypatch.setattr(np, "string_", np.bytes_, raising=False)
    fix = _scanpaths()
    fix.to_pysaliency().to_hdf5(str(tmp_path / "fix.hdf5"))
    got = Fixations.read_hdf5(tmp_path / "fix.hdf5")
    for key in ("n", "subject", "order", "col", "row"):
        assert getattr(got, key).tolist() == getattr(fix, key).tolist(), key
    np.testing.assert_allclose(got.duration, fix.duration, rtol=1e-15)


def test_one_model_scores_the_same_through_pysaliency_and_salscope(osie):
    """center_bias on 5 OSIE images (sub-pixel fixations): salscope's evaluate vs pysaliency's AUCs/NSSs to 1e-12."""
    pysaliency = _pysaliency()
    from salscope.analysis.evaluation import evaluate
    from salscope.models import get_model

    ds: Dataset = osie.subset(np.arange(5))
    rows = evaluate(["center_bias"], ds, metrics=["auc", "nss"]).rows
    cb = get_model("center_bias")

    class CenterBias(pysaliency.SaliencyMapModel):
        def _saliency_map(self, stimulus):
            return cb.saliency_map(stimulus)

    model, stimuli, f = CenterBias(caching=False), ds.stimuli.to_pysaliency(), ds.fixations
    count = np.bincount(f.n, minlength=len(ds))
    for fixations, agree in ((f.to_pysaliency(), True), (pysaliency.Fixations.create_without_history(f.x, f.y, f.n), False)):
        auc = np.bincount(f.n, np.asarray(model.AUCs(stimuli, fixations, nonfixations="uniform")), len(ds)) / count
        nss = np.bincount(f.n, np.asarray(model.NSSs(stimuli, fixations)), len(ds)) / count
        idx = [r["image_index"] for r in rows]
        diff = max(np.abs(auc[idx] - [r["auc"] for r in rows]).max(), np.abs(nss[idx] - [r["nss"] for r in rows]).max())
        assert (diff <= 1e-12) if agree else (diff > 1e-4), diff   # without the shift, pysaliency scores other pixels
