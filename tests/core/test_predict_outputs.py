"""`salscope predict` never writes over an input image or a file it did not write, and refuses before writing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from salscope.cli import main


def _image(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_an_input_image_is_never_replaced_even_with_overwrite(tmp_path, capsys):
    photo = _image(tmp_path / "ow" / "photo.png")
    other = _image(tmp_path / "ow" / "other.jpg", 1)
    overlay = tmp_path / "ow" / "photo_overlay.png"
    overlay.write_bytes(b"the user's own overlay")
    before = _snapshot(tmp_path / "ow")
    for extra in ([], ["--overwrite"]):
        code = main(["predict", str(other), str(photo), "--out", str(tmp_path / "ow"), "--model", "spectral_residual",
                     "--overlay", *extra])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1
        assert f"{photo} is the input image" in err and "another --out" in err
        assert _snapshot(tmp_path / "ow") == before          # nothing written, not even other.png before photo


def test_an_existing_file_needs_overwrite(tmp_path, capsys):
    img = _image(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.npy").write_bytes(b"someone's array")
    args = ["predict", str(img), "--out", str(out), "--model", "spectral_residual", "--format", "png,npy"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{out / 'a.npy'} already exists" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.npy"] and (out / "a.npy").read_bytes() == b"someone's array"
    assert main([*args, "--overwrite"]) == 0
    m = np.load(out / "a.npy")
    assert m.shape == (24, 32) and (out / "a.png").is_file()


@pytest.mark.parametrize("names, flags", [(("a.png", "a.jpg"), []), (("a.jpg", "a_overlay.jpg"), ["--overlay"])])
def test_two_inputs_sharing_an_output_name_are_refused(tmp_path, capsys, names, flags):
    images = [str(_image(tmp_path / f"d{i}" / n, i)) for i, n in enumerate(names)]
    out = tmp_path / "out"
    assert main(["predict", *images, "--out", str(out), "--model", "spectral_residual", *flags]) == 2
    err = capsys.readouterr().err
    assert images[0] in err and images[1] in err and "different --out" in err
    assert not out.exists()
