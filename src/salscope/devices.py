"""One rule for where torch work runs: ``--device auto | cpu | cuda | cuda:N | mps`` and ``[run] device``.

``auto`` (the default everywhere) is the first CUDA GPU when torch sees one,
else Apple's MPS when available, else the CPU. An explicit device that this
machine lacks is an error naming what it has — never a silent fall-back to
the CPU. :func:`lightning_devices` maps the same spellings onto Lightning's
``accelerator``/``devices`` for ``salscope train`` (multi-GPU training keeps
``--devices N --strategy ddp``).

Inference on CUDA turns on ``torch.backends.cudnn.benchmark`` (fixed input
sizes: the fastest kernels are chosen once) and, when asked for
(``amp=True``), bf16 autocast: see :func:`inference_autocast`. CPU results
never change: no autocast and no cuDNN there.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator

import torch

from salscope.errors import ConfigError

#: The spellings every ``--device`` option and ``[run] device`` accept.
DEVICE_HELP = "Where torch runs: auto (a CUDA GPU when there is one, else cpu), cpu, cuda, cuda:N or mps."

_SPEC = re.compile(r"^(auto|cpu|mps|cuda)(?::(\d+))?$")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def check_device(spec: Any, option: str = "--device") -> str:
    """The normalised spelling of ``spec`` (``ConfigError`` for one that is not a device name)."""
    if isinstance(spec, torch.device):
        return str(spec)
    text = "auto" if spec is None else str(spec).strip().lower()
    m = _SPEC.match(text)
    if not m or (m.group(2) is not None and m.group(1) != "cuda"):
        raise ConfigError(f"{option}: {spec!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    return text


def resolve_device(spec: Any = "auto", option: str = "--device") -> torch.device:
    """The :class:`torch.device` of ``spec``; ``ConfigError`` when this machine has no such device."""
    if isinstance(spec, torch.device):
        return spec
    text = check_device(spec, option)
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            raise ConfigError(f"{option} mps: Apple's MPS is not available on this machine; use --device cpu or auto")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise ConfigError(f"{option} {text}: CUDA is not available (no GPU, or this torch is a CPU build); "
                          "use --device cpu or auto")
    index = int(text.split(":")[1]) if ":" in text else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"{option} {text}: this machine has {count} CUDA device(s) (cuda:0 … cuda:{count - 1})")
    return torch.device("cuda", index)


def lightning_devices(spec: Any) -> tuple[str, Any]:
    """``(accelerator, devices)`` for Lightning's Trainer from a ``--device`` spelling (checked as above)."""
    device = resolve_device(spec)
    if device.type == "cuda":
        return "gpu", [device.index or 0]
    return device.type, 1


@contextlib.contextmanager
def inference_autocast(device: Any, amp: bool = False) -> Iterator[None]:
    """bf16 autocast for inference on CUDA when ``amp``; nothing on the CPU or without ``amp``.

    Also sets ``cudnn.benchmark`` on CUDA. Outputs are returned in float32 by
    the callers (``.float()``), so tables and files keep their precision.
    """
    device = torch.device(device) if not isinstance(device, torch.device) else device
    if device.type != "cuda":
        yield
        return
    torch.backends.cudnn.benchmark = True
    if not amp:
        yield
        return
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        yield
