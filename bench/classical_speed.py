"""Seconds per 800×600 OSIE image for every registered classical model, and the ratio to spectral residual.

Baseline: ``spectral_residual`` (Hou & Zhang 2007), timed in the same run on the
same images. Each model gets one untimed warm-up call (filter files, caches),
then ``--repeats`` timed ``saliency_map`` calls per image; the figure is the
median over images of the per-image median. Optionally (``--huge``) also the
peak Python-heap memory (tracemalloc, numpy buffers included) of GBVS and
Itti-Koch on a 6000×8000 image, which they shrink to 2048 px before working.

    OMP_NUM_THREADS=1 python bench/classical_speed.py                # 5 images, 3 repeats
    python bench/classical_speed.py --images 10 --repeats 5 --huge

Reference timings of the originals (Octave 7.3, 2-core Xeon VM, from
../shared/reference/classical/matlab_params.json): GBVS 0.81 s, Itti-Koch 0.30 s,
signature 0.09 s, spectral residual 0.08 s per image (median of medians).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from salscope.data.stimuli import Stimuli
from salscope.models import available_models, get_model
from salscope.settings import dataset_dir

CLASSICAL = ["itti_koch", "gbvs", "aim", "sun", "spectral_residual", "signature", "bms", "center_bias"]
BASELINE = "spectral_residual"


def time_model(model, images: list[np.ndarray], repeats: int) -> float:
    model.saliency_map(images[0])  # warm-up
    per_image = []
    for img in images:
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.saliency_map(img)
            runs.append(time.perf_counter() - t0)
        per_image.append(statistics.median(runs))
    return statistics.median(per_image)


def peak_memory_mb(model, image: np.ndarray) -> float:
    tracemalloc.start()
    model.saliency_map(image)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2 ** 20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5, help="number of OSIE images (default 5)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per image (default 3)")
    ap.add_argument("--data-dir", default=None, help="data root holding osie/ (default $SALSCOPE_DATA)")
    ap.add_argument("--huge", action="store_true", help="also peak memory of GBVS/Itti-Koch on 6000x8000")
    args = ap.parse_args()

    folder = dataset_dir("osie", args.data_dir) / "stimuli"
    stimuli = Stimuli.from_folder(folder)
    images = [stimuli[i] for i in range(min(args.images, len(stimuli)))]
    images = [im for im in images if im.shape[:2] == (600, 800)]
    print(f"{len(images)} OSIE images of 800x600, {args.repeats} repeats each")

    registered = set(available_models())
    present = [m for m in CLASSICAL if m in registered]
    missing = [m for m in CLASSICAL if m not in registered]
    if missing:
        print(f"not registered (skipped): {', '.join(missing)}")
    if BASELINE not in registered:
        print(f"baseline '{BASELINE}' is not registered yet: ratios cannot be computed")

    seconds = {name: time_model(get_model(name), images, args.repeats) for name in present}
    base = seconds.get(BASELINE)
    print(f"\n{'model':<20}{'s / image':>12}{'x ' + BASELINE:>26}")
    for name in present:
        ratio = f"{seconds[name] / base:.1f}" if base else "n/a"
        print(f"{name:<20}{seconds[name]:>12.3f}{ratio:>26}")

    if args.huge:
        huge = np.random.default_rng(0).integers(0, 256, (6000, 8000, 3), dtype=np.uint8)
        print(f"\ninput 6000x8000x3 uint8 = {huge.nbytes / 2 ** 20:.0f} MiB; output float64 = "
              f"{6000 * 8000 * 8 / 2 ** 20:.0f} MiB")
        for name in ("gbvs", "itti_koch"):
            if name in registered:
                print(f"{name:<20} peak traced memory {peak_memory_mb(get_model(name), huge):8.0f} MiB")


if __name__ == "__main__":
    main()
