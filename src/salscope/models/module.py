"""Models from a user's own Python file: ``path/to/file.py:factory``.

``factory`` is a function in that file that takes no argument and returns a
``torch.nn.Module``. Used as an encoder (``dissect``, ``compare``) the module is
read layer by layer (:class:`~salscope.models.backbones.foreign.ModuleEncoder`);
used as a saliency model (``predict``, ``evaluate``, ``popout``) it is
:class:`ModuleSaliency`: it takes the preprocessed batch and returns one map per
image — a saliency map, or a log-density when the module has
``output = "log_density"``.

Module attributes salscope reads (all optional): ``preprocess`` (a callable on
the ``B×3×H×W`` batch in [0, 1]; default ImageNet mean/std normalisation, or the
module's ``mean``/``std``), ``input_size`` ((H, W) the image is resized to;
default the image's own size), ``output`` (``"map"`` or ``"log_density"``),
``feature_layers`` (the default layer list for the analyses).

Running a file runs its code: give salscope only files you trust, as with
``torch.hub``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from salscope.devices import resolve_device
from salscope.errors import ModelError
from salscope.models.backbones.foreign import (
    ModuleEncoder,
    as_numpy_map,
    module_device,
    module_preprocess,
)
from salscope.models.base import SaliencyModel
from salscope.models.deep import images_to_batch

OUTPUTS = ("map", "log_density")


#: Module names of imported user files in ``sys.modules`` (one per resolved file path).
USER_MODULE_PREFIX = "salscope_user_"


def import_user_file(path: str | os.PathLike, key: str | None = None) -> Any:
    """Import the user file ``path`` as module ``key`` (default ``salscope_user_<hash of the path>``), registered
    in ``sys.modules`` so that pickle finds its classes (worker processes import it again under the same key)."""
    path = Path(path)
    key = key or USER_MODULE_PREFIX + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise ModelError(f"model file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 (the user's code may raise anything)
        sys.modules.pop(key, None)
        raise ModelError(f"model file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def user_files() -> dict[str, str]:
    """``{module key: file}`` of every user file imported in this process (for :func:`import_user_file` elsewhere)."""
    return {name: str(mod.__file__) for name, mod in list(sys.modules.items())
            if name.startswith(USER_MODULE_PREFIX) and getattr(mod, "__file__", None)}


def load_factory(path: str | os.PathLike, factory: str) -> nn.Module:
    """Import ``path`` as a module and return ``getattr(module, factory)()``, checked to be an ``nn.Module``."""
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise ModelError(f"model file {path} does not exist or is not a .py file; write the spec as FILE.py:FACTORY")
    if not factory.isidentifier():
        raise ModelError(f"model spec {path}:{factory}: '{factory}' is not a Python function name")
    module = import_user_file(path)
    fn = getattr(module, factory, None)
    if not callable(fn):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise ModelError(f"model file {path} has no function '{factory}'; it defines: {', '.join(found) or 'none'}")
    try:
        net = fn()
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}:{factory}() raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(net, nn.Module):
        raise ModelError(f"{path}:{factory}() returned a {type(net).__name__}, not a torch.nn.Module")
    return net.eval()


def module_encoder(path: str | os.PathLike, factory: str, name: str | None = None,
                   layers: Sequence[str] | None = None) -> ModuleEncoder:
    """The module of ``path:factory`` as an encoder (layer names = its ``named_modules()`` paths)."""
    return ModuleEncoder(load_factory(path, factory), name=name or f"{Path(path).stem}:{factory}", layers=layers,
                         source=f"{path}:{factory}")


class ModuleSaliency(SaliencyModel):
    """A user's ``nn.Module`` that returns saliency maps (or log-densities) behind :class:`SaliencyModel`.

    The image is turned into the ``[0, 1]`` batch of
    :func:`salscope.models.deep.images_to_batch` (resized to the module's
    ``input_size`` if it has one), preprocessed as the module says, and the
    output is resized (bilinear) back to the image's size. With
    ``output = "log_density"`` the map is ``exp`` of the log-density and
    :meth:`log_density` is renormalised after resizing.
    """

    kind: ClassVar[str] = "deep"

    def __init__(self, module: nn.Module, name: str = "module", device: str | torch.device | None = None):
        self.preprocess = module_preprocess(module, name)
        self.module = module.eval()
        if device is not None:
            self.module.to(resolve_device(device))
        self.name = name
        output = getattr(module, "output", "map")
        if output not in OUTPUTS:
            raise ModelError(f"{name}: its 'output' attribute is {output!r}; use one of {OUTPUTS}")
        self.output = output
        self.has_log_density = output == "log_density"
        size = getattr(module, "input_size", None)
        self.input_size = None if size is None else (int(size[0]), int(size[1]))

    @torch.no_grad()
    def _raw(self, image: np.ndarray) -> np.ndarray:
        x = images_to_batch([image], self.input_size)
        device = module_device(self.module)
        out = self.module(self.preprocess(x.to(device)))
        if not isinstance(out, torch.Tensor):
            raise ModelError(f"{self.name}: forward() returned a {type(out).__name__}, not a tensor of maps")
        h, w = np.asarray(image).shape[:2]
        if out.ndim == 3:
            out = out[:, None]
        if out.ndim == 4 and tuple(out.shape[-2:]) != (h, w):
            out = F.interpolate(out.float(), size=(h, w), mode="bilinear", align_corners=False)
        return as_numpy_map(out, f"{self.name}")[0]

    def saliency_map(self, image: np.ndarray) -> np.ndarray:
        raw = self._raw(image)
        return np.exp(raw - raw.max()) if self.has_log_density else raw

    def log_density(self, image: np.ndarray) -> np.ndarray:
        if not self.has_log_density:
            return super().log_density(image)
        raw = self._raw(image)
        top = raw.max()
        return raw - (top + np.log(np.exp(raw - top).sum()))

    def __repr__(self) -> str:
        return f"ModuleSaliency(name={self.name!r}, output={self.output!r})"


def module_saliency(path: str | os.PathLike, factory: str, name: str | None = None, **kwargs: Any) -> ModuleSaliency:
    """The module of ``path:factory`` as a saliency model (see :class:`ModuleSaliency`)."""
    unknown = sorted(set(kwargs) - {"device", "center_prior"})
    if unknown:
        raise ModelError(f"unknown option(s) {unknown} for a module model; valid: device")
    if kwargs.get("center_prior"):
        raise ModelError(f"{path}:{factory}: a module model has no centre prior salscope can switch on")
    return ModuleSaliency(load_factory(path, factory), name=name or Path(path).stem, device=kwargs.get("device"))
