"""Torch data sets for training: images or cached encoder/trunk features + fixation targets or scene labels.

Every image is resized to the run's ``input_size`` (bilinear, antialiased —
the same :func:`salscope.models.deep.images_to_batch` that prediction uses), so
data sets of mixed image sizes batch fine. Fixation targets live on the
``out_size`` grid: a fixation at ``(x, y)`` on a ``W×H`` image maps to
``((x + ½)·W'/W − ½, (y + ½)·H'/H − ½)`` on a ``W'×H'`` grid, and the target is
the fixation *count* map there (a pixel fixated twice counts twice, as in NSS
and log-likelihood over fixations). Densities for CC/KL blur those counts with
σ = ``density_sigma_deg`` × the data set's ``ppd`` (scaled to the grid).
"""

from __future__ import annotations

import numpy as np
import torch

from salscope.data import Dataset, Fixations
from salscope.errors import DataError
from salscope.models.deep import images_to_batch


def scaled_fixations(dataset: Dataset, i: int, out_size: tuple[int, int]) -> Fixations:
    """Fixations of image ``i`` mapped onto an ``out_size = (H', W')`` grid (pixel-centre convention)."""
    h, w = dataset.stimuli.sizes[i]
    f = dataset.fixations.for_image(i)
    sy, sx = out_size[0] / h, out_size[1] / w
    return Fixations((f.x + 0.5) * sx - 0.5, (f.y + 0.5) * sy - 0.5, np.zeros(len(f), dtype=np.int64))


class EpochSampler(torch.utils.data.Sampler):
    """Shuffles with ``torch.randperm`` seeded by ``seed + epoch``: the order depends only on the epoch.

    Lightning calls :meth:`set_epoch`, so a run resumed at epoch ``e`` sees the
    same batches as an uninterrupted run.
    """

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


class FixationTargets:
    """Fixation count maps (and optional densities) of a data set on the ``out_size`` grid."""

    def __init__(self, dataset: Dataset, out_size: tuple[int, int], density_sigma_deg: float | None = None):
        self.dataset, self.out_size = dataset, tuple(out_size)
        self.sigma_deg_px = None  # σ in pixels of the original images
        if density_sigma_deg is not None:
            ppd = float(dataset.meta.get("ppd") or 0) or None
            if ppd is None:
                raise DataError(f"data set '{dataset.name}' has no ppd in its meta; CC/KL targets need it (or use --loss nss/nll)")
            self.sigma_deg_px = float(density_sigma_deg) * ppd

    def __call__(self, i: int) -> dict[str, torch.Tensor]:
        f = scaled_fixations(self.dataset, i, self.out_size)
        out = {"fixation_map": torch.from_numpy(f.fixation_map(0, self.out_size, counts=True)).float()}
        if self.sigma_deg_px is not None:
            width = self.dataset.stimuli.sizes[i][1]  # per image: data sets may mix sizes
            sigma = self.sigma_deg_px * self.out_size[1] / width
            out["density"] = torch.from_numpy(f.density(0, self.out_size, sigma_px=sigma)).float()
        return out


class SaliencyImages(torch.utils.data.Dataset):
    """``{"image": 3×H×W in [0, 1], "fixation_map", ["density"], "index"}`` per image."""

    def __init__(self, dataset: Dataset, input_size: tuple[int, int], targets: FixationTargets):
        self.dataset, self.input_size, self.targets = dataset, tuple(input_size), targets

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        image = images_to_batch([self.dataset.stimuli[i]], self.input_size)[0]
        return {"image": image, "index": torch.tensor(i), **self.targets(i)}


class CachedFeatures(torch.utils.data.Dataset):
    """``{"features": {layer: tensor}, "fixation_map", ["density"], "index"}`` from a :class:`FeatureCache`."""

    def __init__(self, dataset: Dataset, cache, targets: FixationTargets):
        self.dataset, self.cache, self.targets = dataset, cache, targets

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        feats = {k: torch.from_numpy(v) for k, v in self.cache.load(self.dataset.stimuli.paths[i]).items()}
        return {"features": feats, "index": torch.tensor(i), **self.targets(i)}


class SceneImages(torch.utils.data.Dataset):
    """``{"image": 3×H×W in [0, 1], "label": int64, "index"}`` per image (set-up III)."""

    def __init__(self, dataset: Dataset, input_size: tuple[int, int], labels: np.ndarray):
        self.dataset, self.input_size, self.labels = dataset, tuple(input_size), np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        image = images_to_batch([self.dataset.stimuli[i]], self.input_size)[0]
        return {"image": image, "label": torch.tensor(self.labels[i]), "index": torch.tensor(i)}


class CachedSceneFeatures(torch.utils.data.Dataset):
    """``{"features": {layer: tensor}, "label": int64, "index"}`` from a trunk :class:`FeatureCache` (set-up III)."""

    def __init__(self, dataset: Dataset, cache, labels: np.ndarray):
        self.dataset, self.cache, self.labels = dataset, cache, np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        feats = {k: torch.from_numpy(v) for k, v in self.cache.load(self.dataset.stimuli.paths[i]).items()}
        return {"features": feats, "label": torch.tensor(self.labels[i]), "index": torch.tensor(i)}
