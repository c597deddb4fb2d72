"""torch.hub entry points of salscope (the convention DeepGaze follows).

From a clone of this repository (no install needed: its ``src/`` is used)::

    import torch
    model = torch.hub.load("path/to/salscope", "salscope_builtin", source="local")
    smap = model.saliency_map(image)          # image: H×W×3 uint8 RGB → H×W float64
    logd = model.log_density(image)           # the read-out's log-density (nats), sums to 1 after exp
    net = model.model                         # the torch.nn.Module (B×3×H×W in [0, 1] → B×H×W)

``salscope_builtin`` is the one entry (``torch.hub.list`` reads GitHub repositories only).
"""

from __future__ import annotations

import sys
from pathlib import Path

dependencies = ["torch", "numpy", "scipy", "PIL"]

_SRC = Path(__file__).resolve().parent / "src"
if (_SRC / "salscope").is_dir() and "salscope" not in sys.modules and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))   # a clone that was not pip-installed: use its own sources


def salscope_builtin(pretrained: bool = True, center_prior: bool | None = None, device: str | None = None):
    """salscope's built-in saliency model: ``efficientnet_lite0`` (ImageNet) + the shipped trained read-out.

    Returns a :class:`salscope.models.deep.DeepSaliency` (numpy interface:
    ``saliency_map(image)``, ``log_density(image)``; the network is ``.model``).
    Everything it needs ships with salscope: nothing is downloaded.
    ``center_prior`` switches the read-out's learnt centre bias on or off
    (``None``: as trained). Only the trained model exists, so
    ``pretrained=False`` is refused.
    """
    from salscope.errors import ModelError
    from salscope.models.builtin import builtin_model

    if not pretrained:
        raise ModelError("salscope_builtin exists only trained (pretrained=True); to train a model of your own use "
                         "`salscope train` or salscope.train.train")
    return builtin_model(center_prior=center_prior, device=device)
