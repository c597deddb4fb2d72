"""Lightning modules of the three set-ups.

- :class:`SaliencyTask` — set-ups I (``fixed``) and II (``saliency``): a
  :class:`~salscope.models.deep.SaliencyNetwork` trained with a
  :class:`~salscope.models.losses.SaliencyLoss`; batches carry either images or
  cached features: the decoder's layers (set-up I) or the frozen trunk's
  (set-up II, see :mod:`salscope.train.cache`), from which the encoder runs
  from ``finetune_from`` on.
- :class:`SceneTask` — set-up III (``scene``): the same encoder, fine-tuned from
  the same layer with the same schedule, under a scene-classification head
  (global average pooling of the deepest decoder layer + linear), cross-entropy.

Optimiser: Adam(lr, weight_decay) over the trainable parameters; the learning
rate is multiplied by ``lr_decay`` after every epoch (``ExponentialLR``), as in
the paper's schedule. Batch-norm statistics of the encoder stay frozen (the
encoder is kept in eval mode): fine-tuning with batches of 10 would otherwise
overwrite ImageNet statistics with noisy ones. Checkpoints carry a
``"salscope"`` entry (configuration, hash, encoder/decoder description), the
torch RNG state (restored on resume) and ``"salscope_metrics"``, the logged
scores at the time of saving (what a resumed, already finished run reports).
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from salscope.models.checkpoint import RECORD_KEY, CheckpointRecord
from salscope.models.losses import SaliencyLoss


def _set_trainable(encoder: nn.Module, finetune_from: str | None) -> None:
    for p in encoder.parameters():
        p.requires_grad_(False)
    if finetune_from:
        for m in encoder.modules_from(finetune_from):
            for p in m.parameters():
                p.requires_grad_(True)


def features_from_trunk(encoder: nn.Module, cached: dict[str, torch.Tensor], start: str,
                        layers: list[str]) -> dict[str, torch.Tensor]:
    """``layers`` of the encoder from cached trunk features: run it from ``start`` on, merge the cached shallow ones.

    ``cached`` holds the layer before ``start`` and the requested layers that lie
    before ``start`` (:func:`salscope.train.cache.trunk_layers`).
    """
    first = encoder.layer_names.index(start)
    deep = [name for name in layers if encoder.layer_names.index(name) >= first]
    found = dict(cached)
    if deep:
        found.update(encoder.forward_from(cached[encoder.previous_layer(start)], start, deep))
    return {name: found[name] for name in layers}


class _Task(L.LightningModule):
    def __init__(self, config, meta: CheckpointRecord):
        super().__init__()
        self.config = config
        self.meta = meta
        self.epoch_sampler = None  # set by salscope.train.run; see on_train_epoch_start

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder_module().eval()  # frozen BN statistics (see module docstring)
        return self

    def encoder_module(self) -> nn.Module:
        raise NotImplementedError

    def on_train_epoch_start(self) -> None:
        # Lightning calls set_epoch on a plain sampler itself; under DDP it wraps ours in a distributed
        # sampler that does not forward the epoch, so it is set here too (the order is read after this hook).
        if self.epoch_sampler is not None:
            self.epoch_sampler.set_epoch(self.current_epoch)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=self.config.lr, weight_decay=self.config.weight_decay)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.config.lr_decay)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[RECORD_KEY] = self.meta.to_dict()
        checkpoint["salscope_rng"] = torch.get_rng_state()
        # The scores so far, so that resuming a finished run (no epoch left to train) reports them again.
        metrics = self.trainer.callback_metrics if self._trainer is not None else {}
        checkpoint["salscope_metrics"] = {k: float(v) for k, v in metrics.items()
                                          if getattr(v, "numel", lambda: 1)() == 1}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "salscope_rng" in checkpoint:
            torch.set_rng_state(checkpoint["salscope_rng"])


class SaliencyTask(_Task):
    """Set-ups I and II: fixation prediction."""

    def __init__(self, model, config, meta: CheckpointRecord):
        super().__init__(config, meta)
        self.model = model
        self.loss = SaliencyLoss(config.loss, model.output)
        _set_trainable(model.encoder, config.finetune_from if config.setup == "saliency" else None)

    def encoder_module(self) -> nn.Module:
        return self.model.encoder

    def _predict(self, batch: dict) -> torch.Tensor:
        size = self.config.out_size
        if "features" in batch:
            feats = batch["features"]
            if self.config.setup == "saliency":  # frozen-trunk features: run the fine-tuned stages
                feats = features_from_trunk(self.model.encoder, feats, self.config.finetune_from, self.model.layers)
            return self.model.forward_features(feats, size)
        return self.model(batch["image"], size)

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        from salscope.metrics import nss_torch  # noqa: PLC0415

        pred = self._predict(batch)
        total, parts = self.loss(pred, batch["fixation_map"], batch.get("density"))
        bs = pred.shape[0]
        self.log(f"{stage}_loss", total, prog_bar=True, batch_size=bs, sync_dist=stage == "val")
        for name, value in parts.items():
            self.log(f"{stage}_{name}_loss", value, batch_size=bs, sync_dist=stage == "val")
        if stage == "val":
            s = pred.exp() if self.model.output == "log_density" else pred
            self.log("val_nss", nss_torch(s, batch["fixation_map"]), prog_bar=True, batch_size=bs, sync_dist=True)
        return total

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")


class SceneHead(nn.Module):
    """Global average pooling of one layer + a linear classifier."""

    def __init__(self, layer: str, channels: int, n_classes: int):
        super().__init__()
        self.layer = layer
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fc(features[self.layer].mean(dim=(2, 3)))


class SceneTask(_Task):
    """Set-up III: scene classification with the encoder fine-tuned from the same layer."""

    def __init__(self, encoder: nn.Module, head: SceneHead, config, meta: CheckpointRecord):
        super().__init__(config, meta)
        self.encoder = encoder
        self.head = head
        _set_trainable(encoder, config.finetune_from)

    def encoder_module(self) -> nn.Module:
        return self.encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.encoder.normalize(x), layers=[self.head.layer]))

    def _step(self, batch: dict, stage: str) -> torch.Tensor:
        if "features" in batch:  # frozen-trunk features: run the fine-tuned stages only
            logits = self.head(features_from_trunk(self.encoder, batch["features"], self.config.finetune_from,
                                                   [self.head.layer]))
        else:
            logits = self(batch["image"])
        loss = F.cross_entropy(logits, batch["label"])
        bs = logits.shape[0]
        self.log(f"{stage}_loss", loss, prog_bar=True, batch_size=bs, sync_dist=stage == "val")
        if stage == "val":
            acc = (logits.argmax(1) == batch["label"]).float().mean()
            self.log("val_acc", acc, prog_bar=True, batch_size=bs, sync_dist=True)
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")
