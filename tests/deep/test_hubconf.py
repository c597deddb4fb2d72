"""hubconf.py: torch.hub.load(<repo>, "salscope_builtin", source="local") gives the built-in model (issue 20, item 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from salscope.errors import ModelError
from salscope.models.builtin import builtin_model
from salscope.models.deep import DeepSaliency

REPO = Path(__file__).resolve().parents[2]


def test_torch_hub_load_local_gives_the_builtin_model():
    torch.set_num_threads(1)
    model = torch.hub.load(str(REPO), "salscope_builtin", source="local")
    assert isinstance(model, DeepSaliency) and model.name == "builtin"
    assert isinstance(model.model, torch.nn.Module)
    image = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)
    ref = builtin_model()
    np.testing.assert_array_equal(model.saliency_map(image), ref.saliency_map(image))
    logd = model.log_density(image)
    assert logd.shape == (40, 56) and np.exp(logd).sum() == pytest.approx(1.0, abs=1e-5)
    # the read-out's centre bias can be switched off, as with the registry's builtin
    off = torch.hub.load(str(REPO), "salscope_builtin", source="local", center_prior=False)
    np.testing.assert_array_equal(off.saliency_map(image), builtin_model(center_prior=False).saliency_map(image))
    with pytest.raises(ModelError, match="only trained"):
        torch.hub.load(str(REPO), "salscope_builtin", source="local", pretrained=False)
