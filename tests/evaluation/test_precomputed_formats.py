"""`evaluate` reads map folders laid out as pysaliency and the MIT/Tübingen benchmark lay them out."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

import salscope.metrics as M
from salscope.analysis.evaluation import evaluate
from salscope.models.precomputed import PrecomputedMaps
from salscope.cli import main
from salscope.data import Dataset, Fixations, Stimuli
from salscope.errors import DataError, ModelError
from salscope.models.precomputed_formats import find_map_file, index_map_folder, map_keys, read_map_file
from salscope.models import get_model

H, W = 9, 12


def _maps():
    yy, xx = np.mgrid[0:H, 0:W]
    return [(xx + 1.0) * (yy + 1.0), (W - xx) + 0.5 * yy, np.exp(-((xx - 6.0) ** 2 + (yy - 4.0) ** 2) / 8.0)]


@pytest.fixture
def cat_like(tmp_path):
    """Three images in category folders (two share the stem 001), ids 'Action/001' etc. as CAT2000's loader gives."""
    rels = ["Action/001", "Art/001", "Art/002"]
    paths = []
    for k, rel in enumerate(rels):
        p = tmp_path / "Stimuli" / f"{rel}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 50 * k, np.uint8)).save(p)
        paths.append(p)
    rng = np.random.default_rng(4)
    n = np.repeat([0, 1, 2], 10)
    return Dataset("cat_like", Stimuli(paths, rels), Fixations(rng.uniform(0, W - 1, n.size), rng.uniform(0, H - 1, n.size), n))


def _expected_nss(ds, maps):
    f = ds.fixations
    return [M.nss(m, f.x[f.n == i], f.y[f.n == i]) for i, m in enumerate(maps)]


def test_category_subfolders_npy_and_mat_maps(cat_like, tmp_path):
    folder = tmp_path / "model"
    (folder / "Action").mkdir(parents=True)
    (folder / "Art").mkdir()
    maps = _maps()
    np.save(folder / "Action" / "001.npy", maps[0])
    savemat(folder / "Art" / "001.mat", {"saliency": maps[1]})           # pysaliency reads .mat with one variable
    np.save(folder / "Art" / "002.npy", maps[2])
    rows = evaluate([folder], cat_like, metrics=["nss"]).rows
    np.testing.assert_allclose([r["nss"] for r in rows], _expected_nss(cat_like, maps), atol=1e-12)


def test_maps_named_after_the_stimulus_files_not_the_ids(cat_like, tmp_path):
    """A pysaliency export keys maps by the stimulus file names; the ids here are something else."""
    ds = Dataset("renamed", Stimuli(cat_like.stimuli.paths, ["x", "y", "z"]), cat_like.fixations)
    folder = tmp_path / "export" / "Stimuli"      # the maps repeat the stimuli's own trailing folders
    maps = _maps()
    for rel, m in zip(["Action/001", "Art/001", "Art/002"], maps):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(m / m.max() * 255).astype(np.uint8)).save(folder / f"{rel}.png")
    got, _ = PrecomputedMaps(tmp_path / "export").predict(ds, 1, None)
    np.testing.assert_array_equal(got, np.round(maps[1] / maps[1].max() * 255))
    # the longest trailing part of the stimulus path wins, as in pysaliency's get_keys_from_filenames
    keys = map_keys("y", ds.stimuli.paths[1])
    assert keys[-3:] == ["Art/001", "001", "y"] and keys.index("Stimuli/Art/001") < keys.index("Art/001")
    files = index_map_folder(tmp_path / "export")
    assert find_map_file(files, "y", ds.stimuli.paths[1]) == folder / "Art" / "001.png"
    assert find_map_file(files, "nothing") is None


def test_bad_map_files_are_errors_naming_them(cat_like, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    savemat(folder / "two.mat", {"a": np.ones((2, 2)), "b": np.ones((2, 2))})
    with pytest.raises(DataError, match=r"two.mat holds 2 variables \(a, b\); a map file holds exactly one"):
        read_map_file(folder / "two.mat")
    (folder / "Art").mkdir()
    np.save(folder / "Art" / "001.npy", np.ones((H, W)))
    Image.fromarray(np.zeros((H, W), np.uint8)).save(folder / "Art" / "001.png")
    with pytest.raises(DataError, match="two maps for image 'Art/001': Art/001.npy and Art/001.png"):
        PrecomputedMaps(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="holds no .*mat files"):
        PrecomputedMaps(tmp_path / "empty")


def test_evaluate_reads_what_predict_writes_for_the_benchmark(cat_like, tmp_path, capsys):
    out = tmp_path / "submission"
    assert main(["predict", str(cat_like.stimuli.paths[0].parents[1]), "--recursive", "--out", str(out),
                 "--model", "center_bias", "--format", "jpg"]) == 0
    capsys.readouterr()
    rows = evaluate([out], cat_like, metrics=["nss"]).rows
    grey = [np.asarray(Image.open(out / f"{rel}.jpg"), dtype=np.float64) for rel in cat_like.ids]
    np.testing.assert_allclose([r["nss"] for r in rows], _expected_nss(cat_like, grey), atol=1e-12)
    # the JPEG maps are the centre bias up to 8-bit quantisation and JPEG loss
    cb = get_model("center_bias").saliency_map(np.zeros((H, W, 3), np.uint8))
    np.testing.assert_allclose([r["nss"] for r in rows], _expected_nss(cat_like, [cb] * 3), atol=0.05)
