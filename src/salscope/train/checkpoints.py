"""Checkpoint files of a training run: written atomically, checked before a resume uses them.

Lightning's own writer serialises a checkpoint in memory and hands it to
fsspec (older versions wrote over the destination in place; 2.6 renames a
temp file but never fsyncs it, so a crash can still leave a cut file, and a
full disk surfaces as a bare ``OSError``). :class:`AtomicCheckpointIO` (a Lightning
``CheckpointIO`` plugin) writes to a temporary file beside the destination,
fsyncs it and renames it into place (:func:`salscope.io.atomic_path`), so a
failed write leaves the previous checkpoint whole and raises a
:class:`~salscope.errors.TrainError` naming it. :func:`read_checkpoint` loads
a checkpoint completely and names the file when it is truncated or unreadable,
so a resume never trains on (or reports) a damaged file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from salscope.errors import TrainError
from salscope.io import atomic_path


def _write(checkpoint: dict[str, Any], path: Path) -> None:
    torch.save(checkpoint, path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning ``CheckpointIO`` that saves through temp file + fsync + rename, and loads with clear errors."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        dest = Path(path)
        try:
            with atomic_path(dest, suffix=".tmp") as tmp:
                _write(checkpoint, tmp)
        except Exception as exc:  # noqa: BLE001 (disk full, quota, I/O errors: torch wraps some in RuntimeError)
            kept = "the previous one is kept unchanged" if dest.is_file() else "no checkpoint was written"
            raise TrainError(f"could not write checkpoint {dest} ({exc}); {kept}. Free disk space and resume "
                             "with --resume") from exc

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        try:
            return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 (zip/pickle errors of many kinds)
            raise _unreadable(Path(path), exc) from exc


def _unreadable(path: Path, exc: BaseException) -> TrainError:
    return TrainError(f"checkpoint {path} is truncated or unreadable ({exc}) and was not used; it was probably cut "
                      "by a full disk or a kill. Delete the run folder and train again, or pass another --out")


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a whole checkpoint (CPU tensors); :class:`TrainError` naming ``path`` if it is truncated or unreadable."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise _unreadable(path, exc) from exc
    if not isinstance(ckpt, dict):
        raise _unreadable(path, TypeError(f"holds a {type(ckpt).__name__}, not a checkpoint dict"))
    return ckpt
