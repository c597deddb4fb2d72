"""VGG-16 conv1_1 … conv5_3 (no pool5): the paper's encoder.

Layers are named after their convolution and hold its *post-ReLU* activation
(``conv4_3`` = ReLU(conv4_3(x))), as in the paper's neuron analysis. Max-pooling
opens the next block, so fine-tuning from ``conv5_1`` trains conv5_1–conv5_3.
Module indices follow torchvision (``features.N``), so its ImageNet weights
load as they are (the classifier keys are ignored).

References
----------
K. Simonyan, A. Zisserman. Very Deep Convolutional Networks for Large-Scale
Image Recognition. ICLR 2015 (configuration D).
S. He et al. Understanding and Visualizing Deep Visual Saliency Models. CVPR 2019
(encoder = VGG-16 up to conv5_3, ImageNet weights).
"""

from __future__ import annotations

from torch import nn

from salscope.models.backbones.base import Backbone, FeatureInfo
from salscope.models.backbones.weights import WeightsFile

# torchvision's configuration "D" without the final pool5.
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
# torchvision publishes only the first 8 hex digits of the SHA-256 (in the name): trust on first use, see weights.py.
VGG16_IMAGENET = WeightsFile("vgg16", VGG16_URL, sha256_prefix="397923af", max_bytes=640 << 20)


class VGG16(Backbone):
    """VGG-16 convolutional layers conv1_1 … conv5_3 with post-ReLU outputs."""

    name = "vgg16"

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        stages = []
        pending: list[nn.Module] = []  # a pool waiting to open the next stage
        in_ch, block, conv, stride = 3, 1, 1, 1
        for item in _CFG:
            if item == "M":
                pool = nn.MaxPool2d(kernel_size=2, stride=2)
                layers.append(pool)
                pending.append(pool)
                block, conv, stride = block + 1, 1, stride * 2
                continue
            c = nn.Conv2d(in_ch, int(item), kernel_size=3, padding=1)
            r = nn.ReLU(inplace=False)  # not in place: a hook on the conv must see pre-ReLU values
            layers += [c, r]
            stages.append((FeatureInfo(f"conv{block}_{conv}", int(item), stride), [*pending, c, r]))
            pending = []
            in_ch, conv = int(item), conv + 1
        self.features = nn.Sequential(*layers)
        self._set_stages(stages)
