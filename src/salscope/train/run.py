"""Run one training (:func:`train`): data, model, Lightning trainer, checkpoints, resume, export.

Layout of ``out_dir``::

    config.json                 the full configuration and its hash
    checkpoints/last.ckpt       written after every epoch (resume point), after best.ckpt
    checkpoints/best.ckpt       best validation score so far (``monitor``)
    logs/metrics.csv            Lightning CSV log (train/val losses, val_nss or val_acc)
    logs/resume<k>/metrics.csv  the log of the k-th resumed session
    result.json                 checkpoints, epochs run, final validation scores

Resume (``resume=True``) continues from ``checkpoints/last.ckpt`` exactly —
model, optimiser, scheduler, loop counters, early-stopping state and the torch
RNG are restored, and batches are shuffled by ``seed + epoch`` — and is refused
(:class:`TrainError`, naming the differing options) when the checkpoint's
configuration hash differs. An ``out_dir`` holding a run is never overwritten
without ``resume``. Resuming gives the same ``best.ckpt`` as an uninterrupted
run (``last.ckpt`` is written after the best checkpoint, so it carries the
best score of its own epoch), and resuming a finished run returns its stored
metrics. Checkpoints are written atomically (temp file + fsync + rename,
:class:`~salscope.train.checkpoints.AtomicCheckpointIO`); a truncated or
unreadable ``last.ckpt``/``best.ckpt`` is refused by name before a resume.

Multi-GPU / multi-node: ``devices``, ``strategy`` (e.g. ``ddp``) and
``num_nodes`` are handed to ``lightning.Trainer`` unchanged; samplers are
wrapped by Lightning's distributed sampler, metrics are logged with
``sync_dist``, and the feature cache writes atomically so ranks may fill it
concurrently.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from salscope.errors import TrainError
from salscope.io import write_json
from salscope.models.checkpoint import RECORD_KEY, CheckpointRecord, export_decoder, load_checkpoint
from salscope.train.checkpoints import AtomicCheckpointIO, read_checkpoint
from salscope.train.config import SETUP_NUMBERS, TrainConfig, check_resume, default_layers


@dataclass
class TrainResult:
    """Where a run left its files and how it ended."""

    out_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path | None
    epochs_run: int
    metrics: dict[str, float]
    config_hash: str
    cached_images: int = 0
    cache_layers: list[str] | None = None  # what the feature cache held (None: no cache)
    global_zero: bool = True  # False on the other DDP ranks (they return too)
    train_ids: list[str] = field(default_factory=list)   # the images trained on, in order
    val_ids: list[str] = field(default_factory=list)     # the images that chose the best checkpoint


def _load_data(config: TrainConfig):
    from salscope.data import load_dataset  # noqa: PLC0415

    ds = load_dataset(config.dataset, config.data_dir)
    train = _without(ds.split(config.split, seed=config.split_seed), config.exclude_ids)
    if config.max_images:
        train = train.subset(range(min(config.max_images, len(train))))
    val = None
    if config.val_split:
        val = _without(ds.split(config.val_split, seed=config.split_seed), config.exclude_ids)
        n_val = config.max_val_images or config.max_images
        if n_val:
            val = val.subset(range(min(n_val, len(val))))
    return ds, train, val


def _without(dataset, exclude_ids):
    """``dataset`` less the images whose ids are in ``exclude_ids`` (order kept)."""
    if not exclude_ids:
        return dataset
    drop = set(exclude_ids)
    return dataset.subset([i for i, image_id in enumerate(dataset.ids) if image_id not in drop])


def _monitor(config: TrainConfig) -> tuple[str, str]:
    name = config.monitor or ("val_acc" if config.setup == "scene" else "val_nss")
    mode = "min" if name.endswith("loss") else "max"
    return name, mode


def build_model(config: TrainConfig):
    """The (untrained) :class:`SaliencyNetwork` of a saliency config (set-ups I and II)."""
    from salscope.models.backbones import get_backbone  # noqa: PLC0415
    from salscope.models.decoders import build_decoder  # noqa: PLC0415
    from salscope.models.deep import SaliencyNetwork  # noqa: PLC0415

    encoder = get_backbone(config.backbone, weights=config.weights)
    layers = default_layers(encoder, config.decoder, config.layers)
    if config.finetune_from:
        encoder.check_layers([config.finetune_from])
    channels = {info.name: info.channels for info in encoder.feature_info}
    decoder = build_decoder(config.decoder, channels, layers)
    return SaliencyNetwork(encoder, decoder, config.input_size,
                             encoder_spec={"name": config.backbone, "weights": config.weights})


def _meta(config: TrainConfig, kind: str, **extra: Any) -> CheckpointRecord:
    """The checkpoint record of this run (``decoder=`` or ``head=`` in ``extra``)."""
    return CheckpointRecord(kind=kind, setup=config.setup, setup_number=SETUP_NUMBERS[config.setup],
                            config=config.result_fields(), config_hash=config.config_hash(),
                            encoder={"name": config.backbone, "weights": config.weights},
                            input_size=tuple(config.input_size), **extra)


def read_checkpoint_meta(path: Path) -> dict[str, Any]:
    """The ``"salscope"`` entry of a checkpoint (TrainError if it has none, or the file is truncated/unreadable)."""
    return _salscope_entry(read_checkpoint(path), path)


def _salscope_entry(ckpt: dict[str, Any], path: Path) -> dict[str, Any]:
    if RECORD_KEY not in ckpt:
        raise TrainError(f"checkpoint {path} was not written by `salscope train`; pass another --out")
    return ckpt[RECORD_KEY]


def train(config: TrainConfig, callbacks: list | None = None) -> TrainResult:
    """Train one model as ``config`` says; see the module docstring for files, resume and DDP.

    ``callbacks`` are extra Lightning callbacks (e.g. timers in ``bench/train_cache.py``).
    """
    import lightning as L  # noqa: PLC0415
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar  # noqa: PLC0415
    from lightning.pytorch.loggers import CSVLogger  # noqa: PLC0415

    from salscope import progress  # noqa: PLC0415
    from salscope.settings import cache_dir  # noqa: PLC0415
    from salscope.train import data as tdata  # noqa: PLC0415
    from salscope.train.cache import FeatureCache, trunk_layers  # noqa: PLC0415
    from salscope.train.tasks import SaliencyTask, SceneHead, SceneTask  # noqa: PLC0415

    if config.threads:
        torch.set_num_threads(int(config.threads))
    out = Path(config.out_dir)
    ckpt_dir = out / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    resume_from, resumed = None, None
    if last.is_file():
        if not config.resume:
            raise TrainError(f"--out {out} already holds a run ({last}); pass --resume to continue it or choose another --out")
        resume_from = last
        # Read both checkpoints whole before anything else: a truncated one is named, never trained on or reported.
        resumed = read_checkpoint(last)
        if (ckpt_dir / "best.ckpt").is_file():
            read_checkpoint(ckpt_dir / "best.ckpt")

    L.seed_everything(config.seed, workers=True, verbose=False)
    ds, train_ds, val_ds = _load_data(config)
    monitor, mode = _monitor(config)
    cached, cache_layers = 0, None
    if config.setup == "scene":
        from salscope.data.scenes import load_scene_labels  # noqa: PLC0415
        from salscope.models.backbones import get_backbone  # noqa: PLC0415

        labels, class_names = load_scene_labels(config.labels, ds.stimuli)
        encoder = get_backbone(config.backbone, weights=config.weights)
        layers = default_layers(encoder, "paper", config.layers)
        ft = config.finetune_from or layers[-1]
        encoder.check_layers([ft])
        config.finetune_from = ft
        head = SceneHead(layers[-1], encoder.layer_info(layers[-1]).channels, len(class_names))
        meta = _meta(config, "scene", head={"layer": layers[-1], "classes": class_names})
        task = SceneTask(encoder, head, config, meta)
        pos = {i: k for k, i in enumerate(ds.ids)}
        train_y = labels[[pos[i] for i in train_ds.ids]]
        val_y = labels[[pos[i] for i in val_ds.ids]] if val_ds else None
        trunk = trunk_layers(encoder, ft, [head.layer]) if config.cache else None
        if trunk:
            cache = FeatureCache(cache_dir(), encoder, config.input_size, trunk)
            cached, cache_layers = _fill(cache, train_ds, val_ds), trunk
            train_set = tdata.CachedSceneFeatures(train_ds, cache, train_y)
            val_set = tdata.CachedSceneFeatures(val_ds, cache, val_y) if val_ds else None
        else:
            train_set = tdata.SceneImages(train_ds, config.input_size, train_y)
            val_set = tdata.SceneImages(val_ds, config.input_size, val_y) if val_ds else None
    else:
        model = build_model(config)
        if config.setup == "saliency" and not config.finetune_from:
            config.finetune_from = model.layers[-1]
        meta = _meta(config, "saliency", decoder=model.decoder.config())
        task = SaliencyTask(model, config, meta)
        need_density = task.loss.needs_density
        sigma = config.density_sigma_deg if need_density else None
        train_t = tdata.FixationTargets(train_ds, config.out_size, sigma)
        val_t = tdata.FixationTargets(val_ds, config.out_size, sigma) if val_ds else None
        layers = None
        if config.cache:
            layers = model.layers if config.setup == "fixed" else trunk_layers(model.encoder, config.finetune_from,
                                                                               model.layers)
        if layers:
            cache = FeatureCache(cache_dir(), model, config.input_size, layers)
            cached, cache_layers = _fill(cache, train_ds, val_ds), layers
            train_set = tdata.CachedFeatures(train_ds, cache, train_t)
            val_set = tdata.CachedFeatures(val_ds, cache, val_t) if val_ds else None
        else:
            train_set = tdata.SaliencyImages(train_ds, config.input_size, train_t)
            val_set = tdata.SaliencyImages(val_ds, config.input_size, val_t) if val_ds else None

    # The configuration is compared only now, once defaults that depend on the backbone are filled in.
    if resume_from is not None:
        check_resume(_salscope_entry(resumed, resume_from), config, str(resume_from))
    elif config.resume and (out / "config.json").is_file():
        stored = json.loads((out / "config.json").read_text())
        check_resume(stored, config, str(out / "config.json"))
    write_json(out / "config.json", {**config.to_dict(), "config": config.result_fields(),
                                     "config_hash": config.config_hash()})
    loader_kw = {"batch_size": config.batch_size, "num_workers": config.num_workers,
                 "persistent_workers": config.num_workers > 0}
    sampler = tdata.EpochSampler(len(train_set), config.seed)
    task.epoch_sampler = sampler
    train_loader = torch.utils.data.DataLoader(train_set, sampler=sampler, drop_last=False, **loader_kw)
    val_loader = torch.utils.data.DataLoader(val_set, shuffle=False, **loader_kw) if val_set is not None else None

    # Two checkpoint callbacks: Lightning >= 2.6 writes save_last only when a top-k file was written too,
    # so the resume point (last.ckpt, every epoch) gets its own monitor-less callback. It runs after the best
    # callback, so that last.ckpt holds the best score *including* its own epoch: saved before, a resume compared
    # the next epochs with the previous epoch's best and could replace best.ckpt with a worse epoch.
    last_cb = ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1, every_n_epochs=1,
                              enable_version_counter=False)
    best_cb = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                              enable_version_counter=False) if val_loader else None
    extra = list(callbacks or [])
    callbacks = ([best_cb] if best_cb else []) + [last_cb] + extra
    if config.patience is not None and val_loader is not None:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=int(config.patience)))
    show = progress.enabled() if config.progress is None else bool(config.progress)
    if show:
        callbacks.append(RichProgressBar())
    _quiet_lightning()
    trainer = L.Trainer(
        max_epochs=config.epochs, accelerator=config.accelerator, devices=config.devices,
        strategy=config.strategy, num_nodes=config.num_nodes, deterministic=True,
        logger=CSVLogger(out, name="logs", version=_log_version(out, resume_from)), callbacks=callbacks,
        enable_progress_bar=show, enable_model_summary=False, log_every_n_steps=1,
        num_sanity_val_steps=0, limit_val_batches=1.0 if val_loader else 0, plugins=[AtomicCheckpointIO()],
    )
    with warnings.catch_warnings():
        # Expected here: the encoder is kept in eval mode on purpose (frozen BN statistics).
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
        warnings.filterwarnings("ignore", message=r".*no `val_dataloader`.*")  # --val-split none is a choice
        warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty.*")  # resume
        trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader,
                    ckpt_path=str(resume_from) if resume_from else None)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
    if resumed is not None and int(trainer.global_step) == int(resumed.get("global_step", -1)):
        metrics = _finished_metrics(resumed, out, config)   # the run had finished: nothing was trained or logged
    best = best_cb.best_model_path if best_cb else ""
    result = TrainResult(out, last, Path(best) if best else None, int(trainer.current_epoch), metrics,
                         config.config_hash(), cached, cache_layers, bool(trainer.is_global_zero),
                         list(train_ds.ids), list(val_ds.ids) if val_ds else [])
    if config.export_decoder and config.setup != "scene" and trainer.is_global_zero:
        if config.setup != "fixed":
            raise TrainError("--export-decoder ships a decoder over the original encoder: only set-up 'fixed' can export one")
        export_decoder(load_checkpoint(result.best_checkpoint or last), config.export_decoder)
    if trainer.is_global_zero:
        write_json(out / "result.json", {"last_checkpoint": last, "best_checkpoint": result.best_checkpoint,
                                         "epochs_run": result.epochs_run, "metrics": metrics,
                                         "config_hash": result.config_hash, "cached_images": cached,
                                         "cache_layers": cache_layers, "train_ids": result.train_ids,
                                         "val_ids": result.val_ids})
    return result


def _finished_metrics(ckpt: dict[str, Any], out: Path, config: TrainConfig) -> dict[str, float]:
    """The scores of a run resumed after its last epoch: from its checkpoint, else its result.json."""
    if "salscope_metrics" in ckpt:
        return {k: float(v) for k, v in ckpt["salscope_metrics"].items()}
    try:  # checkpoints written before salscope_metrics existed
        stored = json.loads((out / "result.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return dict(stored.get("metrics", {})) if stored.get("config_hash") == config.config_hash() else {}


def _log_version(out: Path, resume_from: Path | None) -> str:
    # Lightning's CSV writer replaces an existing metrics.csv: a resumed run logs to logs/resume<k>/ instead.
    if resume_from is None:
        return ""
    k = 1
    while (out / "logs" / f"resume{k}").exists():
        k += 1
    return f"resume{k}"


def _quiet_lightning() -> None:
    # Lightning's start-up banners (GPU/TPU availability, tips) are noise in a CLI that reports its own summary.
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _fill(cache, train_ds, val_ds) -> int:
    """Fill ``cache`` for the training and validation images; how many were computed."""
    return cache.fill(train_ds.stimuli) + (cache.fill(val_ds.stimuli) if val_ds else 0)
