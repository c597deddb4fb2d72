"""Score a model on a fixation data set and write the built-in model's card.

:func:`score_model` measures, per image, with :mod:`salscope.metrics`
(``convention="tuebingen"``): AUC (rank AUC against all pixels), sAUC (against
the fixations of the other images of the set, which share OSIE's 800×600
size), NSS, CC against the empirical density (σ = 1° = ``ppd`` pixels) and the
log-likelihood in bits/fixation over uniform; the card reports their means.

``python -m salscope.train.builtin RUN_DIR DECODER.pt --command "..."`` scores
the exported decoder and a fitted centre bias on the test split and writes
``card.json`` beside ``DECODER.pt``.

References
----------
Kümmerer, Wallis, Bethge, "Saliency benchmarking made easy", ECCV 2018
(per-image means, tuebingen conventions); Bylinskii et al., TPAMI 2019.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from salscope import metrics
from salscope.io import write_json
from salscope.progress import track

SCORES = ("auc", "sauc", "nss", "cc", "log_likelihood_bits")


def score_model(model, dataset, *, batch: int = 8) -> dict[str, float]:
    """Mean AUC, sAUC, NSS, CC and log-likelihood (bits/fixation) of ``model`` over ``dataset``."""
    f = dataset.fixations
    ppd = float(dataset.meta.get("ppd") or 0)
    per: dict[str, list[float]] = {k: [] for k in SCORES}
    idx = list(range(len(dataset)))
    chunks = [idx[k:k + batch] for k in range(0, len(idx), batch)]
    for chunk in track(chunks, f"scoring {getattr(model, 'name', 'model')}"):
        images = [dataset.stimuli[i] for i in chunk]
        maps = model.predict(images) if hasattr(model, "predict") else [model.saliency_map(im) for im in images]
        for i, image, smap in zip(chunk, images, maps):
            sel = f.n == i
            xs, ys = f.x[sel], f.y[sel]
            other = ~sel
            per["auc"].append(metrics.auc(smap, xs, ys))
            per["sauc"].append(metrics.shuffled_auc(smap, xs, ys, f.x[other], f.y[other]))
            per["nss"].append(metrics.nss(smap, xs, ys))
            gold = f.density(i, smap.shape, sigma_px=ppd) if ppd else f.fixation_map(i, smap.shape)
            per["cc"].append(metrics.cc(smap, gold))
            per["log_likelihood_bits"].append(metrics.log_likelihood(model.log_density(image), xs, ys))
    return {k: float(np.mean(v)) for k, v in per.items()}


def write_card(run_dir: Path, decoder_path: Path, command: str, data_dir: str | None = None) -> dict[str, Any]:
    """Score the exported decoder and the centre bias on the test split; write ``card.json`` beside the decoder."""
    from salscope.data import load_dataset  # noqa: PLC0415
    from salscope.models.classical.center_bias import CenterBias  # noqa: PLC0415
    from salscope.models.checkpoint import load_checkpoint  # noqa: PLC0415
    from salscope.models.deep import DeepSaliency  # noqa: PLC0415

    config = json.loads((run_dir / "config.json").read_text())
    result = json.loads((run_dir / "result.json").read_text())
    ds = load_dataset(config["dataset"], data_dir)
    seed = int(config["split_seed"])
    train, test = ds.split(config["split"], seed=seed), ds.split("test", seed=seed)
    t0 = time.perf_counter()
    net = load_checkpoint(decoder_path)
    model = DeepSaliency(net, name="builtin")
    scores = score_model(model, test)
    seconds = time.perf_counter() - t0
    fitted = CenterBias.fit(train)
    baselines = {
        "center_bias_fitted_on_train": {"params": {k: getattr(fitted, k) for k in ("sigma_x", "sigma_y", "mu_x", "mu_y")},
                                        "scores": score_model(fitted, test)},
        "center_bias_default": {"params": {"sigma_x": 0.2, "sigma_y": 0.2}, "scores": score_model(CenterBias(), test)},
    }
    card = {
        "model": "builtin",
        "description": "efficientnet_lite0 (ImageNet weights, frozen) + readout decoder (log-density), set-up I",
        "command": command,
        "dataset": config["dataset"],
        "train_split": {"name": config["split"], "seed": seed, "n_images": len(train)},
        "val_split": config["val_split"],
        "test_split": {"name": "test", "seed": seed, "n_images": len(test)},
        "seed": config["seed"],
        "config": config["config"],
        "config_hash": config["config_hash"],
        "decoder": net.decoder.config(),
        "input_size": list(net.input_size),
        "decoder_file_bytes": decoder_path.stat().st_size,
        "epochs_run": result["epochs_run"],
        "final_val_metrics": result["metrics"],
        "test_scores": scores,
        "baselines": baselines,
        "metrics": "salscope.metrics, convention='tuebingen', per-image means; CC against the fixation density with "
                   "sigma = 1 deg (ppd px); sAUC negatives = fixations of the other test images",
        "scoring_seconds": round(seconds, 1),
        "machine": platform.platform(),
    }
    write_json(decoder_path.parent / "card.json", card)
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("decoder", type=Path)
    parser.add_argument("--command", required=True, help="The exact `salscope train` command that made the run.")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    card = write_card(args.run_dir, args.decoder, args.command, args.data_dir)
    print(json.dumps({"test_scores": card["test_scores"],
                      **{k: v["scores"] for k, v in card["baselines"].items()}}, indent=1))


if __name__ == "__main__":
    main()
