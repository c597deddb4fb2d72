"""``salscope train``: train a deep saliency model (set-ups I/II) or a scene classifier (set-up III).

A thin shell over :func:`salscope.train.train`; every option maps to a
:class:`salscope.train.TrainConfig` field. Multi-GPU/multi-node runs pass
``--accelerator gpu --devices 4 --strategy ddp --num-nodes 2`` straight to
Lightning.
"""

from __future__ import annotations

from typing import Optional

import typer

from salscope.cli.options import DATA_DIR_HELP
from salscope.devices import DEVICE_HELP, lightning_devices
from salscope.errors import ConfigError


def _layers(value: Optional[str]) -> Optional[list[str]]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _devices(value: str) -> str | int | list[int]:
    if value.isdigit():
        return int(value)
    if "," in value or value.endswith(","):       # "0," or "0,2": those GPU indices (Lightning's list form)
        return [int(v) for v in value.split(",") if v.strip()]
    return value


def train_command(
    setup: str = typer.Option("fixed", "--setup", help="fixed (I: encoder frozen), saliency (II: fine-tune), scene (III: scene classification)."),
    backbone: str = typer.Option("efficientnet_lite0", "--backbone", help="Encoder name (salscope.models.backbones.available_backbones())."),
    weights: str = typer.Option("imagenet", "--weights", help="'imagenet', 'none' (random), a URL or a .pth state dict."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated encoder layers the decoder reads (default per backbone)."),
    decoder: Optional[str] = typer.Option(None, "--decoder", help="paper (1x1 conv, min-max) or readout (DeepGaze-style log-density)."),
    loss: Optional[str] = typer.Option(None, "--loss", help="Loss terms with weights, e.g. nss, nll, nss:1,cc:0.5 (default nss for paper, nll for readout)."),
    finetune_from: Optional[str] = typer.Option(None, "--finetune-from", help="Set-ups II/III: fine-tune this layer and all deeper ones (e.g. conv5_1)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="'paper': Adam 5e-3, x0.8 per epoch, batch 10, 20 epochs, 224x224, paper decoder, -NSS."),
    dataset: str = typer.Option("osie", "--dataset", help="Data set name or folder."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
    split: str = typer.Option("train", "--split", help="Training split."),
    val_split: str = typer.Option("val", "--val-split", help="Validation split ('none' to skip validation)."),
    split_seed: int = typer.Option(0, "--split-seed", help="Seed of the train/val/test split."),
    labels: Optional[str] = typer.Option(None, "--labels", help="Set-up III: CSV with columns image_id,scene."),
    input_size: Optional[str] = typer.Option(None, "--input-size", help="Encoder input WIDTHxHEIGHT (default 320x240; paper preset 224x224)."),
    target_size: Optional[str] = typer.Option(None, "--target-size", help="Training target grid WIDTHxHEIGHT (default: the input size)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Number of epochs (default 20)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Batch size per device (default 10)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (default 5e-3)."),
    lr_decay: Optional[float] = typer.Option(None, "--lr-decay", help="Learning-rate factor per epoch (default 0.8)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="Adam weight decay (default 0)."),
    seed: int = typer.Option(0, "--seed", help="Seed: same seed, same run (on CPU, bit for bit)."),
    max_images: Optional[int] = typer.Option(None, "--max-images", help="Use only the first N training (and validation) images."),
    monitor: Optional[str] = typer.Option(None, "--monitor", help="Validation metric for best checkpoint / early stopping (val_nss, val_loss, val_acc)."),
    patience: Optional[int] = typer.Option(None, "--patience", help="Early stopping: epochs without improvement of --monitor (off if unset)."),
    out: str = typer.Option("runs/train", "--out", "-o", help="Output folder (checkpoints/, logs/metrics.csv, config.json, result.json)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly where it stopped (same configuration only)."),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Set-up I: cache the frozen encoder's features on disk ($SALSCOPE_CACHE)."),
    export_decoder: Optional[str] = typer.Option(None, "--export-decoder", help="Set-up I: also write the best decoder alone to this .pt file."),
    accelerator: str = typer.Option("auto", "--accelerator", help="Lightning accelerator: auto, cpu, gpu, ..."),
    devices: str = typer.Option("1", "--devices", help="Lightning devices: a count, a list like 0,1, or auto."),
    strategy: str = typer.Option("auto", "--strategy", help="Lightning strategy: auto, ddp, ddp_spawn, fsdp, ..."),
    num_nodes: int = typer.Option(1, "--num-nodes", help="Number of nodes for multi-node DDP."),
    num_workers: int = typer.Option(0, "--num-workers", help="DataLoader worker processes."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads (torch.set_num_threads)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Rich progress bar (default: on a terminal)."),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP + " One device; sets --accelerator/--devices (for several GPUs use --devices N --strategy ddp)."),
) -> None:
    """Train a deep saliency model (set-ups I, II) or the scene-classification control (set-up III)."""
    from salscope.train import TrainConfig, train  # noqa: PLC0415 (torch/lightning are heavy)

    if device is not None:
        if accelerator != "auto" or devices != "1":
            raise ConfigError("--device names one device; it excludes --accelerator/--devices (give one or the other)")
        accelerator, placed = lightning_devices(device)
        devices = "".join(f"{d}," for d in placed) if isinstance(placed, list) else str(placed)   # "0,": GPU 0

    config = TrainConfig.from_preset(
        preset, setup=setup, backbone=backbone, weights=None if weights.lower() == "none" else weights,
        layers=_layers(layers), decoder=decoder, loss=loss, finetune_from=finetune_from, dataset=dataset,
        data_dir=data_dir, split=split, val_split=None if val_split.lower() == "none" else val_split,
        split_seed=split_seed, labels=labels, input_size=input_size, target_size=target_size, epochs=epochs,
        batch_size=batch_size, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, seed=seed,
        max_images=max_images, monitor=monitor, patience=patience, out_dir=out, resume=resume, cache=cache,
        export_decoder=export_decoder, accelerator=accelerator, devices=_devices(devices), strategy=strategy,
        num_nodes=num_nodes, num_workers=num_workers, threads=threads, progress=progress,
    )
    if weights.lower() == "none":
        config.weights = None  # from_preset drops None values; random initialisation was asked for
    result = train(config)
    if not result.global_zero:
        return  # one summary per run, from rank 0
    scores = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()) if k.startswith("val"))
    typer.echo(f"trained {result.epochs_run} epoch(s) (config {result.config_hash}); {scores or 'no validation'}")
    typer.echo(f"checkpoints: {result.best_checkpoint or result.last_checkpoint} (best), {result.last_checkpoint} (last)")
    if export_decoder:
        typer.echo(f"decoder written to {export_decoder}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
