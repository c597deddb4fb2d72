"""Deterministic train/val/test splits.

The order of the ``n`` items is fixed by hashing: item ``i`` gets the key
``sha256(f"{seed}:{i}")`` and items are sorted by key; the first
``round(f_train n)`` go to train, the next ``round(f_val n)`` to val, the rest to
test. Unlike a NumPy permutation this does not depend on the NumPy version, so a
split is the same on every machine and forever.

OSIE default (``seed=0``, ``fractions=(0.7, 0.1, 0.2)``): 490 train / 70 val /
140 test images.
"""

from __future__ import annotations

import hashlib

import numpy as np

from salscope.errors import DataError

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.7, 0.1, 0.2)


def split_indices(n: int, seed: int = 0, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> dict[str, np.ndarray]:
    """Indices of a deterministic train/val/test split of ``n`` items (each sorted).

    The three index sets are disjoint and cover ``range(n)``; sizes are
    ``round(f_train n)``, ``round(f_val n)`` and the remainder.
    """
    n = int(n)
    if n < 0:
        raise DataError(f"split_indices: n must be >= 0, got {n}")
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3 or any(f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-9:
        raise DataError(f"split_indices: fractions must be three numbers >= 0 summing to 1, got {fractions}")
    keys = [hashlib.sha256(f"{int(seed)}:{i}".encode()).digest() for i in range(n)]
    order = np.array(sorted(range(n), key=keys.__getitem__), dtype=np.int64)
    n_train = int(round(fr[0] * n))
    n_val = min(int(round(fr[1] * n)), n - n_train)
    parts = (order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:])
    return {name: np.sort(p) for name, p in zip(SPLITS, parts)}
