"""The torch twins agree with the numpy metrics and are differentiable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from salscope.errors import MetricError
from salscope.metrics import cc, cc_torch, kld, kld_torch, log_likelihood, nll_torch, nss, nss_torch


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    s = rng.random((3, 12, 17))
    fix = np.zeros((3, 12, 17))
    coords = [[(4, 3), (4, 3), (10, 2)], [(0, 0), (16, 11)], [(8, 6)]]  # (x, y); a duplicate in image 0
    for b, pts in enumerate(coords):
        for x, y in pts:
            fix[b, y, x] += 1
    gold = rng.random((3, 12, 17))
    return s, fix, coords, gold


def test_nss_torch_matches_numpy_nss(batch):
    s, fix, coords, _ = batch
    per_image = nss_torch(torch.tensor(s), torch.tensor(fix), reduction="none").numpy()
    expected = [nss(s[b], [p[0] for p in pts], [p[1] for p in pts]) for b, pts in enumerate(coords)]
    np.testing.assert_allclose(per_image, expected, rtol=0, atol=1e-12)
    assert float(nss_torch(torch.tensor(s), torch.tensor(fix))) == pytest.approx(np.mean(expected), abs=1e-12)


def test_torch_twin_gradients_match_finite_differences(batch):
    s, fix, _, gold = batch
    pred = torch.tensor(s[:, :5, :6], requires_grad=True)
    f = torch.tensor(fix[:, :5, :6] + np.eye(5, 6)[None])
    g = torch.tensor(gold[:, :5, :6])
    assert torch.autograd.gradcheck(lambda p: nss_torch(p, f), (pred,))
    assert torch.autograd.gradcheck(lambda p: cc_torch(p, g), (pred,))
    assert torch.autograd.gradcheck(lambda p: kld_torch(p, g), (pred,))
    # raising a fixated pixel raises NSS (first-order): gradient there is positive
    pred.grad = None
    nss_torch(pred, f).backward()
    assert float(pred.grad[0, 0, 0]) > 0


def test_nss_torch_constant_map_is_zero_with_finite_gradient():
    pred = torch.ones(1, 4, 4, requires_grad=True)
    value = nss_torch(pred, torch.eye(4)[None])
    value.backward()
    assert float(value.detach()) == 0.0
    assert torch.isfinite(pred.grad).all()


def test_cc_and_kld_torch_match_numpy(batch):
    s, _, _, gold = batch
    np.testing.assert_allclose(
        cc_torch(torch.tensor(s), torch.tensor(gold), reduction="none").numpy(), [cc(s[b], gold[b]) for b in range(3)], atol=1e-12
    )
    np.testing.assert_allclose(
        kld_torch(torch.tensor(s), torch.tensor(gold), reduction="none").numpy(), [kld(s[b], gold[b]) for b in range(3)], atol=1e-12
    )


def test_nll_torch_is_log_likelihood_in_other_units(batch):
    s, fix, coords, _ = batch
    logd = np.log(s / s.sum(axis=(1, 2), keepdims=True))
    nll = nll_torch(torch.tensor(logd), torch.tensor(fix), reduction="none").numpy()
    for b, pts in enumerate(coords):
        ll_bits = log_likelihood(logd[b], [p[0] for p in pts], [p[1] for p in pts])
        assert -(nll[b] - np.log(12 * 17)) / np.log(2) == pytest.approx(ll_bits, abs=1e-12)


def test_torch_twins_reject_bad_shapes_and_empty_batches():
    with pytest.raises(MetricError, match="pred"):
        nss_torch(torch.zeros(2, 3, 4), torch.zeros(2, 4, 3))
    with pytest.raises(MetricError, match="no image"):
        nss_torch(torch.rand(2, 3, 4), torch.zeros(2, 3, 4))
    with pytest.raises(MetricError, match="torch tensors"):
        cc_torch(np.zeros((3, 3)), torch.zeros(3, 3))
