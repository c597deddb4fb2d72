"""Per finding, in plain words: what this run can and cannot show.

Each function reads the stage results (and the config, for the preset and the
batch size) and returns a few sentences for the report: the preset, how many
images or arrays the finding rests on, how long the set-ups were trained, and
whether the analysed images were held out of training. They state limits a
reader needs before trusting a verdict (a smoke run, a small budget against the
paper's, a finding decided on one data set); they never change a verdict.
"""

from __future__ import annotations

import math
from typing import Any, Callable

#: The paper's fine-tuning budget, for comparison (SALICON train, about 20 epochs).
PAPER_BUDGET = "the paper fine-tuned on SALICON's 10,000 images for about 20 epochs"


def _preset(config: Any) -> str:
    scale = getattr(getattr(config, "run", None), "scale", "custom") or "custom"
    return {"quick": "Preset quick (a smoke run: the numbers show that the pipeline works, not what is true)",
            "standard": "Preset standard", "paper": "Preset paper"}.get(scale, "A custom configuration (no preset)")


def steps(train: dict[str, Any], setup: str, batch_size: int) -> tuple[int, int, int] | None:
    """``(optimiser steps, epochs, training images)`` of one set-up; steps = epochs × ⌈images / batch⌉."""
    info = (train or {}).get("setups", {}).get(setup)
    if not info or not batch_size:
        return None
    n = len(info.get("train_ids") or [])
    epochs = int(info.get("epochs") or 0)
    return epochs * math.ceil(n / batch_size), epochs, n


def _budget(results: dict[str, Any], config: Any, setups: tuple[str, ...]) -> str:
    batch = int(getattr(getattr(config, "train", None), "batch_size", 0) or 0)
    parts = []
    for key, label in (("fixed", "I"), ("saliency", "II"), ("replicate", "II′"), ("scene", "III")):
        s = steps(results.get("train", {}), key, batch) if key in setups else None
        if s is not None:
            parts.append(f"{label} {s[0]:,} steps ({s[1]} epoch{'s' if s[1] != 1 else ''} over {s[2]:,} images)")
    if not parts:
        return ""
    return f"Trained: {'; '.join(parts)}, batches of {batch} ({PAPER_BUDGET})."


def _held_out(neurons: dict[str, Any]) -> str:
    overlap = neurons.get("overlap_ids") or []
    if overlap:
        return (f"{len(overlap)} of the {neurons.get('n_images')} analysed images were trained or validated on by a "
                "fine-tuned set-up: their scores are biased upwards.")
    return "None of the analysed images was used to train or validate any set-up (held out)."


def scope_encoded(results: dict[str, Any], config: Any) -> str:
    n = results.get("neurons") or {}
    weights = getattr(getattr(config, "train", None), "weights", "imagenet")
    backbone = getattr(getattr(config, "train", None), "backbone", "the backbone")
    head = (f"{_preset(config)}. {n.get('n_images')} region-annotated OSIE images ({n.get('n_regions', '?')} regions), "
            f"layers {', '.join(n.get('layers') or [])} of {backbone} ({weights} weights); "
            f"{n.get('permutations')} label permutations and {n.get('random_seeds')} random-initialisation encoders. ")
    can = ("It can show whether these categories stand out, on these images, in the pretrained encoder's channels "
           "beyond what shuffled labels and untrained networks give. ")
    cannot = ("It cannot show that a channel is a detector of a category in general (the regions are few per category "
              "and come from one data set), nor anything about the paper's VGG-16 unless the backbone is vgg16.")
    if str(weights).lower() == "none":
        cannot = "With random weights ('none') it cannot show anything about ImageNet features. " + cannot
    return head + can + cannot


def scope_bias(results: dict[str, Any], config: Any) -> str:
    n = results.get("neurons") or {}
    c = n.get("contrast") or {}
    head = (f"{_preset(config)}. {_budget(results, config, ('saliency',))} Scored on {n.get('n_images')} annotated "
            f"images ({n.get('n_regions', '?')} regions) in {c.get('layer') or (n.get('layers') or ['?'])[-1]}. "
            f"{_held_out(n)} ")
    return head + ("It can show whether this fine-tuning raised person head more than text on these images, with a "
                   "bootstrap interval over images. It cannot show what a SALICON-scale fine-tuning does if the budget "
                   "above is far smaller (a small or absent gain may be a budget limit), nor single channels' changes "
                   "(the test is on top-k means; the neuron browser shows channels, without a test).")


def scope_natural(results: dict[str, Any], config: Any) -> str:
    e, p = results.get("evaluate") or {}, results.get("popout") or {}
    preset = getattr(getattr(config, "popout", None), "preset", "default")
    head = (f"{_preset(config)}. {_budget(results, config, ('fixed', 'saliency'))} Natural images: "
            f"{e.get('n_images', 0)} OSIE {e.get('split', 'test')} images, none trained on. Pop-out: "
            f"{p.get('n_images', 0)} generated arrays (set preset {preset}, conjunction controls left out), hit rule "
            f"'{p.get('hit', 'item')}'. ")
    return head + ("It can show, for the set-ups trained here and these classical models, which side wins on each "
                   "kind of image. It cannot show it for other deep models (the shipped built-in is reference only), "
                   "for other data sets, or for human search on these arrays (there are no human fixations on them).")


def scope_task(results: dict[str, Any], config: Any) -> str:
    c = results.get("compare") or {}
    setups = tuple(k for k in ("saliency", "replicate", "scene") if k in (results.get("train") or {}).get("setups", {}))
    head = (f"{_preset(config)}. {_budget(results, config, setups)} CKA on {c.get('n_images', 0)} OSIE test images "
            "(none trained on). ")
    tail = ("It can show whether, in the fine-tuned layers, the scene-trained III moved like a second saliency run "
            "(II′) or differently, beyond the noise between two saliency runs. It cannot show the paper's domain "
            "shift (here II and III saw the same OSIE images, so 'domain' means the scene task's labels), nor layers "
            "that were not fine-tuned.")
    if "replicate" not in setups:
        tail = "Without the replicate II′ there is no same-task noise floor, so the test cannot decide. " + tail
    return head + tail


#: Finding id → its scope function.
SCOPES: dict[str, Callable[[dict[str, Any], Any], str]] = {
    "encoded": scope_encoded, "bias": scope_bias, "natural": scope_natural, "task": scope_task,
}
