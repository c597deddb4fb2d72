"""Training configuration: set-ups I/II/III, presets, and the hash that guards resumes.

A :class:`TrainConfig` holds everything that decides the trained weights (the
*result* fields, hashed) and where/how the run happens (the *placement* fields:
output folder, devices, strategy, threads, progress, cache switch, number of
epochs — not hashed, so a run may be resumed on other hardware or extended by
more epochs). A resume whose result fields differ is refused, naming them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from salscope.errors import ConfigError, TrainError

SETUPS = ("fixed", "saliency", "scene")
SETUP_NUMBERS = {"fixed": "I", "saliency": "II", "scene": "III"}

# Layers the readout decoder reads by default (DeepGaze-like: one per scale, the deepest of each).
DEFAULT_LAYERS: dict[str, list[str]] = {
    "efficientnet_lite0": ["block4", "block10", "block15"],
    "vgg16": ["conv3_3", "conv4_3", "conv5_3"],
    "resnet18": ["layer2", "layer3", "layer4"],
    "resnet50": ["layer2", "layer3", "layer4"],
}

# The paper's schedule (He et al. 2019, SenHe/uavdvsm): Adam 5e-3, ×0.8 per epoch, batch 10, 20 epochs, 224×224.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"decoder": "paper", "loss": "nss", "lr": 5e-3, "lr_decay": 0.8, "batch_size": 10, "epochs": 20,
              "input_size": (224, 224)},
}

# Fields that do not change the trained weights (kept out of the configuration hash).
PLACEMENT_FIELDS = frozenset({
    "out_dir", "data_dir", "epochs", "devices", "accelerator", "strategy", "num_nodes", "num_workers",
    "threads", "progress", "cache", "resume", "export_decoder",
})


@dataclass
class TrainConfig:
    """One training run (``salscope train`` options map 1:1 onto these fields).

    Result fields: ``setup`` (``fixed`` = I, encoder frozen; ``saliency`` = II,
    fine-tuned from ``finetune_from`` on; ``scene`` = III, scene classification
    with the same depth and schedule), ``backbone``, ``weights``, ``layers``,
    ``decoder``, ``loss``, ``dataset``, ``split``/``val_split``/``split_seed``,
    ``labels`` (set-up III), ``input_size``/``target_size`` (H, W), ``batch_size``,
    ``lr``, ``lr_decay`` (per epoch), ``weight_decay``, ``seed``,
    ``density_sigma_deg``, ``max_images``, ``monitor``/``patience`` (early stopping),
    ``exclude_ids`` (image ids kept out of training and validation, e.g. the
    region-annotated images a later neuron analysis scores: neurons must not be
    judged on the images they were trained on).
    """

    setup: str = "fixed"
    backbone: str = "efficientnet_lite0"
    weights: str | None = "imagenet"
    layers: list[str] | None = None
    decoder: str = "readout"
    loss: str | None = None
    finetune_from: str | None = None
    dataset: str = "osie"
    split: str = "train"
    val_split: str | None = "val"
    split_seed: int = 0
    labels: str | None = None
    input_size: tuple[int, int] = (240, 320)
    target_size: tuple[int, int] | None = None
    batch_size: int = 10
    lr: float = 5e-3
    lr_decay: float = 0.8
    weight_decay: float = 0.0
    seed: int = 0
    density_sigma_deg: float = 1.0
    max_images: int | None = None
    max_val_images: int | None = None
    exclude_ids: list[str] | None = None
    monitor: str | None = None
    patience: int | None = None
    # placement
    epochs: int = 20
    out_dir: str = "runs/train"
    data_dir: str | None = None
    devices: str | int = 1
    accelerator: str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    num_workers: int = 0
    threads: int | None = None
    progress: bool | None = None
    cache: bool = True
    resume: bool = False
    export_decoder: str | None = None
    preset: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.preset is not None:
            if self.preset not in PRESETS:
                raise ConfigError(f"--preset: unknown preset {self.preset!r}; valid presets: {', '.join(PRESETS)}")
        if self.setup not in SETUPS:
            raise ConfigError(f"--setup: unknown set-up {self.setup!r}; valid: {', '.join(SETUPS)} (I, II, III)")
        self.input_size = _pair(self.input_size, "input_size")
        self.target_size = None if self.target_size is None else _pair(self.target_size, "target_size")
        if self.layers is not None:
            self.layers = [str(v) for v in self.layers]
        if self.exclude_ids is not None:
            self.exclude_ids = sorted({str(v) for v in self.exclude_ids})
        if self.loss is None:
            self.loss = "nss" if self.decoder == "paper" else "nll"
        if self.setup == "scene" and not self.labels:
            raise ConfigError("--labels: set-up 'scene' needs a labels CSV (columns image_id,scene), "
                              "e.g. $SALSCOPE_DATA/osie-scenes/labels.csv")
        if self.setup == "fixed" and self.finetune_from:
            raise ConfigError("--finetune-from: set-up 'fixed' keeps the encoder frozen; use --setup saliency or scene")
        for name in ("batch_size", "epochs", "num_nodes"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0 and 0 < self.lr_decay <= 1):
            raise ConfigError(f"--lr must be a finite number > 0 and --lr-decay in (0, 1], got {self.lr} and {self.lr_decay}")
        for name in ("weight_decay", "density_sigma_deg"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"--{name.replace('_', '-')}: must be a finite number >= 0, got {value}")
        for name in ("max_images", "max_val_images", "patience", "threads"):
            value = getattr(self, name)
            if value is not None and int(value) < (0 if name == "patience" else 1):
                raise ConfigError(f"--{name.replace('_', '-')}: must be >= {0 if name == 'patience' else 1} "
                                  f"(or left out), got {value}")
        if self.num_workers < 0:
            raise ConfigError(f"--num-workers: must be >= 0, got {self.num_workers}")
        if max(self.input_size) > 4096 or (self.target_size and max(self.target_size) > 4096):
            raise ConfigError(f"input_size/target_size: at most 4096 pixels a side, got {self.input_size} / {self.target_size}")

    @classmethod
    def from_preset(cls, preset: str | None, **overrides: Any) -> "TrainConfig":
        """A config from ``preset`` (e.g. ``"paper"``) with ``overrides`` (None values ignored)."""
        base: dict[str, Any] = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ConfigError(f"--preset: unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
            base.update(PRESETS[preset])
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(preset=preset, **base)

    @property
    def out_size(self) -> tuple[int, int]:
        return self.target_size or self.input_size

    def result_fields(self) -> dict[str, Any]:
        """The fields that decide the result (hashed), JSON-ready."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name in PLACEMENT_FIELDS or f.name == "preset":
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        if self.labels:
            out["labels_sha256"] = _file_sha256(Path(self.labels))
        return out

    def config_hash(self) -> str:
        """sha256 (16 hex digits) of :meth:`result_fields`."""
        text = json.dumps(self.result_fields(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, str):
        text = value.lower().replace("×", "x")
        parts = text.split("x")
        try:
            w, h = (int(p) for p in parts)  # written WxH on the command line
        except ValueError:
            raise ConfigError(f"--{name.replace('_', '-')}: {value!r} is not WIDTHxHEIGHT (e.g. 320x240)") from None
        value = (h, w)
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected (height, width), got {value!r}") from None
    if h < 8 or w < 8:
        raise ConfigError(f"{name}: {w}x{h} is too small; use at least 8x8")
    return (h, w)


def _file_sha256(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"--labels: file {path} does not exist; pass a CSV with columns image_id,scene")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def diff_configs(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences ``key: stored → current`` between two result-field dicts."""
    keys = sorted(set(stored) | set(current))
    return [f"{k}: {stored.get(k)!r} → {current.get(k)!r}" for k in keys if stored.get(k) != current.get(k)]


def check_resume(stored_meta: dict[str, Any], config: TrainConfig, source: str) -> None:
    """Refuse to resume from a checkpoint whose configuration hash differs; name what differs."""
    if stored_meta.get("config_hash") == config.config_hash():
        return
    diffs = diff_configs(stored_meta.get("config", {}), config.result_fields())
    raise TrainError(
        f"cannot resume from {source}: it was trained with a different configuration "
        f"({'; '.join(diffs) or 'hash ' + str(stored_meta.get('config_hash'))}); "
        "rerun with the same options, or pass another --out to start a new run"
    )


def default_layers(backbone: Any, decoder: str, layers: Sequence[str] | None) -> list[str]:
    """The decoder's layers: ``layers`` if given (checked), else the backbone's defaults."""
    if layers:
        return backbone.check_layers(list(layers))
    names = DEFAULT_LAYERS.get(backbone.name)
    if names is None:  # the deepest layer of each of the three coarsest strides
        by_stride: dict[int, str] = {}
        for info in backbone.feature_info:
            by_stride[info.stride] = info.name
        names = [by_stride[s] for s in sorted(by_stride)[-3:]]
    return [names[-1]] if decoder == "paper" else list(names)
