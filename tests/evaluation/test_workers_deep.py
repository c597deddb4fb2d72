"""``evaluate --workers 2`` with deep models: no hang, the values and order of one process (issue 20, item 1).

The pool used to fork after torch's thread pool existed (``torch.set_num_threads(2)`` and a model loaded are
enough): the forked workers waited for ever at 0 % CPU. It now spawns its workers.
"""

from __future__ import annotations

import pickle

import pytest
import torch

from salscope.analysis.pool import START_METHOD, imap_ordered
from salscope.cli import main
from salscope.errors import AnalysisError


@pytest.mark.timeout(120)
def test_two_workers_score_deep_models_as_one_process(data_root, decoder_ckpt, user_file, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # starts torch's OpenMP pool in this process: what made forked workers hang
    try:
        torch.ones(64, 64) @ torch.ones(64, 64)
        tables = {}
        for workers in ("1", "2"):
            out = tmp_path / f"w{workers}"
            # a decoder checkpoint over efficientnet_lite0, and a user's file (imported again in each worker)
            rc = main(["evaluate", f"ckpt={decoder_ckpt}", f"blobs={user_file}:make_density", "--metrics", "nss,cc",
                       "--max-images", "3", "--workers", workers, "--out", str(out),
                       "--data-dir", str(data_root)])
            assert rc == 0
            tables[workers] = (out / "per_image.csv").read_text()
    finally:
        torch.set_num_threads(threads)
    assert START_METHOD in ("forkserver", "spawn")
    assert tables["2"] == tables["1"]  # same rows, same order, same digits
    lines = tables["1"].splitlines()
    assert len(lines) == 1 + 2 * 3 and [l.split(",")[0] for l in lines[1:]] == ["ckpt", "blobs"] * 3


class _Unpicklable:
    def __init__(self):
        self.fn = lambda i: i

    def __call__(self, i):
        return i


def test_a_job_that_cannot_travel_fails_before_any_worker_starts():
    with pytest.raises(AnalysisError, match="cannot be sent to worker processes.*workers=1"):
        imap_ordered(_Unpicklable(), 3, 2, what="test job")
    with pytest.raises(Exception):
        pickle.dumps(_Unpicklable())
