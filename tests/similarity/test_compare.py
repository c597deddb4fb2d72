"""compare_models / compare_features on perturbed copies of one backbone, and the CLI."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from salscope.analysis.representation.compare import compare_features, compare_models, relative_weight_change
from salscope.analysis.representation.outputs import write_comparison
from salscope.analysis.representation.similarity import linear_cka
from salscope.errors import AnalysisError
from salscope.models.backbones import get_backbone

torch.set_num_threads(1)
LAYERS = ["conv3_3", "conv4_3", "conv5_1", "conv5_3"]


def _perturb(model, layers, scale, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in layers:
            for p in model.layer_parameters(layer).values():
                p.add_(scale * p.abs().mean() * torch.randn(p.shape, generator=g))
    return model


@pytest.fixture(scope="module")
def trio():
    torch.manual_seed(0)
    pre = get_backbone("vgg16", weights=None)
    sal = _perturb(copy.deepcopy(pre), ["conv5_1", "conv5_2", "conv5_3"], 3.0, 1)  # a big change
    scene = _perturb(copy.deepcopy(pre), ["conv5_1", "conv5_2", "conv5_3"], 0.1, 2)  # a small one
    return {"pre": pre, "sal": sal, "scene": scene}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(24, 8, 8, 3)).astype(np.float64)
    # smooth-ish textured images of 40×40, upsampled from 8×8 noise
    return [np.kron(b, np.ones((5, 5, 1))).astype(np.uint8) for b in base]


@pytest.fixture(scope="module")
def result(trio, images):
    return compare_models(trio, images, LAYERS, size=None, batch_size=7, n_boot=200, seed=3)


def test_layer_by_layer_cka_and_diagonal(result, trio, images):
    assert result.models == ["pre", "sal", "scene"] and result.layers == LAYERS
    assert set(result.cka) == {("pre", "sal"), ("pre", "scene"), ("sal", "scene")}
    m = result.cka[("pre", "sal")]
    assert m.shape == (4, 4)
    # unperturbed layers are identical representations
    np.testing.assert_allclose(result.diagonal("pre", "sal")[:2], 1.0, atol=1e-9)
    np.testing.assert_allclose(result.diagonal("pre", "scene")[:2], 1.0, atol=1e-9)
    # the matrix entries are the one-shot debiased CKA of pooled features
    x = torch.cat([trio["pre"].preprocess(im) for im in images])
    with torch.no_grad():
        a = trio["pre"](x, ["conv4_3"])["conv4_3"].double().mean((2, 3)).numpy()
        b = trio["sal"](x, ["conv5_3"])["conv5_3"].double().mean((2, 3)).numpy()
    assert m[1, 3] == pytest.approx(linear_cka(a, b, debiased=True), abs=1e-8)


def test_weight_change(result, trio):
    np.testing.assert_array_equal(result.weight_change["sal"][:2], 0.0)
    assert result.weight_change["sal"][3] > 10 * result.weight_change["scene"][3] > 0
    # exact value: ‖ΔW‖ / ‖W₀‖ over weight and bias of conv5_3 (features.28)
    w0, b0 = trio["pre"].features[28].weight, trio["pre"].features[28].bias
    w1, b1 = trio["scene"].features[28].weight, trio["scene"].features[28].bias
    expect = torch.sqrt(((w1 - w0) ** 2).sum() + ((b1 - b0) ** 2).sum()) / torch.sqrt((w0**2).sum() + (b0**2).sum())
    assert result.weight_change["scene"][3] == pytest.approx(float(expect.detach()), rel=1e-6)
    with pytest.raises(AnalysisError, match="different parameters"):
        relative_weight_change(get_backbone("resnet18", weights=None), trio["pre"], ["conv1"], {"conv1": "conv1"}, {"conv1": "conv1_1"})


def test_verdict_numbers_and_cis(result):
    rows = {r["layer"]: r for r in result.verdict}
    assert result.roles == {"pretrained": "pre", "saliency": "sal", "scene": "scene"}
    r = rows["conv5_3"]
    assert r["change_saliency"] > r["change_scene"]
    lo, hi = r["saliency_minus_scene_ci"]
    assert lo <= r["saliency_minus_scene"] <= hi and lo > 0  # the big change is significantly bigger
    assert r["change_saliency"] == pytest.approx(1 - result.diagonal("pre", "sal")[3])
    # unchanged layers: zero change, degenerate interval at 0
    assert rows["conv3_3"]["change_saliency"] == pytest.approx(0, abs=1e-9)
    assert rows["conv3_3"]["change_saliency_ci"] == pytest.approx([0, 0], abs=1e-9)
    # task vs domain: CKA(pre, III) − CKA(II, III), paired with the same resamples
    cka_pre_scene = result.diagonal("pre", "scene")[3]
    cka_sal_scene = result.diagonal("sal", "scene")[3]
    assert r["task_minus_domain"] == pytest.approx(cka_pre_scene - cka_sal_scene)
    lo, hi = r["task_minus_domain_ci"]
    assert lo <= r["task_minus_domain"] <= hi
    assert rows["conv3_3"]["task_minus_domain"] == pytest.approx(0, abs=1e-9)


def test_seeded_and_batch_invariant(trio, images, result):
    again = compare_models(trio, images, LAYERS, size=None, batch_size=24, n_boot=200, seed=3)
    for k in result.cka:
        np.testing.assert_allclose(again.cka[k], result.cka[k], atol=1e-9)
    assert again.verdict[3]["change_scene_ci"] == pytest.approx(result.verdict[3]["change_scene_ci"], abs=1e-9)


def test_flatten_mode(trio, images):
    res = compare_models(trio, images, ["conv4_3", "conv5_3"], size=None, reduce="flatten", batch_size=8, n_boot=100)
    assert res.reduce == "flatten"
    assert res.diagonal("pre", "sal")[0] == pytest.approx(1.0, abs=1e-9)
    r = res.verdict[1]
    assert r["change_saliency"] > r["change_scene"]
    # the flatten bootstrap resamples the 24 images (within their 3 batches), not the 3 batch values
    for name in ("change_saliency", "cka_saliency_scene", "move_saliency", "align_scene"):
        lo, hi = r[f"{name}_ci"]
        assert np.isfinite([lo, hi]).all() and lo <= r[name] <= hi, name
    assert r["move_saliency"] > r["move_scene"] > 0  # direction statistics from the pooled features
    assert r["decision"] == "inconclusive"  # no replicate
    with pytest.raises(AnalysisError, match="≥ 4 images per batch"):
        compare_models(trio, images[:6], ["conv5_3"], size=None, reduce="flatten", batch_size=3)


def test_bad_input(trio, images):
    with pytest.raises(AnalysisError, match="'r' lacks conv4_3"):
        compare_models({"pre": trio["pre"], "r": get_backbone("resnet18", weights=None)}, images, ["conv4_3"], size=None)
    # layer_map maps differing names
    res = compare_models({"pre": trio["pre"], "r": get_backbone("resnet18", weights=None)}, images[:8], ["deep"],
                         layer_map={"pre": {"deep": "conv5_3"}, "r": {"deep": "layer4"}}, size=(32, 32), n_boot=0)
    assert res.cka[("pre", "r")].shape == (1, 1) and np.isnan(res.weight_change["r"][0])
    with pytest.raises(AnalysisError, match="too few"):
        compare_models(trio, images[:3], ["conv5_3"], size=None)
    with pytest.raises(AnalysisError, match="image_ids lists 5 ids for 24 images"):
        compare_models(trio, images, ["conv5_3"], image_ids=list("abcde"), size=None)
    with pytest.raises(AnalysisError, match="at least two models"):
        compare_models({"pre": trio["pre"]}, images, ["conv5_3"], size=None)
    with pytest.raises(AnalysisError, match="different sizes"):
        compare_models(trio, [images[0], images[1][:20], images[2], images[3]], ["conv5_3"], size=None)


def test_compare_features_checks_image_lists():
    rng = np.random.default_rng(0)
    f = {m: {"l": rng.standard_normal((10, 5))} for m in ("a", "b")}
    ids = [f"im{i}" for i in range(10)]
    res = compare_features(f, {"a": ids, "b": ids}, n_boot=0)
    assert res.cka[("a", "b")][0, 0] == pytest.approx(linear_cka(f["a"]["l"], f["b"]["l"], debiased=True))
    with pytest.raises(AnalysisError, match=r"only in 'a': \['im9'\]; only in 'b': \['zz'\]"):
        compare_features(f, {"a": ids, "b": ids[:9] + ["zz"]})
    with pytest.raises(AnalysisError, match="different order"):
        compare_features(f, {"a": ids, "b": ids[::-1]})
    with pytest.raises(AnalysisError, match="'b' lacks \\['m'\\]"):
        compare_features({"a": {"l": f["a"]["l"], "m": f["a"]["l"]}, "b": f["b"]}, {"a": ids, "b": ids}, layers=["l", "m"])


def test_write_comparison(result, tmp_path):
    paths = write_comparison(result, tmp_path)
    data = json.loads((tmp_path / "comparison.json").read_text())
    assert data["schema_version"] >= 1 and data["n_images"] == 24 and data["estimator"] == "debiased"
    assert data["cka"]["pre|sal"][3][3] == pytest.approx(result.cka[("pre", "sal")][3, 3])
    rows = (tmp_path / "layer_change.csv").read_text().splitlines()
    assert rows[0] == "model,reference,layer,cka,representation_change,relative_weight_change" and len(rows) == 1 + 2 * 4
    assert (tmp_path / "verdict.csv").read_text().startswith("layer,change_saliency,change_scene")
    for name in ("fig_cka_pre__sal.png", "fig_cka_sal__scene.png", "fig_layer_change.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG" and (tmp_path / name).stat().st_size > 5000
    csv = (tmp_path / "cka_pre__sal.csv").read_text().splitlines()
    assert csv[0] == "layer," + ",".join(LAYERS) and float(csv[4].split(",")[4]) == pytest.approx(result.cka[("pre", "sal")][3, 3])
    assert paths["fig_layer_change"] == tmp_path / "fig_layer_change.png"


def test_cli_compare_on_osie(data_root, tmp_path, capsys):
    from salscope.cli import main

    out = tmp_path / "cmp"
    rc = main(["compare", "-m", "resnet18,efficientnet_lite0", "--dataset", "osie", "--split", "test",
               "--max-images", "2", "--out", str(out), "--data-dir", str(data_root)])
    assert rc == 2 and "too few" in capsys.readouterr().err  # a clean error, not a traceback
    rc = main(["compare", "-m", "a/best.ckpt", "-m", "b/best.ckpt", "--out", str(out), "--data-dir", str(data_root)])
    assert rc == 2 and "two models share the label 'best'" in capsys.readouterr().err
    rc = main(["compare", "-m", "efficientnet_lite0", "--model", "efficientnet_lite0", "--labels", "a,b",
               "--layers", "block4,head", "--split", "test", "--max-images", "6", "--input-size", "64x64",
               "--n-boot", "50", "--out", str(out), "--data-dir", str(data_root)])
    assert rc == 0
    data = json.loads((out / "comparison.json").read_text())
    assert data["n_images"] == 6 and data["models"] == ["a", "b"]
    np.testing.assert_allclose(data["diagonal"]["a|b"], 1.0, atol=1e-9)
    assert data["weight_change"]["b"] == [0.0, 0.0]
    assert (out / "fig_cka_a__b.png").is_file()


def test_category_shift_attached(result, tmp_path):
    from salscope.analysis.representation.compare import add_category_shift
    from salscope.analysis.neurons.analysis import LayerNeurons, NeuronResults

    regions = [{"image_id": f"i{r}", "instance": 1, "category": c, "n_fixations": 3}
               for r, c in enumerate(["person head", "text", "person head", "text"])]
    base = np.array([[2.0, 0.1, 1.0], [0.2, 2.0, 0.3], [2.0, 0.1, 1.0], [0.2, 2.0, 0.3]])
    fires = np.ones(3, bool)

    def res(scores, name):
        ln = LayerNeurons("conv5_3", scores, fires, np.zeros(3), np.ones(3), None)
        return NeuronResults(name, ["person head", "text"], regions, {"conv5_3": ln}, {"top_k": 2, "threshold": 1.5})

    sal = base.copy()
    sal[:, 1] = [2.5, 0.1, 2.5, 0.1]  # channel 1: text -> person head
    comp = copy.copy(result)
    add_category_shift(comp, [res(base, "pre"), res(sal, "sal"), res(base, "scene")])
    best = {(r["model"], r["layer"]): r["changed"] for r in comp.category_shift["best_category_changed"]}
    assert best == {("sal", "conv5_3"): 1, ("scene", "conv5_3"): 0}
    counts = {(r["model"], r["category"]): r["count_change"] for r in comp.category_shift["categories"]}
    assert counts[("sal", "person head")] == 1 and counts[("sal", "text")] == -1 and counts[("scene", "text")] == 0
    write_comparison(comp, tmp_path, figures=False)
    assert (tmp_path / "best_category_changed.csv").read_text().splitlines()[1].startswith("sal,conv5_3,3,3,3,1")  # channels, scored in all, compared, changed
    with pytest.raises(AnalysisError, match="one per model"):
        add_category_shift(comp, [res(base, "pre")])
