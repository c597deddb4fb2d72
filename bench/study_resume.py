"""Kill `salscope study` in the middle of training, resume it, and time both runs.

Prints: seconds until the kill, seconds of the resumed run, the stages the
resumed run ran or found cached, and which set-ups it resumed; then the
reference figure it is judged against — an uninterrupted run of the same
config (``--reference``, optional, doubles the cost). Each study starts with
an empty feature cache of its own (``SALSCOPE_CACHE``), as on a fresh machine.

Target (issue 9): the resumed run redoes at most the unfinished stage, and a
whole ``--quick`` study takes at most 15 minutes on this 2-core CPU.

Usage: python bench/study_resume.py [--config FILE | --quick] [--kill-after 30] [--reference]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cmd(args: argparse.Namespace, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "salscope", "study", "--out", str(out)]
    return cmd + (["--config", args.config] if args.config else ["--quick"])


def run_until_kill(args: argparse.Namespace, out: Path) -> float:
    """Start the study; SIGKILL it ``kill_after`` s after set-up II starts training."""
    start = time.perf_counter()
    proc = subprocess.Popen(_cmd(args, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        print("  run 1 |", line.rstrip())
        if "set-up II" in line:
            time.sleep(args.kill_after)
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    return time.perf_counter() - start


def run_to_end(args: argparse.Namespace, out: Path, tag: str, env: dict | None = None) -> tuple[float, list[str]]:
    start = time.perf_counter()
    proc = subprocess.run(_cmd(args, out), capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    for line in lines:
        print(f"  {tag} |", line)
    if proc.returncode:
        print(proc.stderr[-3000:])
        raise SystemExit(f"{tag} failed with exit code {proc.returncode}")
    return seconds, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="study TOML (default: the --quick preset)")
    parser.add_argument("--kill-after", type=float, default=30.0, help="seconds after set-up II starts")
    parser.add_argument("--reference", action="store_true", help="also time an uninterrupted run")
    parser.add_argument("--keep", action="store_true", help="keep the study folders")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="salscope-resume-"))
    # Both studies start from an empty feature cache of their own, as on a fresh machine.
    os.environ["SALSCOPE_CACHE"] = str(root / "cache-killed")
    try:
        out = root / "study"
        killed_at = run_until_kill(args, out)
        resumed, lines = run_to_end(args, out, "run 2")
        ran = [line.split("]")[0][1:] for line in lines if " running in " in line]
        cached = [line.split("]")[0][1:] for line in lines if line.endswith(")") and "cached" in line]
        resumed_setups = [line for line in lines if "(resuming)" in line]
        print()
        print(f"killed after            {killed_at:8.1f} s (set-up II training for {args.kill_after:.0f} s)")
        print(f"resumed run             {resumed:8.1f} s")
        print(f"first + resumed         {killed_at + resumed:8.1f} s")
        print(f"stages run on resume    {', '.join(ran)}")
        print(f"stages cached on resume {', '.join(cached) or '(none)'}")
        print(f"set-ups resumed         {len(resumed_setups)}: {'; '.join(resumed_setups)}")
        if args.reference:
            env = {**os.environ, "SALSCOPE_CACHE": str(root / "cache-reference")}
            reference, _ = run_to_end(args, root / "reference", "ref  ", env=env)
            print(f"uninterrupted run       {reference:8.1f} s  (target for --quick: <= 900 s)")
            print(f"overhead of kill+resume {(killed_at + resumed) / reference:8.2f} x")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
