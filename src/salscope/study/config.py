"""Study configuration: a small TOML file with documented defaults and presets.

A study config has one table per stage. Every key has a default (below), so a
config file only names what it changes; an unknown table or key is an error
that lists the valid ones. Presets:

``quick``
    A smoke run, minutes: ``efficientnet_lite0``, small input, few epochs, a
    subset of OSIE. Too small for the verdicts to be trusted (the report says so).
``standard``
    A study at a scale that means something, on a 2-core CPU: the whole OSIE
    train split (less the region-annotated images) for set-ups I, II, II′ and
    III with early stopping on validation, all annotated images for the neuron
    analysis, the whole test split for evaluation and CKA, the default pop-out set.
``paper``
    The paper's set-up: VGG-16 with ImageNet weights, 224×224 input, Adam 5e-3
    ×0.8 per epoch, 20 epochs, full data. Needs the VGG-16 weights (downloaded
    once into the cache, or a local file via ``train.weights``) and ideally a GPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salscope.devices import check_device
from salscope.errors import ConfigError
from salscope.report.figures import parse_figure_formats
from salscope.report.tables import parse_table_formats


@dataclass
class DataConfig:
    """Which data the study runs on (folders under the data root)."""

    dataset: str = "osie"
    regions: str = "osie-regions"
    scenes: str = "osie-scenes/labels.csv"
    split_seed: int = 0


@dataclass
class RunConfig:
    """What kind of run this is and where it runs (no stage's results depend on either; a resume may move devices)."""

    scale: str = "custom"            # "quick" (smoke run), "standard", "paper" or "custom"
    device: str = "auto"             # every stage's torch work: auto, cpu, cuda, cuda:N or mps (salscope.devices)


@dataclass
class TrainConfig:
    """Set-ups I (fixed), II (saliency fine-tune), II′ (II again, seed + 1) and III (scene fine-tune)."""

    backbone: str = "efficientnet_lite0"
    weights: str = "imagenet"        # "imagenet", a torchvision-format .pth file, or "none" (random)
    decoder: str = "paper"
    loss: str = "nss"
    finetune_from: str = ""          # "" = the backbone's last exposed layer
    epochs: int = 20
    batch_size: int = 10
    lr: float = 5e-3
    lr_decay: float = 0.8
    input_size: list[int] = field(default_factory=lambda: [224, 224])   # height, width
    max_train_images: int = 0        # 0 = the whole train split
    max_val_images: int = 0
    seed: int = 0
    threads: int = 0                 # 0 = torch's default
    patience: int = 0                # early stopping on the validation score after N epochs without gain; 0 = off
    replicate: bool = True           # also train II′: set-up II with seed + 1 (finding 4's same-task noise floor)
    exclude_annotated: bool = True   # keep the region-annotated images out of training and validation


@dataclass
class EvaluateConfig:
    """Natural-image evaluation of deep, classical and baseline models."""

    split: str = "test"
    max_images: int = 0
    classical: list[str] = field(
        default_factory=lambda: ["itti_koch", "gbvs", "spectral_residual", "signature", "bms", "aim", "sun"]
    )
    metrics: list[str] = field(default_factory=lambda: ["auc_judd", "sauc", "nss", "cc", "kld", "sim", "ig"])
    convention: str = "tuebingen"
    decide_metric: str = "sauc"      # finding 3's natural-image metric: centre-bias free
    bootstrap: int = 1000            # paired bootstrap resamples over images for finding 3
    gallery: int = 4                 # images in the report's gallery of maps, spread over the evaluated ones (0 = none)


@dataclass
class PopoutConfig:
    """Synthetic odd-one-out search arrays."""

    preset: str = "default"
    seed: int = 0
    spread_images: int = 0           # arrays spread evenly over the set, so every dimension stays (0 = all)
    classical: list[str] = field(default_factory=lambda: ["itti_koch", "gbvs", "spectral_residual", "signature"])
    hit: str = "item"                # "item" (nearest item is the target), "disc" (P3) or "ink"
    bootstrap: int = 1000
    gallery: int = 6                 # arrays in the report's gallery: one per dimension at its largest level (0 = none)


@dataclass
class NeuronsConfig:
    """Region-based NSS neuron analysis and Network Dissection."""

    layers: list[str] = field(default_factory=list)   # [] = the backbone's last three exposed layers
    top_k: int = 10
    threshold: float = 1.5
    max_images: int = 0
    batch_size: int = 8
    input_size: list[int] = field(default_factory=list)   # [] = the training input size
    random_seeds: int = 3            # random-initialisation references for finding 1 (0 = none)
    permutations: int = 1000         # label permutations for finding 1's null (Holm over K × L tests needs
                                     # permutations + 1 > K·L / alpha to reject at all: 36 tests → ≥ 720)
    bootstrap: int = 1000            # image resamples for finding 2's interval
    alpha: float = 0.05              # family-wise error rate (Holm over categories × layers)
    allow_trained_images: bool = False   # analyse images II/III were trained on (the report flags it)
    browser_images: int = 4          # thumbnails per channel and encoder in the report's neuron browser (0 = no browser)


@dataclass
class CompareConfig:
    """Representation change (CKA) between the pretrained encoder and set-ups II and III."""

    layers: list[str] = field(default_factory=list)   # [] = the backbone's exposed layers
    split: str = "test"
    max_images: int = 0
    bootstrap: int = 200
    seed: int = 0
    margin: float = 0.1              # finding 4's equivalence bound on the direction statistic


#: The figure formats a study can draw: PNG for the page, PDF and SVG (vector) for papers.
STUDY_FIGURE_FORMATS = ("png", "pdf", "svg")


@dataclass
class ReportConfig:
    """What ``OUT/report/`` carries besides the page: figure files and table files, for papers.

    ``figure_formats``: every stage saves each figure in these formats in its
    own folder, and the report copies and links them (``png`` is always among
    them: the page shows it). The key is in no stage's cache key, so changing
    it reruns no stage: a cached stage keeps the formats it was drawn in (the
    run's log names the stage to ``--force``).
    ``table_formats``: the files of each table under ``report/tables/``
    (``csv``, ``json``, ``md``, ``tex`` — LaTeX booktabs).
    """

    figure_formats: list[str] = field(default_factory=lambda: ["png", "pdf", "svg"])
    table_formats: list[str] = field(default_factory=lambda: ["csv", "json", "md", "tex"])


@dataclass
class StudyConfig:
    """The whole study: one field per stage table of the TOML file."""

    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    popout: PopoutConfig = field(default_factory=PopoutConfig)
    neurons: NeuronsConfig = field(default_factory=NeuronsConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain nested dicts (what the report and the hashes use)."""
        return dataclasses.asdict(self)

    def section_hash(self, *names: str) -> str:
        """Short sha256 of the named tables: stage caches are keyed by what they depend on."""
        payload = {name: dataclasses.asdict(getattr(self, name)) for name in names}
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "run": {"scale": "quick"},
        # lr 2e-3, not the paper's 5e-3: with 60 steps of batch 8, 5e-3 left the scene head of set-up III
        # at chance (val accuracy 0.15 of 9 classes) while 2e-3 reached 0.58.
        "train": {"epochs": 3, "batch_size": 8, "input_size": [192, 256], "max_train_images": 160,
                  "max_val_images": 40, "lr": 2e-3},
        "evaluate": {"max_images": 40},
        "popout": {"preset": "quick"},
        "neurons": {"max_images": 60, "random_seeds": 1, "permutations": 2000, "bootstrap": 500},
        "compare": {"max_images": 60, "bootstrap": 200},
    },
    "standard": {
        "run": {"scale": "standard"},
        "train": {"epochs": 12, "patience": 3, "batch_size": 8, "input_size": [192, 256], "lr": 2e-3},
        "neurons": {"random_seeds": 3, "permutations": 1000, "bootstrap": 1000},
        "compare": {"bootstrap": 500},
    },
    "paper": {
        "run": {"scale": "paper"},
        "train": {"backbone": "vgg16", "weights": "imagenet", "decoder": "paper", "finetune_from": "conv5_1",
                  "epochs": 20, "batch_size": 10, "lr": 5e-3, "lr_decay": 0.8, "input_size": [224, 224]},
        "neurons": {"layers": ["conv4_3", "conv5_1", "conv5_3"], "input_size": [224, 224]},
        "compare": {"layers": ["conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]},
    },
}


def _apply(section: Any, table: dict[str, Any], where: str) -> None:
    valid = {f.name: f for f in dataclasses.fields(section)}
    for key, value in table.items():
        if key not in valid:
            raise ConfigError(f"{where}: unknown key '{key}'; valid keys: {', '.join(sorted(valid))}")
        default = getattr(section, key)
        if isinstance(default, bool) != isinstance(value, bool) or (
            isinstance(default, (int, float)) and not isinstance(value, (int, float))
        ) or (isinstance(default, str) and not isinstance(value, str)) or (
            isinstance(default, list) and not isinstance(value, list)
        ):
            raise ConfigError(
                f"{where}: key '{key}' expects a {type(default).__name__}, got {value!r}"
            )
        if isinstance(default, float) and isinstance(value, int):
            value = float(value)
        setattr(section, key, value)


def build_config(tables: dict[str, Any] | None = None, preset: str | None = None, *, source: str = "config") -> StudyConfig:
    """Defaults, then a preset's overrides, then ``tables`` (parsed TOML), validated."""
    config = StudyConfig()
    layers: list[tuple[str, dict[str, Any]]] = []
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset '{preset}'; valid presets: {', '.join(PRESETS)}")
        layers.append((f"preset '{preset}'", PRESETS[preset]))
    if tables:
        layers.append((source, tables))
    valid_sections = [f.name for f in dataclasses.fields(StudyConfig)]
    for where, overrides in layers:
        for name, table in overrides.items():
            if name not in valid_sections:
                raise ConfigError(f"{where}: unknown table [{name}]; valid tables: {', '.join(valid_sections)}")
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: [{name}] must be a table of keys")
            _apply(getattr(config, name), table, f"{where} [{name}]")
    _check(config)
    return config


# Keys whose value must be >= 1 (all other integers must be >= 0); floats must be finite and in range.
_AT_LEAST_ONE = {("train", "epochs"), ("train", "batch_size"), ("neurons", "top_k"), ("neurons", "batch_size"),
                 ("neurons", "permutations"), ("neurons", "bootstrap"), ("evaluate", "bootstrap"),
                 ("popout", "bootstrap")}
_RANGES = {("train", "lr"): (0.0, None, False), ("train", "lr_decay"): (0.0, 1.0, True),
           ("neurons", "alpha"): (0.0, 1.0, False), ("compare", "margin"): (0.0, 2.0, True)}
_CHOICES = {("evaluate", "convention"): ("tuebingen", "mit"), ("popout", "hit"): ("item", "disc", "ink"),
            ("run", "scale"): ("quick", "standard", "paper", "custom")}


def _check(config: StudyConfig) -> None:
    """Types were checked on reading; here every number is finite and in range, every choice valid."""
    import math  # noqa: PLC0415

    for table in dataclasses.fields(config):
        section = getattr(config, table.name)
        for f in dataclasses.fields(section):
            value, where = getattr(section, f.name), f"[{table.name}] {f.name}"
            if isinstance(value, bool):
                continue
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise ConfigError(f"{where} = {value}: use a finite number")
                lo, hi, hi_closed = _RANGES.get((table.name, f.name), (None, None, True))
                if lo is not None and not (value > lo and (hi is None or value < hi or (hi_closed and value == hi))):
                    raise ConfigError(f"{where} = {value}: must be in ({lo}, {hi if hi is not None else 'inf'}"
                                      f"{']' if hi_closed and hi is not None else ')'}")
            elif isinstance(value, int):
                least = 1 if (table.name, f.name) in _AT_LEAST_ONE else 0
                if value < least:
                    raise ConfigError(f"{where} = {value}: must be at least {least}")
            elif isinstance(value, str) and (table.name, f.name) in _CHOICES:
                if value not in _CHOICES[(table.name, f.name)]:
                    raise ConfigError(f"{where} = {value!r}: use one of {', '.join(_CHOICES[(table.name, f.name)])}")
    for name in ("train", "neurons"):
        size = getattr(config, name).input_size
        if name == "neurons" and not size:
            continue
        if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in size) \
                or min(size) < 16 or max(size) > 4096:
            raise ConfigError(f"[{name}] input_size = {size}: use [height, width], integers from 16 to 4096"
                              + (" (or [] for the training size)" if name == "neurons" else ""))
    _check_report(config.report)
    if config.compare.bootstrap == 1:
        raise ConfigError("[compare] bootstrap = 1: use 0 (no intervals) or at least 2 resamples")
    check_device(config.run.device, option="[run] device")   # the spelling only: a GPU is looked for when used


def _check_report(report: ReportConfig) -> None:
    """``[report]`` formats: known names, figures among the stages' PNG/PDF/SVG and PNG included."""
    figures = parse_figure_formats(report.figure_formats, "[report] figure_formats")
    other = [f for f in figures if f not in STUDY_FIGURE_FORMATS]
    if other or "png" not in figures:
        raise ConfigError(f"[report] figure_formats = {report.figure_formats}: the study saves figures as "
                          f"{', '.join(STUDY_FIGURE_FORMATS)} and the page shows the PNG; use png plus any of pdf, svg "
                          "(e.g. [\"png\", \"pdf\", \"svg\"])")
    report.figure_formats = list(figures)
    report.table_formats = list(parse_table_formats(report.table_formats, "[report] table_formats"))


def apply_report_formats(config: StudyConfig, figure_formats: str | None, table_formats: str | None) -> StudyConfig:
    """``config`` with ``--figure-formats`` / ``--table-formats`` (comma-separated) in ``[report]``, checked."""
    if figure_formats is not None:
        config.report.figure_formats = list(parse_figure_formats(figure_formats))
    if table_formats is not None:
        config.report.table_formats = list(parse_table_formats(table_formats))
    _check_report(config.report)
    return config


def load_config(path: str | Path | None = None, preset: str | None = None) -> StudyConfig:
    """Read a TOML study config (optional) on top of a preset (optional)."""
    tables: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"study config {path} does not exist")
        try:
            tables = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"study config {path} is not valid TOML: {exc}") from exc
    return build_config(tables, preset, source=str(path) if path else "config")


def _toml_value(value: Any, where: str) -> str:
    # JSON's spelling is TOML's for ints, finite floats and bools; not for NaN/inf (TOML: nan, inf), for non-BMP
    # characters (JSON's surrogate pairs are invalid TOML escapes) or for DEL (must be escaped in TOML strings).
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ConfigError(f"{where}: {value!r} cannot be written as TOML")


def dump_toml(config: StudyConfig) -> str:
    """The config as TOML text (every key, so a run's config can be replayed): ``tomllib`` reads it back equal."""
    lines: list[str] = []
    for name, table in config.to_dict().items():
        lines.append(f"[{name}]")
        for key, value in table.items():
            lines.append(f"{key} = {_toml_value(value, f'[{name}] {key}')}")
        lines.append("")
    return "\n".join(lines)
