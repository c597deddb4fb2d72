"""Time ``salscope study --standard`` from a cold feature cache and report it against the 90-minute budget.

Prints the wall time of each stage (from the study's log), the total, the peak
memory of the process tree's largest member (``ru_maxrss`` of the children), and
the ratio total / 5400 s — the issue 12 target is ≤ 1.0 on this 2-core CPU.
Each run uses an empty feature cache of its own (``SALSCOPE_CACHE``), as on a
fresh machine.

Usage: python bench/study_standard.py [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 90 * 60


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="study folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the study folder and cache")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="salscope-standard-"))
    out = args.out or work / "study"
    env = {**os.environ, "SALSCOPE_CACHE": str(work / "cache"), "SALSCOPE_PROGRESS": "0"}
    cmd = [sys.executable, "-c", "import sys; from salscope.cli import main; sys.exit(main(sys.argv[1:]))",
           "study", "--standard", "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    total = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    for name, seconds in re.findall(r"\[(\w+)\] done in ([0-9.]+) s", log):
        print(f"{name:10s} {float(seconds):8.1f} s")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{'total':10s} {total:8.1f} s   peak memory {peak:.0f} MB   exit {proc.returncode}")
    print(f"ratio to the 90-minute budget: {total / BUDGET_S:.2f} (target <= 1.00)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
