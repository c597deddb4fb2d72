"""Dataset: stimuli + fixations + metadata, with deterministic splits."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from salscope.data.fixations import Fixations
from salscope.data.splits import DEFAULT_FRACTIONS, SPLITS, split_indices
from salscope.data.stimuli import Stimuli
from salscope.errors import DataError


class Dataset:
    """A named eye-tracking data set: ``stimuli``, ``fixations`` (``n`` indexes stimuli) and ``meta``.

    ``meta`` holds what is known about the recording, e.g. ``ppd`` (pixels per
    degree of visual angle), ``n_subjects``, ``categories``, ``split_fractions``.
    Construction checks that every fixation refers to an existing image and lies
    inside it (``validate=False`` skips the check, used for subsets of checked sets).
    """

    def __init__(self, name: str, stimuli: Stimuli, fixations: Fixations, meta: dict[str, Any] | None = None,
                 *, validate: bool = True):
        self.name = str(name)
        self.stimuli = stimuli
        self.fixations = fixations
        self.meta: dict[str, Any] = dict(meta or {})
        if validate:
            fixations.check_bounds(stimuli.sizes, where=f"data set '{self.name}'")

    def __len__(self) -> int:
        return len(self.stimuli)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}: {len(self.stimuli)} images, {len(self.fixations)} fixations)"

    @property
    def ids(self) -> list[str]:
        return self.stimuli.ids

    def index(self, image_id: str | int) -> int:
        """Position of image ``image_id`` in this data set."""
        return self.stimuli.index(image_id)

    def subset(self, indices: Sequence[int] | np.ndarray) -> "Dataset":
        """The images at ``indices`` with their fixations, ``n`` re-indexed to the new order."""
        idx = np.asarray(indices, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise DataError(f"{self.name}.subset: indices must lie in 0..{len(self) - 1}")
        if np.unique(idx).size != idx.size:
            raise DataError(f"{self.name}.subset: repeated indices; each image may appear once")
        new_pos = np.full(len(self), -1, dtype=np.int64)
        new_pos[idx] = np.arange(idx.size)
        f = self.fixations
        keep = new_pos[f.n] >= 0 if len(f) else np.zeros(0, dtype=bool)
        sub = f[keep]
        sub.n = new_pos[sub.n]
        # Keep fixations grouped by new image index, in their original order within an image.
        order = np.argsort(sub.n, kind="stable")
        sub = sub[order]
        return Dataset(self.name, self.stimuli.subset(idx), sub, self.meta, validate=False)

    def split(self, name: str, seed: int = 0) -> "Dataset":
        """The ``"train"``, ``"val"`` or ``"test"`` part (see :func:`salscope.data.splits.split_indices`).

        Fractions come from ``meta["split_fractions"]`` (default 0.7/0.1/0.2).
        """
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        fractions = tuple(self.meta.get("split_fractions", DEFAULT_FRACTIONS))
        sub = self.subset(split_indices(len(self), seed=seed, fractions=fractions)[name])
        sub.meta["split"] = {"name": name, "seed": int(seed), "fractions": list(fractions)}
        return sub
