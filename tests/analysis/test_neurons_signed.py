"""Signed (linear) channels are scored: a head detector that is negative everywhere is not dropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from salscope.analysis.neurons.analysis import analyse_neurons, compare_neurons
from salscope.models.backbones.base import Backbone, FeatureInfo


class Linear(Backbone):
    """One linear 1×1 conv (no ReLU, like an EfficientNet block output).

    Channel 0: red detector shifted down so it is negative everywhere (max < 0),
    channel 1: the same detector with a positive range, channel 2: constant.
    """

    name = "linear"
    mean = (0.0, 0.0, 0.0)
    std = (1.0, 1.0, 1.0)

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(4)
        self.conv = nn.Conv2d(3, 3, 1)
        w = torch.zeros(3, 3)
        w[0] = torch.tensor([1.0, -0.5, -0.5]); w[1] = w[0]
        b = torch.tensor([-5.0, 0.5, 0.25])
        with torch.no_grad():
            self.conv.weight.copy_(w[:, :, None, None])
            self.conv.bias.copy_(b)
        self._set_stages([(FeatureInfo("proj", 3, 4), [self.pool, self.conv])])


@pytest.fixture(scope="module")
def signed(planted):
    ds, regions = planted
    return analyse_neurons(Linear().eval(), ds, regions, ["proj"], input_size=None, batch_size=6,
                           mask_size=(32, 40), dissection=False)


def test_negative_head_detector_is_scored(signed):
    ln = signed.layer("proj")
    assert ln.act_max[0] < 0                     # the planted detector never goes above 0 …
    assert ln.fires[0] and ln.fires[1]           # … and is still scored (the old "max > 0" rule dropped it)
    assert not ln.fires[2]                       # a constant channel is skipped
    cs = signed.category_scores("proj")
    head = signed.categories.index("person head")
    # z-scores are invariant to the shift: both copies of the detector score the same, far above T
    np.testing.assert_allclose(cs.scores[head, 0], cs.scores[head, 1], rtol=1e-6)
    assert cs.scores[head, 0] > 3.0
    assert cs.count[head] == 2


def test_models_compared_over_the_same_channels(planted, signed):
    """A channel scored in one model but constant in the other is left out of both sides of the comparison."""
    ds, regions = planted
    other = Linear().eval()
    with torch.no_grad():
        other.conv.weight[1] = 0.0              # channel 1 becomes constant in the "fine-tuned" model
    res = analyse_neurons(other, ds, regions, ["proj"], name="after", input_size=None, batch_size=6,
                          mask_size=(32, 40), dissection=False)
    assert not res.layer("proj").fires[1]
    comp = compare_neurons({"before": signed, "after": res}, reference="before")
    head = [r for r in comp.category_rows if r["category"] == "person head"][0]
    assert head["count_before"] == 1 and head["count_after"] == 1   # channel 1 not counted before either
    assert comp.best_rows[0]["scored_in_all"] == 1
