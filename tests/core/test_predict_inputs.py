"""`salscope predict` on folders and globs, with stray files, --strict, EXIF-rotated photos and the benchmark formats."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.special import logsumexp

from salscope.cli import main
from salscope.models import get_model

MODEL = ["--model", "center_bias"]


def _image(path, shape=(12, 16), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape + (3,), dtype=np.uint8)).save(path)
    return path


def _folder(root):
    _image(root / "a.png")
    _image(root / "b.jpg", (10, 14), 1)
    (root / "notes.txt").write_text("my notes")
    return root


def test_a_folder_with_a_stray_file_is_predicted_and_the_stray_file_counted(tmp_path, capsys):
    root = _folder(tmp_path / "imgs")
    out = tmp_path / "out"
    assert main(["predict", str(root), "--out", str(out), *MODEL, "--format", "png,npy"]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a.npy", "a.png", "b.npy", "b.png"]
    assert np.load(out / "b.npy").shape == (10, 14)
    assert "skipped 1 file(s) that are not images" in captured.err and "notes.txt" in captured.err
    assert "wrote 4 file(s) for 2 image(s)" in captured.out


def test_strict_refuses_the_stray_file_before_writing(tmp_path, capsys):
    root = _folder(tmp_path / "imgs")
    out = tmp_path / "out"
    assert main(["predict", str(root), "--out", str(out), *MODEL, "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 input(s) are not image files" in err and "notes.txt" in err
    assert "drop --strict to skip them" in err and not out.exists()


def test_quoted_globs_and_recursive_folders(tmp_path, capsys):
    root = _folder(tmp_path / "imgs")
    _image(root / "sub" / "a.png", (8, 8), 2)          # same stem as imgs/a.png, in a subfolder
    out = tmp_path / "glob"
    assert main(["predict", str(root / "*.png"), "--out", str(out), *MODEL]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
    assert main(["predict", str(root / "*.bmp"), "--out", str(out), *MODEL]) == 2
    assert "matches no file" in capsys.readouterr().err
    deep = tmp_path / "deep"
    assert main(["predict", str(root), "--recursive", "--out", str(deep), *MODEL, "--format", "npy"]) == 0
    assert sorted(p.relative_to(deep).as_posix() for p in deep.rglob("*.npy")) == ["a.npy", "b.npy", "sub/a.npy"]
    assert np.load(deep / "sub" / "a.npy").shape == (8, 8)


def test_an_exif_rotated_photo_gets_an_upright_map(tmp_path):
    photo = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6                                   # stored 20x10 (W×H), shown rotated 90° clockwise
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (10, 20, 3), dtype=np.uint8)).save(photo, exif=exif)
    out = tmp_path / "out"
    assert main(["predict", str(photo), "--out", str(out), "--model", "spectral_residual", "--format", "npy,png",
                 "--overlay"]) == 0
    assert np.load(out / "phone.npy").shape == (20, 10)
    assert Image.open(out / "phone.png").size == (10, 20) and Image.open(out / "phone_overlay.png").size == (10, 20)


def test_benchmark_formats(tmp_path):
    """jpg (MIT: grey JPEG, image size and name), logdensity (<name>.npy) and hdf5 (log-densities keyed by file name)."""
    h5py = pytest.importorskip("h5py", reason="h5py (the optional HDF5 extra) is not installed")
    root = tmp_path / "Stimuli"
    _image(root / "Action" / "001.jpg", (12, 16))
    _image(root / "Art" / "001.jpg", (10, 14), 1)
    out = tmp_path / "sub"
    assert main(["predict", str(root), "--recursive", "--out", str(out), *MODEL, "--format", "jpg,logdensity,hdf5"]) == 0
    cb = get_model("center_bias")
    with h5py.File(out / "predictions.hdf5", "r") as f:
        for cat, shape in (("Action", (12, 16)), ("Art", (10, 14))):
            jpg = Image.open(out / cat / "001.jpg")
            assert jpg.format == "JPEG" and jpg.mode == "L" and jpg.size == shape[::-1]
            grey = np.asarray(jpg, dtype=np.float64)
            assert grey.max() >= 250 and grey.min() <= 5                                  # min-max scaled to 0..255
            ld = np.load(out / cat / "001.npy")
            expected = cb.log_density(np.zeros(shape + (3,), np.uint8))
            np.testing.assert_allclose(ld, expected, atol=1e-12)
            assert abs(logsumexp(ld)) < 1e-9
            np.testing.assert_array_equal(f[f"{cat}/001.jpg"][...], ld)
    err_out = tmp_path / "both"
    assert main(["predict", str(root), "--recursive", "--out", str(err_out), *MODEL, "--format", "npy,logdensity"]) == 2
    assert not err_out.exists()


def test_pysaliencys_benchmark_loaders_read_what_predict_writes(tmp_path):
    """The loaders the MIT/Tübingen benchmark evaluates submissions with (pysaliency) read each format back."""
    pysaliency = pytest.importorskip("pysaliency", reason="pysaliency is not installed (optional)")
    pytest.importorskip("h5py", reason="h5py (the optional HDF5 extra) is not installed")
    from salscope.data import Stimuli

    root = tmp_path / "Stimuli"
    paths = [_image(root / "Action" / "001.jpg", (12, 16)), _image(root / "Art" / "001.jpg", (10, 14), 1)]
    maps, prob = tmp_path / "maps", tmp_path / "prob"
    assert main(["predict", str(root), "--recursive", "--out", str(maps), *MODEL, "--format", "jpg"]) == 0
    assert main(["predict", str(root), "--recursive", "--out", str(prob), *MODEL, "--format", "logdensity,hdf5"]) == 0
    stimuli = Stimuli(paths, ["Action/001", "Art/001"]).to_pysaliency()
    map_model = pysaliency.SaliencyMapModelFromDirectory(stimuli, str(maps), caching=False)
    folder_model = pysaliency.ModelFromDirectory(stimuli, str(prob), caching=False)
    hdf5_model = pysaliency.HDF5Model(stimuli, str(prob / "predictions.hdf5"), caching=False)
    for path, stimulus in zip(paths, stimuli):
        rel = path.relative_to(root).with_suffix("")
        np.testing.assert_array_equal(map_model.saliency_map(stimulus), np.asarray(Image.open(maps / f"{rel}.jpg"), float))
        ld = np.load(prob / f"{rel}.npy")
        np.testing.assert_array_equal(folder_model.log_density(stimulus), ld)
        np.testing.assert_array_equal(hdf5_model.log_density(stimulus), ld)
