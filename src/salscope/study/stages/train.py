"""``train``: set-ups I (encoder fixed), II (saliency fine-tune), II′ (II again, seed + 1) and III (scene fine-tune).

None of them sees the region-annotated images (``[train] exclude_annotated``) — :func:`salscope.train.train`.
"""

from __future__ import annotations

from typing import Any

from salscope.devices import lightning_devices
from salscope.study.runner import StageContext
from salscope.study.stages.common import (
    SETUP_LABELS,
    annotated_ids,
    data_root,
    encoder_layers,
    study_weights,
)
from salscope.train import TrainConfig, train

SETUPS = (("fixed", "fixed", 0), ("saliency", "saliency", 0), ("replicate", "saliency", 1), ("scene", "scene", 0))


def stage_train(ctx: StageContext) -> dict[str, Any]:
    """Train set-ups I, II, II′ (II with another seed) and III with the same schedule; resume a cut run.

    The region-annotated images are kept out of training and validation
    (``[train] exclude_annotated``), so the neuron analysis never scores an
    encoder on the images it was fine-tuned on; the ids each set-up trained and
    validated on are recorded.
    """

    t = ctx.config.train
    finetune_from = t.finetune_from or encoder_layers(ctx, [], 3)[0]   # the paper's demo: conv5_1 on
    exclude = annotated_ids(ctx) if t.exclude_annotated else []
    common = dict(
        backbone=t.backbone, weights=study_weights(ctx), decoder=t.decoder, loss=t.loss, dataset=ctx.config.data.dataset,
        split_seed=ctx.config.data.split_seed, input_size=tuple(t.input_size), batch_size=t.batch_size, lr=t.lr,
        lr_decay=t.lr_decay, epochs=t.epochs, max_images=t.max_train_images or None,
        max_val_images=t.max_val_images or None, data_dir=str(data_root(ctx)), threads=t.threads or None,
        progress=None, exclude_ids=exclude or None, patience=t.patience or None,
    )
    common["accelerator"], common["devices"] = lightning_devices(ctx.config.run.device)
    setups: dict[str, Any] = {}
    rows, images = [], []
    for key, setup, seed_offset in SETUPS:
        if key == "replicate" and not t.replicate:
            continue
        out = ctx.folder / key
        extra: dict[str, Any] = {"seed": t.seed + seed_offset}
        if setup != "fixed":
            extra["finetune_from"] = finetune_from
        if setup == "scene":
            extra["labels"] = str(data_root(ctx) / ctx.config.data.scenes)
        resume = (out / "checkpoints" / "last.ckpt").is_file()
        ctx.log(f"[train] set-up {SETUP_LABELS[key]}{' (resuming)' if resume else ''}")
        result = train(TrainConfig(setup=setup, out_dir=str(out), resume=resume, **common, **extra))
        checkpoint = result.best_checkpoint or result.last_checkpoint
        setups[key] = {"checkpoint": str(checkpoint), "metrics": result.metrics, "epochs": result.epochs_run,
                       "train_ids": list(result.train_ids), "val_ids": list(result.val_ids), "seed": t.seed + seed_offset}
        rows.append({"set-up": SETUP_LABELS[key], "seed": t.seed + seed_offset, "epochs": result.epochs_run,
                     "train images": len(result.train_ids), "val images": len(result.val_ids),
                     **{k: round(float(v), 4) for k, v in sorted(result.metrics.items())}})
        images.append({"stage": "train", "use": f"set-up {SETUP_LABELS[key]}: training", "images": len(result.train_ids)})
        images.append({"stage": "train", "use": f"set-up {SETUP_LABELS[key]}: validation (chose the checkpoint)",
                       "images": len(result.val_ids)})
    stop = f", early stopping after {t.patience} epochs without gain on validation" if t.patience else ""
    text = (f"Encoder {t.backbone} ({t.weights}), decoder '{t.decoder}', input {t.input_size[0]}×{t.input_size[1]}, "
            f"up to {t.epochs} epochs{stop}, Adam lr {t.lr} ×{t.lr_decay} per epoch; set-ups II, II′ and III "
            f"fine-tune from {finetune_from} on. "
            + (f"The {len(exclude)} region-annotated images were kept out of training and validation."
               if exclude else "The region-annotated images were NOT kept out of training ([train] exclude_annotated = false)."))
    return {"setups": setups, "table": rows, "finetune_from": finetune_from, "text": text,
            "excluded_ids": exclude, "images_table": images}
