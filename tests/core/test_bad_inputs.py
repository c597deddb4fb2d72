"""Every bad input to a ``salscope`` command ends in one line: ``error: …``, exit status 2, no traceback.

One table of cases (issue 19, "tracebacks"), each run in-process through
:func:`salscope.cli.main`; the input files must be byte-for-byte unchanged
afterwards. Plus the two checks that are not CLI runs: a study data set whose
README is not UTF-8, and finding 4's verdict without bootstrap intervals.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from salscope.cli import main


def _png(path: Path, seed: int, size=(32, 48)) -> bytes:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path.read_bytes()


def _bomb(png: bytes, width: int = 30000, height: int = 30000) -> bytes:
    """``png`` with its IHDR patched to claim ``width``×``height`` (CRC fixed): a decompression bomb's header."""
    b = bytearray(png)
    assert b[12:16] == b"IHDR"
    b[16:24] = struct.pack(">II", width, height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    return bytes(b)


def _folder(root: Path, name: str, *, first: bytes | None = None, meta: dict | None = None) -> Path:
    """A generic-folder data set: 2 images, 3 fixations, ``meta.json`` (ppd 4 unless ``meta``)."""
    d = root / name
    (d / "images").mkdir(parents=True)
    for k in range(2):
        _png(d / "images" / f"im{k}.png", k)
    if first is not None:
        (d / "images" / "im0.png").write_bytes(first)
    (d / "fixations.csv").write_text("image,x,y\nim0,3,4\nim0,10,10\nim1,5,5\n")
    (d / "meta.json").write_text(json.dumps({"ppd": 4} if meta is None else meta))
    return d


def _ckpt(path: Path, meta) -> Path:
    import torch

    torch.save({"salscope": meta, "state_dict": {}}, path)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    good = _folder(root, "good")
    png = (good / "images" / "im0.png").read_bytes()
    paths = {"root": root, "good": good, "image": good / "images" / "im0.png"}
    paths["bomb"] = root / "bomb.png"
    paths["bomb"].write_bytes(_bomb(png))
    paths["trunc"] = root / "trunc.png"
    paths["trunc"].write_bytes(png[: len(png) // 2])
    paths["bomb_folder"] = _folder(root, "bombfolder", first=_bomb(png))
    paths["trunc_folder"] = _folder(root, "truncfolder", first=png[: len(png) // 2])
    for name, ppd in (("ppd0", 0), ("ppdneg", -3), ("ppdtext", "abc"), ("ppdnan", float("nan"))):
        paths[name] = _folder(root, name, meta={"ppd": ppd})
    salient = {"kind": "saliency", "encoder": {"name": "vgg16"},
               "decoder": {"name": "paper", "channels": [512], "layers": ["conv5_3"]}}
    paths["ck_list"] = _ckpt(root / "list.pt", [salient])
    paths["ck_noenc"] = _ckpt(root / "noenc.pt", {k: v for k, v in salient.items() if k != "encoder"})
    paths["ck_nodec"] = _ckpt(root / "nodec.ckpt", {k: v for k, v in salient.items() if k != "decoder"})
    paths["ck_strenc"] = _ckpt(root / "strenc.pt", {**salient, "encoder": "vgg16"})
    paths["afile"] = root / "afile"
    paths["afile"].write_text("not a folder\n")
    paths["missing"] = root / "missing"
    paths["out"] = root / "out"
    return paths


# (case id, argv with {placeholders} from `inputs`, expected message fragment)
CASES = [
    # 1. decompression bomb and truncated image, as a file to predict and as a data set's stimulus
    ("predict-bomb", ["predict", "{bomb}", "--out", "{out}/p1"], "decompression bomb"),
    ("predict-truncated", ["predict", "{trunc}", "--out", "{out}/p2"], "trunc.png (image file is truncated)"),
    ("show-bomb", ["data", "show", "{bomb_folder}", "im0", "--out", "{out}/s1.png"], "im0.png claims more pixels"),
    ("show-truncated", ["data", "show", "{trunc_folder}", "im0", "--out", "{out}/s2.png"], "truncfolder/images/im0.png"),
    ("evaluate-bomb", ["evaluate", "center_bias", "--dataset", "{bomb_folder}", "--split", "all", "--metrics", "nss",
                       "--out", "{out}/e1"], "raise PIL.Image.MAX_IMAGE_PIXELS"),
    ("evaluate-truncated", ["evaluate", "center_bias", "--dataset", "{trunc_folder}", "--split", "all",
                            "--metrics", "nss", "--out", "{out}/e2"], "truncated or corrupt: replace it"),
    # 2. batch sizes, threads, workers, image counts out of range
    ("evaluate-workers", ["evaluate", "center_bias", "--dataset", "{good}", "--workers", "-2", "--out", "{out}/e3"],
     "--workers must be at least 1, got -2"),
    ("evaluate-n-boot", ["evaluate", "center_bias", "--dataset", "{good}", "--n-boot", "-1", "--out", "{out}/e5"],
     "--n-boot must be at least 0 (0 = no bootstrap intervals), got -1"),
    ("evaluate-max-images", ["evaluate", "center_bias", "--dataset", "{good}", "--max-images", "-1", "--out", "{out}/e4"],
     "--max-images must be a whole number >= 0 (0 = all images), got -1"),
    ("dissect-batch", ["dissect", "--model", "vgg16", "--dataset", "{good}", "--layers", "conv1_1", "--batch-size", "0",
                       "--out", "{out}/d1"], "--batch-size must be at least 1"),
    ("dissect-threads", ["dissect", "--model", "vgg16", "--dataset", "{good}", "--layers", "conv1_1", "--threads", "-2",
                         "--out", "{out}/d2"], "--threads must be at least 1"),
    ("dissect-max-images", ["dissect", "--model", "vgg16", "--dataset", "{good}", "--layers", "conv1_1",
                            "--max-images", "-1", "--out", "{out}/d3"], "--max-images must be a whole number >= 0"),
    ("compare-batch", ["compare", "-m", "vgg16,vgg16", "--labels", "a,b", "--dataset", "{good}", "--batch-size", "0",
                       "-o", "{out}/c1"], "--batch-size must be at least 1, got 0"),
    ("compare-max-images", ["compare", "-m", "vgg16,vgg16", "--labels", "a,b", "--dataset", "{good}",
                            "--max-images", "-1", "-o", "{out}/c2"], "--max-images must be a whole number >= 0 (0 = all images), got -1"),
    ("compare-n-boot", ["compare", "-m", "vgg16,vgg16", "--labels", "a,b", "--dataset", "{good}", "--n-boot", "-1",
                        "-o", "{out}/c3"], "--n-boot must be at least 0"),
    ("popout-max-images", ["popout", "evaluate", "-m", "gbvs", "-s", "{good}", "--max-images", "-1", "-o", "{out}/q1"],
     "(--max-images) must be a whole number ≥ 0"),
    ("popout-max-fixations", ["popout", "evaluate", "-m", "gbvs", "-s", "{good}", "--max-fixations", "0",
                              "-o", "{out}/q2"], "(--max-fixations) must be a whole number ≥ 1"),
    ("train-batch", ["train", "--data-dir", "{root}", "--batch-size", "0", "--out", "{out}/t1"],
     "--batch-size: must be >= 1, got 0"),
    ("train-threads", ["train", "--data-dir", "{root}", "--threads", "-2", "--out", "{out}/t2"],
     "--threads: must be >= 1"),
    # 3. an output suffix `data show` cannot write
    ("show-txt", ["data", "show", "{good}", "im0", "--out", "{out}/x.txt"], "end the name in one of .png, .jpg"),
    ("show-sigma", ["data", "show", "{good}", "im0", "--out", "{out}/s3.png", "--sigma-deg", "-1"],
     "--sigma-deg must be a finite number >= 0"),
    # 4. pixels per degree <= 0 or not a number in a data set's meta.json
    ("ppd-zero", ["data", "show", "{ppd0}", "im0", "--out", "{out}/s4.png"], "ppd0/meta.json: ppd (pixels per degree"),
    ("ppd-negative", ["evaluate", "center_bias", "--dataset", "{ppdneg}", "--metrics", "cc", "--split", "all",
                      "--out", "{out}/e5"], "ppdneg/meta.json: ppd (pixels per degree of visual angle) is -3"),
    ("ppd-text", ["data", "info", "{ppdtext}"], "ppd (pixels per degree of visual angle) is 'abc'; give a number > 0"),
    ("ppd-nan", ["data", "info", "{ppdnan}"], "is nan; give a number > 0"),
    # 5. checkpoint metadata of the wrong shape
    ("predict-ckpt-list", ["predict", "{image}", "--model", "{ck_list}", "--out", "{out}/p3"],
     "its 'salscope' entry is a list, not a table"),
    ("predict-ckpt-noenc", ["predict", "{image}", "--model", "{ck_noenc}", "--out", "{out}/p4"],
     "salscope.encoder is missing"),
    ("predict-ckpt-nodec", ["predict", "{image}", "--model", "{ck_nodec}", "--out", "{out}/p5"],
     "salscope.decoder is missing"),
    ("predict-ckpt-strenc", ["predict", "{image}", "--model", "{ck_strenc}", "--out", "{out}/p6"],
     "salscope.encoder is str 'vgg16'"),
    ("dissect-ckpt-list", ["dissect", "--model", "{ck_list}", "--dataset", "{good}", "--layers", "conv1_1",
                           "--out", "{out}/d4"], "list.pt: its 'salscope' entry is a list"),
    ("dissect-ckpt-noenc", ["dissect", "--model", "{ck_noenc}", "--dataset", "{good}", "--layers", "conv1_1",
                            "--out", "{out}/d5"], "noenc.pt: salscope.encoder is missing"),
    ("dissect-ckpt-strenc", ["dissect", "--model", "{ck_strenc}", "--dataset", "{good}", "--layers", "conv1_1",
                             "--out", "{out}/d6"], "strenc.pt: salscope.encoder is str"),
    # 6. a data folder that is a file, or missing
    ("data-dir-file", ["data", "info", "osie", "--data-dir", "{afile}"], "afile (from --data-dir) is a file, not a folder"),
    ("data-dir-missing", ["data", "info", "osie", "--data-dir", "{missing}"], "missing (from --data-dir) does not exist"),
    ("dataset-file", ["data", "info", "{afile}"], "afile is a file, not a folder"),
    ("dataset-missing", ["evaluate", "center_bias", "--dataset", "{missing}", "--out", "{out}/e6"],
     "unknown data set"),
    ("evaluate-data-dir-file", ["evaluate", "center_bias", "--data-dir", "{afile}", "--out", "{out}/e7"],
     "point --data-dir at an existing folder"),
    ("dissect-data-dir-file", ["dissect", "--model", "vgg16", "--weights", "none", "--data-dir", "{afile}",
                               "--layers", "conv1_1", "--out", "{out}/d7"], "is a file, not a folder"),
    ("compare-data-dir-file", ["compare", "-m", "vgg16,vgg16", "--labels", "a,b", "--data-dir", "{afile}",
                               "-o", "{out}/c4"], "is a file, not a folder"),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "out" not in p.relative_to(root).parts}


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(inputs, capsys, monkeypatch, argv, fragment):
    monkeypatch.delenv("SALSCOPE_DEBUG", raising=False)
    before = _snapshot(inputs["root"])
    args = [a.format(**{k: str(v) for k, v in inputs.items()}) for a in argv]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]
    assert _snapshot(inputs["root"]) == before


def test_bomb_limit_is_the_decoders(inputs, monkeypatch, capsys):
    """A genuine image over a lowered ``MAX_IMAGE_PIXELS`` (> 2× the limit) is refused the same way."""
    import PIL.Image

    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 100)   # 32×48 = 1536 px > 2 × 100
    code = main(["predict", str(inputs["image"]), "--out", str(inputs["out"] / "p7")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "now 100" in err and "im0.png claims more pixels" in err


def test_study_inputs_non_utf8_readme(tmp_path):
    """A data set README in Latin-1 is provenance: check_inputs reads it (replacement characters), never stops."""
    from salscope.study.config import StudyConfig
    from salscope.study.pipeline import check_inputs

    config = StudyConfig()
    for sub in (config.data.dataset, config.data.regions, config.data.scenes):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    (tmp_path / config.data.dataset / "README.md").write_bytes("# Donn\xe9es OSIE\n\nr\xe9sum\xe9\n".encode("latin-1"))
    prov = check_inputs(config, tmp_path)
    assert prov["dataset README"] == "Donn\ufffdes OSIE"
    (tmp_path / config.data.dataset / "README.md").write_bytes(b"")
    assert check_inputs(config, tmp_path)["dataset README"] == ""


def test_task_verdict_without_bootstrap_is_inconclusive():
    """``[compare] bootstrap = 0``: no intervals, so finding 4 is "inconclusive" (not a crash, not a verdict)."""
    from salscope.analysis.representation.compare import compare_features
    from salscope.study.findings import INCONCLUSIVE, decide_task_not_domain

    rng = np.random.default_rng(0)
    base = rng.normal(size=(12, 6))
    feats = {m: {"l1": base + s * rng.normal(size=base.shape)} for m, s in
             (("pre", 0.0), ("sal", 0.5), ("rep", 0.5), ("scene", 1.0))}
    ids = {m: [f"i{k}" for k in range(12)] for m in feats}
    comp = compare_features(feats, ids, n_boot=0, roles={"pretrained": "pre", "saliency": "sal", "scene": "scene",
                                                          "replicate": "rep"})
    row = comp.verdict[-1]
    assert row.get("move_scene_ci") is None and np.isfinite(row["move_scene"])
    verdict = decide_task_not_domain({"per_layer": [{**row, "fine_tuned": True}], "margin": 0.1})
    assert verdict.status == INCONCLUSIVE
    assert "n_boot=0" in verdict.reason
