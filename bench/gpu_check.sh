#!/usr/bin/env bash
# GPU check (issue 13): every stage on the GPU beside the CPU, in one run of at most 5 minutes.
#   bench/gpu_check.sh            (on a machine with a CUDA GPU; ../shared/data beside the repository)
# Uses .venv when it imports salscope and sees CUDA; otherwise builds .venv-gpu (torch from the
# machine's package index, salscope editable). Exits 1 when a GPU result is beyond tolerance of the
# CPU's, 2 when there is no CUDA device. Figures go to stdout and runs/gpu_check.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export SALSCOPE_DATA="${SALSCOPE_DATA:-$(cd .. && pwd)/shared/data}"
PY=.venv/bin/python
if ! { [ -x "$PY" ] && "$PY" -c "import salscope, torch; assert torch.cuda.is_available()" 2>/dev/null; }; then
  PY=.venv-gpu/bin/python
  if ! { [ -x "$PY" ] && "$PY" -c "import salscope, torch; assert torch.cuda.is_available()" 2>/dev/null; }; then
    python3 -m venv .venv-gpu
    .venv-gpu/bin/pip install -q --upgrade pip
    .venv-gpu/bin/pip install -q torch
    .venv-gpu/bin/pip install -q -e .
  fi
fi
mkdir -p runs
timeout 290 "$PY" bench/gpu_check.py --json runs/gpu_check.json "$@"
