"""Finding 4's direction-aware statistic and decision on planted features (no networks).

X_pre is random (60 images × 20 pooled channels). Set-up II adds a strong change along a
direction A (a per-image signal times a channel pattern) plus its own seed noise; the replicate
II′ adds the same change with another noise seed. Set-up III is then planted four ways.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from salscope.analysis.representation.compare import compare_features
from salscope.analysis.representation.outputs import write_comparison
from salscope.analysis.representation.verdict import corrected_alignment, task_vs_domain_decision
from salscope.analysis.representation.similarity import (
    MinibatchCKA,
    bootstrap_cka,
    feature_vectors,
    gram_geometry,
    gram_linear,
    hsic,
    linear_cka,
    minibatch_cka,
    percentile_ci,
    unit_gram,
)
from salscope.errors import AnalysisError

N, D, STRENGTH, NOISE, SEED = 60, 20, 0.4, 0.2, 50
IDS = [f"im{i:02d}" for i in range(N)]


def _change(seed: int) -> np.ndarray:
    """A rank-1 change of the features: a per-image signal times a channel pattern."""
    return STRENGTH * np.outer(np.random.default_rng(seed).standard_normal(N), np.random.default_rng(seed + 1000).standard_normal(D))


def _noise(seed: int) -> np.ndarray:
    return NOISE * np.random.default_rng(seed).standard_normal((N, D))


PRE = np.random.default_rng(SEED).standard_normal((N, D))
CHANGE_A, CHANGE_B = _change(SEED + 1), _change(SEED + 2)
II = PRE + CHANGE_A + _noise(SEED + 11)
REPLICATE = PRE + CHANGE_A + _noise(SEED + 12)
SCENES = {
    "untrained": PRE.copy(),                          # (a) III never trained
    "same_direction_less": PRE + 0.5 * CHANGE_A,      # (b) III moves like II, only less
    "other_direction": PRE + CHANGE_B + _noise(13),   # (c) III moves along an unrelated direction
    "identical_to_II": II.copy(),                     # (d) III == II
}


def _compare(scene: np.ndarray, replicate: bool = True, n_boot: int = 300, **kw):
    feats = {"pre": {"l": PRE}, "II": {"l": II}, "III": {"l": scene}}
    roles = {"pretrained": "pre", "saliency": "II", "scene": "III"}
    if replicate:
        feats["IIb"] = {"l": REPLICATE}
        roles["replicate"] = "IIb"
    return compare_features(feats, {m: IDS for m in feats}, roles=roles, n_boot=n_boot, seed=0, **kw)


@pytest.fixture(scope="module")
def rows():
    return {name: _compare(scene).verdict[0] for name, scene in SCENES.items()}


def _old_reading_says_reproduced(row) -> bool:
    """The pre-fix reading: task_minus_domain = CKA(pre, III) − CKA(II, III) with its interval above 0."""
    return row["task_minus_domain"] > 0 and row["task_minus_domain_ci"][0] > 0


def test_untrained_scene_model_is_not_reproduced(rows):
    r = rows["untrained"]
    assert r["move_scene"] == 0.0 and r["move_scene_ci"] == [0.0, 0.0]
    assert np.isnan(r["align_scene"]) and np.isnan(r["task_effect"])  # a zero move has no direction
    assert r["align_scene_ci"] is None and r["task_effect_ci"] is None
    assert r["replicate_distance"] > 0.1
    status, reason = task_vs_domain_decision(r)
    assert status == "not reproduced" and "did not change" in reason
    assert r["decision"] == status
    assert _old_reading_says_reproduced(r)  # the bug: +0.1…0.3 "for the task" with III never trained


def test_same_direction_smaller_move_is_not_reproduced(rows):
    r = rows["same_direction_less"]
    assert r["move_scene_ci"][1] > r["replicate_distance"]  # III did move (not rule 1) …
    assert r["align_scene"] > 0.8  # … in II's direction
    assert r["task_effect_ci"][1] < 0.1
    status, reason = task_vs_domain_decision(r)
    assert status == "not reproduced" and "direction of a same-task replicate" in reason
    assert _old_reading_says_reproduced(r)  # the bug: positive because III moved less


def test_unrelated_direction_is_reproduced(rows):
    r = rows["other_direction"]
    assert r["align_replicate"] > 0.85 and r["align_scene"] < 0.4
    assert r["task_effect_ci"][0] > 0.5 and r["replicate_minus_scene_ci"][0] > 0
    assert task_vs_domain_decision(r)[0] == "reproduced"


def test_scene_identical_to_saliency_is_not_reproduced(rows):
    r = rows["identical_to_II"]
    assert r["align_scene"] == pytest.approx(1.0, abs=1e-12)
    assert r["cka_saliency_scene"] == pytest.approx(1.0, abs=1e-9)
    assert task_vs_domain_decision(r)[0] == "not reproduced"


def test_statistics_are_the_stated_formulas(rows):
    r = rows["other_direction"]
    k = {m: unit_gram(x).numpy() for m, x in (("pre", PRE), ("II", II), ("IIb", REPLICATE), ("III", SCENES["other_direction"]))}
    d = {m: k[m] - k["pre"] for m in ("II", "IIb", "III")}

    def cos(a, b):
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))

    assert r["move_saliency"] == pytest.approx(float(np.sqrt((d["II"] ** 2).sum())), rel=1e-9)
    assert r["move_scene"] == pytest.approx(float(np.sqrt((d["III"] ** 2).sum())), rel=1e-9)
    assert r["move_replicate"] == pytest.approx(float(np.sqrt((d["IIb"] ** 2).sum())), rel=1e-9)
    assert r["replicate_distance"] == pytest.approx(float(np.sqrt(((k["II"] - k["IIb"]) ** 2).sum())), rel=1e-9)
    assert r["align_scene"] == pytest.approx(cos(d["II"], d["III"]), abs=1e-9)
    assert r["align_replicate"] == pytest.approx(cos(d["II"], d["IIb"]), abs=1e-9)
    assert r["task_effect"] == pytest.approx(r["align_replicate"] - r["align_scene"], abs=1e-12)
    c = {pair: linear_cka(a, b, debiased=True) for pair, (a, b) in
         {"II,IIb": (II, REPLICATE), "II,III": (II, SCENES["other_direction"]), "pre,III": (PRE, SCENES["other_direction"])}.items()}
    assert r["cka_saliency_replicate"] == pytest.approx(c["II,IIb"], abs=1e-9)
    assert r["replicate_minus_scene"] == pytest.approx(c["II,IIb"] - c["II,III"], abs=1e-9)
    assert r["scene_closer_to_pre"] == pytest.approx(c["pre,III"] - c["II,III"], abs=1e-9)
    assert r["scene_closer_to_pre"] == r["task_minus_domain"]
    for name in ("move_scene", "align_scene", "task_effect", "replicate_minus_scene", "scene_closer_to_pre"):
        lo, hi = r[f"{name}_ci"]
        assert lo <= r[name] <= hi, name


def test_without_replicate():
    r = _compare(SCENES["other_direction"], replicate=False).verdict[0]
    assert {"move_saliency", "move_scene", "align_scene", "scene_closer_to_pre"} <= set(r)
    assert not {"move_replicate", "replicate_distance", "align_replicate", "task_effect", "cka_saliency_replicate",
                "replicate_minus_scene"} & set(r)
    assert task_vs_domain_decision(r)[0] == "inconclusive"
    untrained = _compare(SCENES["untrained"], replicate=False).verdict[0]
    assert task_vs_domain_decision(untrained)[0] == "not reproduced"  # 0 ≤ the stated floor
    # no bootstrap → nothing decided
    assert task_vs_domain_decision(_compare(SCENES["other_direction"], n_boot=0).verdict[0])[0] == "inconclusive"


def test_decision_rule_edges():
    base = {"move_scene_ci": [0.5, 0.8], "replicate_distance": 0.3, "replicate_minus_scene_ci": [0.1, 0.2]}
    assert task_vs_domain_decision({**base, "move_scene_ci": [0.1, 0.3]})[0] == "not reproduced"  # ≤ floor
    assert task_vs_domain_decision({**base, "task_effect_ci": [0.2, 0.4]})[0] == "reproduced"
    assert task_vs_domain_decision({**base, "task_effect_ci": [0.2, 0.4], "replicate_minus_scene_ci": [-0.1, 0.2]})[0] == "inconclusive"
    assert task_vs_domain_decision({**base, "task_effect_ci": [-0.05, 0.05]})[0] == "not reproduced"
    # above 0 but inside the equivalence margin: negligible, not the task's
    assert task_vs_domain_decision({**base, "task_effect_ci": [0.01, 0.05]})[0] == "not reproduced"
    assert task_vs_domain_decision({**base, "task_effect_ci": [0.01, 0.05]}, margin=0.02)[0] == "reproduced"
    assert task_vs_domain_decision({**base, "task_effect_ci": [-0.05, 0.3]})[0] == "inconclusive"
    assert task_vs_domain_decision({**base, "task_effect_ci": None})[0] == "inconclusive"


def test_roles_as_sequence_and_bad_roles():
    feats = {"pre": {"l": PRE}, "II": {"l": II}, "III": {"l": SCENES["other_direction"]}, "IIb": {"l": REPLICATE}}
    ids = {m: IDS for m in feats}
    seq = compare_features(feats, ids, roles=["pre", "II", "III", "IIb"], n_boot=0)
    assert seq.roles == {"pretrained": "pre", "saliency": "II", "scene": "III", "replicate": "IIb"}
    assert "task_effect" in seq.verdict[0]
    assert compare_features(feats, ids, n_boot=0).verdict == []  # 4 models and no roles: no verdict (ambiguous)
    with pytest.raises(AnalysisError, match="3 or 4 models"):
        compare_features(feats, ids, roles=["pre", "II"])
    with pytest.raises(AnalysisError, match="one model two roles"):
        compare_features(feats, ids, roles={"pretrained": "pre", "saliency": "II", "scene": "III", "replicate": "II"})
    with pytest.raises(AnalysisError, match="optionally 'replicate'"):
        compare_features(feats, ids, roles={"pretrained": "pre", "saliency": "II", "scene": "III", "twin": "IIb"})


def test_geometry_matches_cka_and_bootstrap():
    x, y = PRE, II
    for debiased in (True, False):
        kx, ky = unit_gram(x, debiased), unit_gram(y, debiased)
        assert float((kx * ky).sum()) == pytest.approx(linear_cka(x, y, debiased=debiased), abs=1e-12)
        grams = {"x": gram_linear(x), "y": gram_linear(y)}
        draws = np.random.default_rng(4).integers(0, N, size=(40, N))
        geo = gram_geometry(grams, "x", draws=draws, debiased=debiased)
        ref = bootstrap_cka(grams, [("x", "y")], n_boot=40, seed=4, debiased=debiased)[("x", "y")]
        np.testing.assert_allclose(geo.cka("x", "y"), ref, atol=1e-12)
        assert (geo.move("x") == 0).all() and np.isnan(geo.align("x", "y")).all()
    assert percentile_ci(np.array([0.1, np.nan, 0.3])) is None
    with pytest.raises(AnalysisError, match="constant features"):
        unit_gram(np.ones((6, 3)))


def test_minibatch_bootstrap_resamples_images():
    rng = np.random.default_rng(8)
    n, batch = 64, 16  # 4 minibatches: the old bootstrap drew 4 batch values
    x = rng.standard_normal((n, 2, 3, 3))
    y = np.tanh(x.reshape(n, -1) @ rng.standard_normal((18, 10))) + 0.5 * rng.standard_normal((n, 10))
    acc = MinibatchCKA(["x", "y"])
    for start in range(0, n, batch):
        acc.update({"x": x[start:start + batch], "y": y[start:start + batch]})
    draws = acc.resample(500, seed=1)
    assert draws.shape == (500, n)  # resampled units = images, not batches
    for b in range(4):  # each image stays in its minibatch
        block = draws[:, b * batch:(b + 1) * batch]
        assert block.min() >= b * batch and block.max() < (b + 1) * batch
    assert len(np.unique(draws)) == n
    boot = acc.bootstrap([("x", "y")], n_boot=500, seed=1)[("x", "y")]
    assert np.isfinite(boot).all() and len(np.unique(boot.round(12))) > 400
    point = acc.cka("x", "y")
    lo, hi = percentile_ci(boot)
    assert lo < point < hi and hi - lo < 0.5
    # a replicate = minibatch CKA of the resampled images, duplicates zeroed like the diagonal
    xf = feature_vectors(x, "flatten").numpy()
    idx = draws[0]
    sums = np.zeros(3)
    for b in range(4):
        sl = idx[b * batch:(b + 1) * batch]
        same = sl[:, None] == sl[None, :]
        local = sl - b * batch  # the batch's own Gram matrix (centred on the batch), resampled
        kx = np.where(same, 0.0, gram_linear(xf[b * batch:(b + 1) * batch]).numpy()[np.ix_(local, local)])
        ky = np.where(same, 0.0, gram_linear(y[b * batch:(b + 1) * batch]).numpy()[np.ix_(local, local)])
        sums += [hsic(kx, ky, True), hsic(kx, kx, True), hsic(ky, ky, True)]
    assert boot[0] == pytest.approx(sums[0] / np.sqrt(sums[1] * sums[2]), abs=1e-10)
    assert acc.cka("x", "y") == pytest.approx(minibatch_cka(xf, y, batch), abs=1e-12)
    with pytest.raises(AnalysisError, match="own minibatch"):
        acc.bootstrap([("x", "y")], draws=np.zeros((2, n), dtype=int))


def test_written_rows_and_model_matrix(tmp_path):
    comp = _compare(SCENES["other_direction"], n_boot=50)
    paths = write_comparison(comp, tmp_path)
    header = (tmp_path / "verdict.csv").read_text().splitlines()[0].split(",")
    for col in ("task_effect", "task_effect_ci_lo", "task_effect_ci_hi", "align_scene", "replicate_distance",
                "replicate_minus_scene_ci_lo", "decision", "decision_reason"):
        assert col in header, col
    data = json.loads((tmp_path / "comparison.json").read_text())
    assert data["verdict"][0]["decision"] == "reproduced" and data["bootstrap"]["unit"] == "image"
    cka_rows = (tmp_path / "cka_models.csv").read_text().splitlines()
    assert cka_rows[0] == "layer,model,pre,II,IIb,III"  # role order pre, II, II′, III
    assert [r.split(",")[1] for r in cka_rows[1:]] == ["pre", "II", "IIb", "III"]
    assert float(cka_rows[2].split(",")[4]) == pytest.approx(comp.verdict[0]["cka_saliency_replicate"], abs=1e-12)
    assert float(cka_rows[3].split(",")[4]) == pytest.approx(1.0)
    png = paths["fig_cka_models"]
    assert png.name == "fig_cka_models.png" and png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
    # an undefined interval is written as empty cells, not a crash
    write_comparison(_compare(SCENES["untrained"], n_boot=20), tmp_path / "u", figures=False)
    assert ",," in (tmp_path / "u" / "verdict.csv").read_text()


def test_a_noisy_iii_along_iis_direction_is_not_credited_to_the_task():
    """III moves along II's direction, half as far, with seed noise as large as II′'s: the raw task_effect is
    attenuated by III's own noise and looks like a task effect; the attenuation-corrected one does not."""
    noisy = PRE + 0.5 * CHANGE_A + _noise(SEED + 13)
    row = _compare(noisy, n_boot=300).verdict[0]
    assert row["task_effect_ci"][0] > 0.1                     # raw: III's own noise looks like a task effect
    corrected = row["task_effect_corrected_ci"]
    assert corrected[0] < row["task_effect_ci"][0] - 0.05     # the correction removes much of that bias …
    assert row["align_scene_corrected"] > row["align_scene"] + 0.1
    # … not all of it: a Gram change is quadratic in the features, so half of II's feature change is not the
    # same Gram direction (documented limitation; the margin absorbs part of it)
    assert row["task_effect_corrected"] < 0.2


def test_corrected_alignment_recovers_the_signal_cosine():
    # signals of norm 1 with cosine 0.5, noise σ = 0.5 on each: raw cosine 0.5 / 1.25 = 0.4
    raw, r_ii, dist, move = 0.4, 1 / 1.25, np.sqrt(2 * 0.25), np.sqrt(1.25)
    assert corrected_alignment(raw, r_ii, dist, move) == pytest.approx(0.5)
    assert np.isnan(corrected_alignment(0.4, 0.8, 2.0, 1.0))    # III's move inside the noise: undefined
