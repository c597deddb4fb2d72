"""ResNet-18 and ResNet-50 with torchvision's module names.

Exposed layers: ``conv1`` (conv–BN–ReLU, stride 2) and the four residual stages
``layer1`` … ``layer4`` (strides 4, 8, 16, 32); the max-pool opens ``layer1``.
Bottleneck blocks put the stride on the 3×3 convolution (torchvision's
"ResNet v1.5"), so torchvision's ImageNet weights load unchanged (``fc`` is
ignored).

References
----------
K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image Recognition. CVPR 2016.
"""

from __future__ import annotations

import torch
from torch import nn

from salscope.models.backbones.base import Backbone, FeatureInfo
from salscope.models.backbones.weights import WeightsFile

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET50_URL = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
# torchvision publishes only the first 8 hex digits of the SHA-256 (in the name): trust on first use, see weights.py.
RESNET18_IMAGENET = WeightsFile("resnet18", RESNET18_URL, sha256_prefix="f37072fd", max_bytes=64 << 20)
RESNET50_IMAGENET = WeightsFile("resnet50", RESNET50_URL, sha256_prefix="0676ba61", max_bytes=128 << 20)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with an identity (or 1×1 projection) shortcut."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = _projection(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (strided), 1×1 expand ×4, with a shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = _projection(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def _projection(inplanes: int, outplanes: int, stride: int) -> nn.Module | None:
    if stride == 1 and inplanes == outplanes:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride, bias=False), nn.BatchNorm2d(outplanes))


class ResNet(Backbone):
    """A torchvision-compatible ResNet trunk exposing conv1 and layer1 … layer4."""

    def __init__(self, name: str, block: type[nn.Module], depths: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.name = name
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        stages = [(FeatureInfo("conv1", 64, 2), [self.conv1, self.bn1, self.relu])]
        for i, (planes, depth) in enumerate(zip((64, 128, 256, 512), depths), start=1):
            stride = 1 if i == 1 else 2
            blocks = []
            for j in range(depth):
                blocks.append(block(inplanes, planes, stride if j == 0 else 1))
                inplanes = planes * block.expansion
            layer = nn.Sequential(*blocks)
            setattr(self, f"layer{i}", layer)
            opener = [self.maxpool] if i == 1 else []
            stages.append((FeatureInfo(f"layer{i}", inplanes, 2 ** (i + 1)), [*opener, layer]))
        self._set_stages(stages)

    @property
    def blocks(self) -> dict[str, nn.Module]:
        """The residual blocks by torchvision name (``layer3.1`` …), for hooks with :mod:`nethook`."""
        return {f"layer{i}.{j}": b for i in range(1, 5) for j, b in enumerate(getattr(self, f"layer{i}"))}


def resnet18() -> ResNet:
    """ResNet-18 (BasicBlock ×[2, 2, 2, 2])."""
    return ResNet("resnet18", BasicBlock, (2, 2, 2, 2))


def resnet50() -> ResNet:
    """ResNet-50 (Bottleneck ×[3, 4, 6, 3])."""
    return ResNet("resnet50", Bottleneck, (3, 4, 6, 3))
