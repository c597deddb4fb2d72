"""Decoders (paper, readout) and losses built on the metric torch twins."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from salscope import metrics
from salscope.errors import ConfigError, ModelError
from salscope.models.decoders import build_decoder, decoder_from_config
from salscope.models.losses import SaliencyLoss, parse_loss


def _feats(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.randn(2, 4, 12, 16, generator=g), "b": torch.randn(2, 6, 6, 8, generator=g)}


def test_paper_decoder_is_ones_conv_upsample_minmax():
    feats = _feats()
    dec = build_decoder("paper", {"a": 4, "b": 6}, ["b"])
    assert dec.conv.bias is None and torch.all(dec.conv.weight == 1)
    out = dec(feats, (24, 32))
    manual = F.interpolate(feats["b"].sum(1, keepdim=True), size=(24, 32), mode="bilinear", align_corners=False)[:, 0]
    lo = manual.flatten(1).min(1).values.view(-1, 1, 1)
    hi = manual.flatten(1).max(1).values.view(-1, 1, 1)
    torch.testing.assert_close(out, (manual - lo) / (hi - lo))
    assert out.shape == (2, 24, 32)
    assert torch.allclose(out.flatten(1).min(1).values, torch.zeros(2))
    assert torch.allclose(out.flatten(1).max(1).values, torch.ones(2))
    with pytest.raises(ModelError, match="one layer"):
        build_decoder("paper", {"a": 4, "b": 6}, ["a", "b"])


def test_readout_is_a_normalised_log_density_with_switchable_centre_prior():
    torch.manual_seed(0)
    dec = build_decoder("readout", {"a": 4, "b": 6}, ["a", "b"])
    out = dec(_feats(), (30, 40))
    assert out.shape == (2, 30, 40)
    torch.testing.assert_close(out.exp().flatten(1).sum(1), torch.ones(2), rtol=0, atol=1e-5)
    with torch.no_grad():
        dec.centre.amplitude.fill_(5.0)
    with_prior = dec(_feats(), (30, 40))
    dec.center_prior = False
    without = dec(_feats(), (30, 40))
    # The centre prior pushes mass to the middle: the centre pixel gains log-probability relative to a corner.
    gain_centre = (with_prior[:, 15, 20] - with_prior[:, 0, 0]) - (without[:, 15, 20] - without[:, 0, 0])
    assert torch.all(gain_centre > 1.0)
    # Rebuilding from the stored config gives the same architecture and (after loading) the same output.
    dec.center_prior = True
    twin = decoder_from_config(dec.config())
    twin.load_state_dict(dec.state_dict())
    torch.testing.assert_close(twin(_feats(), (30, 40)), with_prior)


def test_build_decoder_errors_name_the_valid_choices():
    with pytest.raises(ModelError, match="valid decoders: paper, readout"):
        build_decoder("unet", {"a": 4}, ["a"])
    with pytest.raises(ModelError, match=r"\['zz'\].*valid layers: a, b"):
        build_decoder("readout", {"a": 4, "b": 6}, ["a", "zz"])


def test_parse_loss_and_errors():
    assert parse_loss("nss") == {"nss": 1.0}
    assert parse_loss("nss:1, cc:0.5") == {"nss": 1.0, "cc": 0.5}
    with pytest.raises(ConfigError, match="unknown term 'mse'.*nss, cc, kl, nll"):
        parse_loss("mse")
    with pytest.raises(ConfigError, match="not a number"):
        parse_loss("nss:x")


def test_losses_call_the_metric_kernels_and_sum_with_weights():
    g = torch.Generator().manual_seed(1)
    pred = torch.rand(3, 10, 12, generator=g)
    fix = (torch.rand(3, 10, 12, generator=g) > 0.9).float()
    dens = torch.rand(3, 10, 12, generator=g)
    dens = dens / dens.sum(dim=(1, 2), keepdim=True)
    loss = SaliencyLoss("nss:2,cc:0.5,kl:1,nll:0.25", "saliency")
    total, parts = loss(pred, fix, dens)
    assert float(parts["nss"]) == pytest.approx(-float(metrics.nss_torch(pred, fix)))
    assert float(parts["cc"]) == pytest.approx(-float(metrics.cc_torch(pred / pred.sum((1, 2), keepdim=True), dens)))
    p = pred / pred.sum((1, 2), keepdim=True)
    assert float(parts["nll"]) == pytest.approx(float(metrics.nll_torch(torch.log(p + 1e-12), fix)), rel=1e-5)
    expected = 2 * parts["nss"] + 0.5 * parts["cc"] + parts["kl"] + 0.25 * parts["nll"]
    assert float(total) == pytest.approx(float(expected))
    # For a log-density output the NLL term is the log-density read at the fixations.
    logq = torch.log_softmax(torch.randn(3, 120, generator=g), dim=1).view(3, 10, 12)
    _, parts = SaliencyLoss("nll", "log_density")(logq, fix)
    manual = -((logq * fix).sum((1, 2)) / fix.sum((1, 2))).mean()
    assert float(parts["nll"]) == pytest.approx(float(manual), rel=1e-6)
    assert SaliencyLoss("cc", "saliency").needs_density and not SaliencyLoss("nss", "saliency").needs_density
