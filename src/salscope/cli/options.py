"""The options every command spells the same way: models, image size, sample size, output folder.

One vocabulary (``../shared/STYLE.md``, "Names"):

- ``-m/--model SPEC`` (repeat it, or separate specs with commas) — any spec of
  :mod:`salscope.models.factory`, optionally ``LABEL=SPEC``; ``--labels a,b,c``
  names them in order instead. ``evaluate`` takes the specs as arguments.
- ``--input-size WIDTHxHEIGHT`` (``224x224``; ``none`` keeps each image's size);
  the study config and the report write the same size as ``[height, width]``.
- ``--max-images N``: the first N images; ``--spread-images N``: N images spread
  evenly through the set. Omitted or 0: all images.
- ``-o/--out DIR``: the output folder, ``runs/<command>`` when omitted.
- ``--data-dir DIR``: the data root, else the rule of :mod:`salscope.settings`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from salscope.errors import ConfigError

MODEL_HELP = ("Model spec: a registered name (salscope models), ckpt:PATH, FILE.py:FACTORY, maps:DIR (evaluate), "
              "optionally LABEL=SPEC; repeat the option or separate specs with commas.")
ENCODER_HELP = ("Encoder spec: a backbone name (efficientnet_lite0, vgg16, ...), builtin, ckpt:PATH (any set-up), "
                "FILE.py:FACTORY or timm:NAME, optionally LABEL=SPEC; repeat the option or separate with commas.")
LABELS_HELP = "Comma-separated labels for the models, in order (instead of LABEL=SPEC)."
INPUT_SIZE_HELP = "Resize images to WIDTHxHEIGHT before the encoder (e.g. 224x224); 'none' keeps each image's size."
MAX_IMAGES_HELP = "Use the first N images (omitted or 0: all)."
DATA_DIR_HELP = ("Data root: a folder with one sub-folder per data set (default: $SALSCOPE_DATA, else the last root "
                 "that worked, else ../shared/data; `salscope data list` shows which).")
SPREAD_IMAGES_HELP = "Use N images spread evenly through the set instead of the first N (omitted or 0: all)."


def out_help(command: str) -> str:
    """The ``-o/--out`` help of ``command`` (default ``runs/<command>``)."""
    return f"Output folder (default runs/{command})."


def model_list(values: Sequence[str] | str | None, option: str = "--model") -> list[str]:
    """Specs from a repeated option whose values may hold several specs separated by commas."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = [part.strip() for v in values for part in str(v).split(",") if part.strip()]
    if not out:
        raise ConfigError(f"{option}: give at least one model spec (see `salscope models`)")
    return out


def labelled(specs: Sequence[str], labels: Optional[str]) -> list[str]:
    """``specs`` with ``--labels`` applied as ``LABEL=SPEC`` (one label per spec)."""
    if not labels:
        return list(specs)
    names = [v.strip() for v in labels.split(",") if v.strip()]
    if len(names) != len(specs):
        raise ConfigError(f"--labels gives {len(names)} label(s) for {len(specs)} model(s); give one per model")
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9_.+-]+", n)]
    if bad:
        raise ConfigError(f"--labels: {bad} are not plain labels (letters, digits, _ . + -)")
    return [f"{n}={s}" for n, s in zip(names, specs)]


def input_size(value: Optional[str], option: str = "--input-size") -> Optional[tuple[int, int]]:
    """``WIDTHxHEIGHT`` → ``(height, width)``; ``none`` (or nothing) → None."""
    if value is None or value.strip().lower() == "none":
        return None
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", value)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise ConfigError(f"{option}: {value!r} is not WIDTHxHEIGHT (e.g. 224x224), or 'none'")
    return int(m.group(2)), int(m.group(1))


def check_sample(max_images: Optional[int], spread_images: Optional[int]) -> None:
    """:class:`ConfigError` for a negative count or both options at once (call before loading anything)."""
    for option, value in (("--max-images", max_images), ("--spread-images", spread_images)):
        if value is not None and value < 0:
            raise ConfigError(f"{option} must be a whole number >= 0 (0 = all images), got {value}")
    if max_images and spread_images:
        raise ConfigError("--max-images (the first N) and --spread-images (N spread evenly) exclude each other; "
                          "give one")


def sample_indices(n: int, max_images: Optional[int], spread_images: Optional[int]) -> Optional[list[int]]:
    """The images a command uses out of ``n``: the first ``max_images``, or ``spread_images`` spread evenly.

    Returns None for all of them. 0 means all; both options at once is an error.
    """
    check_sample(max_images, spread_images)
    if max_images and max_images < n:
        return list(range(max_images))
    if spread_images and spread_images < n:
        return [int(i) for i in np.unique(np.linspace(0, n - 1, spread_images).round().astype(int))]
    return None


def default_out(out: Optional[Path], command: str) -> Path:
    """``--out`` or ``runs/<command>``."""
    return Path(out) if out is not None else Path("runs") / command
