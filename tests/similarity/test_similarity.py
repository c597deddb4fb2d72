"""CKA identities, estimator properties, and streaming = one-shot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from salscope.analysis.representation.similarity import (
    MinibatchCKA,
    StreamingLinearCKA,
    bootstrap_cka,
    cka,
    feature_vectors,
    gram_linear,
    hsic,
    linear_cka,
    minibatch_cka,
    percentile_ci,
    rbf_cka,
)
from salscope.errors import AnalysisError


def _orthogonal(p: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(5, 40), p=st.integers(1, 30), debiased=st.booleans())
def test_orthogonal_and_isotropic_scaling_invariance(seed, n, p, debiased):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) + rng.standard_normal(p)  # non-centred on purpose
    q = _orthogonal(p, rng)
    scale = float(rng.uniform(0.01, 100))
    assert linear_cka(x, x @ q, debiased) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, scale * x, debiased) == pytest.approx(1.0, abs=1e-9)
    y = rng.standard_normal((n, 3))
    assert linear_cka(x, scale * (x @ q), debiased) == pytest.approx(linear_cka(x, x, debiased), abs=1e-9)
    assert linear_cka(x @ q, y, debiased) == pytest.approx(linear_cka(x, y, debiased), abs=1e-9)
    assert rbf_cka(x, scale * x @ q) == pytest.approx(1.0, abs=1e-9)


def test_biased_matches_feature_space_formula():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 7)), rng.standard_normal((30, 5))
    xc, yc = x - x.mean(0), y - y.mean(0)
    expect = np.linalg.norm(xc.T @ yc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    assert linear_cka(x, y) == pytest.approx(expect, rel=1e-12)
    assert hsic(gram_linear(x), gram_linear(y)) == pytest.approx(np.linalg.norm(xc.T @ yc) ** 2 / 29**2, rel=1e-12)


def test_debiased_hsic_matches_pairwise_definition():
    # Song et al.'s U-statistic: mean over distinct 4-tuples of h(i,j,q,r), checked by brute force on n=6
    import itertools

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 2)), rng.standard_normal((6, 3))
    k, l = x @ x.T, y @ y.T
    total, count = 0.0, 0
    for i, j, q, r in itertools.permutations(range(6), 4):
        total += k[i, j] * l[i, j] + k[i, j] * l[q, r] - 2 * k[i, j] * l[i, q]
        count += 1
    assert hsic(k, l, debiased=True) == pytest.approx(total / count, rel=1e-10)


def test_debiased_cka_of_independent_features_is_near_zero():
    rng = np.random.default_rng(1)
    n, p = 200, 500  # p > n: biased CKA is far from 0 here
    x, y = rng.standard_normal((n, p)), rng.standard_normal((n, p))
    unbiased = linear_cka(x, y, debiased=True)
    biased = linear_cka(x, y, debiased=False)
    assert abs(unbiased) < 0.02
    assert biased > 0.5


@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_equals_one_shot(debiased):
    rng = np.random.default_rng(2)
    n = 53
    feats = {"a": rng.standard_normal((n, 6)) + 3, "b": rng.standard_normal((n, 4)), "c": None}
    feats["c"] = np.tanh(feats["a"][:, :3] @ rng.standard_normal((3, 9))) + 0.1 * rng.standard_normal((n, 9))
    acc = StreamingLinearCKA({k: v.shape[1] for k, v in feats.items()})
    for start, stop in [(0, 5), (5, 6), (6, 30), (30, 53)]:  # uneven batches, one of a single image
        acc.update({k: torch.as_tensor(v[start:stop]) for k, v in feats.items()})
    assert acc.n == n
    names = ["a", "b", "c"]
    mat = acc.matrix(names, names, debiased)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            assert mat[i, j] == pytest.approx(linear_cka(feats[a], feats[b], debiased), abs=1e-10)
            assert acc.hsic(a, b, debiased) == pytest.approx(hsic(gram_linear(feats[a]), gram_linear(feats[b]), debiased), rel=1e-9)
    assert mat[0, 2] > 0.3 and abs(mat[0, 1]) < 0.3


def test_minibatch_streaming_equals_one_shot_and_tracks_full():
    rng = np.random.default_rng(4)
    n = 240
    x = rng.standard_normal((n, 2, 4, 4))
    y = np.tanh(x.reshape(n, -1) @ rng.standard_normal((32, 20))) + 0.5 * rng.standard_normal((n, 20))
    acc = MinibatchCKA(["x", "y"])
    for start in range(0, n, 40):
        acc.update({"x": x[start:start + 40], "y": y[start:start + 40]})
    xf = feature_vectors(x, "flatten").numpy()
    assert acc.cka("x", "y") == pytest.approx(minibatch_cka(xf, y, 40), abs=1e-12)
    assert acc.hsic_values.shape == (6, 2, 2)
    # estimates the same quantity as full-data debiased CKA
    assert acc.cka("x", "y") == pytest.approx(linear_cka(xf, y, debiased=True), abs=0.1)
    with pytest.raises(AnalysisError, match="at least 4 images per minibatch"):
        acc.update({"x": x[:3], "y": y[:3]})


def test_small_probe_sets_are_refused():
    x = np.random.default_rng(0).standard_normal((3, 5))
    with pytest.raises(AnalysisError, match="at least 4 images.*n=3"):
        linear_cka(x, x, debiased=True)
    acc = StreamingLinearCKA({"x": 5})
    acc.update({"x": x})
    with pytest.raises(AnalysisError, match="n=3"):
        acc.cka("x", "x", debiased=True)
    assert acc.cka("x", "x", debiased=False) == pytest.approx(1.0)
    with pytest.raises(AnalysisError, match="same images"):
        linear_cka(x, np.ones((4, 5)))
    with pytest.raises(AnalysisError, match="constant features"):
        linear_cka(np.ones((6, 2)), np.random.default_rng(1).standard_normal((6, 2)))
    with pytest.raises(AnalysisError, match="reduce="):
        feature_vectors(np.zeros((2, 3, 4, 4)), "max")


def test_feature_vectors_pool_and_flatten():
    a = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    assert feature_vectors(a, "pool").tolist() == [[1.5, 5.5, 9.5], [13.5, 17.5, 21.5]]
    assert feature_vectors(a, "flatten").shape == (2, 12)


def test_bootstrap_is_seeded_and_centred():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((60, 8))
    y = x @ rng.standard_normal((8, 8)) + rng.standard_normal((60, 8))
    grams = {"x": gram_linear(x), "y": gram_linear(y)}
    b1 = bootstrap_cka(grams, [("x", "y")], n_boot=200, seed=7)
    b2 = bootstrap_cka(grams, [("x", "y")], n_boot=200, seed=7)
    assert np.array_equal(b1[("x", "y")], b2[("x", "y")])
    lo, hi = percentile_ci(b1[("x", "y")])
    point = cka(grams["x"], grams["y"], debiased=True)
    assert lo < point < hi and hi - lo < 0.5
    # the bootstrap distribution is centred on the point estimate (duplicates do not inflate it)
    assert abs(np.median(b1[("x", "y")]) - point) < 0.05
    # a replicate equals CKA recomputed on the resampled features (biased: as is; debiased: with the
    # image-with-its-own-copy entries zeroed like the diagonal)
    idx = np.random.default_rng(7).integers(0, 60, size=(200, 60))[0]
    biased = bootstrap_cka(grams, [("x", "y")], n_boot=200, seed=7, debiased=False)
    assert biased[("x", "y")][0] == pytest.approx(linear_cka(x[idx], y[idx], debiased=False), abs=1e-10)
    same = idx[:, None] == idx[None, :]
    k = np.where(same, 0.0, grams["x"].numpy()[np.ix_(idx, idx)])
    l = np.where(same, 0.0, grams["y"].numpy()[np.ix_(idx, idx)])
    assert b1[("x", "y")][0] == pytest.approx(cka(k, l, debiased=True), abs=1e-10)
