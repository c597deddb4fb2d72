"""Regenerate the ICA filter banks AIM and SUN use (src/salscope/resources/ica/*.npz).

Usage (from the repository root, scikit-image installed):

    OMP_NUM_THREADS=1 python scripts/learn_ica.py [--kind aim|sun|all] [--out DIR]

Image set, patch counts, component counts and seeds are fixed in
salscope.models.classical.ica.CONFIGS; resources/ica/README.md records them and the
result. Same seed, same numbers (given the same numpy/BLAS).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from salscope.io import write_npz
from salscope.models.classical.ica import FILTER_FILES, RESOURCE_DIR, learn_filter_bank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["aim", "sun", "all"], default="all")
    parser.add_argument("--out", type=Path, default=RESOURCE_DIR, help="folder for the .npz files")
    args = parser.parse_args()
    for kind in ("aim", "sun") if args.kind == "all" else (args.kind,):
        start = time.perf_counter()
        bank = learn_filter_bank(kind, progress=print)
        dest = write_npz(args.out / FILTER_FILES[kind], **bank)
        print(
            f"{kind}: wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB), filters {bank['filters'].shape}, "
            f"variance kept {float(bank['explained_variance']):.4f}, FastICA iterations {int(bank['n_iter'])}, "
            f"converged {bool(bank['converged'])}, {time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    main()
