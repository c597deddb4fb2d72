"""Run one picklable job over indices ``0..n-1`` in worker processes that are safe with torch; results in order.

Never ``fork`` from the calling process. A forked child copies the parent's
memory but not its threads: once the parent has started torch's OpenMP thread
pool (loading a model, ``torch.set_num_threads``), the child's first parallel
region waits for threads that do not exist, and the run hangs at 0 % CPU for
ever (what ``salscope evaluate --workers N`` did with a deep model, issue 20).

Workers come from Python's ``forkserver``: a fresh interpreter, started once
per process, that imports the heavy libraries in :data:`PRELOAD` (torch, scipy)
and then only forks workers. It never runs a torch operation, so no thread pool
exists in it to be lost by a fork, and each worker starts its own; a worker
starts in a fraction of a second instead of re-importing torch (about 2 s
each). Where ``forkserver`` does not exist (Windows) workers are spawned. As
with ``spawn``, each worker gets the caller's ``sys.path`` and working folder
and runs the caller's main script as ``__mp_main__`` (so classes defined in a
script unpickle; the script needs ``if __name__ == "__main__":``); the
initializer also gives it the caller's environment variables as they are now
(the server keeps those of its own start).

The job is pickled once, in the parent, with the standard pickler (tensors by
value): a job that cannot travel fails at once with an :class:`AnalysisError`
naming the cause, and never half-way in a worker. The pickle goes to the
workers in a temporary file, not through their start-up pipe: a child that dies
while starting (a script without ``if __name__ == "__main__":``) would leave
the parent blocked for ever writing a large payload into that pipe. Each worker

- imports the user model files (``FILE.py:FACTORY``) the parent imported,
  under the same module names, so that their classes unpickle;
- runs torch with the parent's thread count (``torch.get_num_threads()``), so
  that every value is bit-identical to a run in one process (torch's CPU
  kernels round differently with another thread count: about 1e-11 on a
  saliency map). Lower it in the parent — ``torch.set_num_threads`` or
  ``OMP_NUM_THREADS`` — to share the cores between workers.

:class:`concurrent.futures.ProcessPoolExecutor` runs the pool: a worker that
dies (out of memory, a crash in native code) ends the run with an error instead
of the hang of ``multiprocessing.Pool``.

References
----------
PyTorch, "Multiprocessing best practices" (CUDA and OpenMP in subprocesses:
use ``spawn`` or ``forkserver``), https://pytorch.org/docs/stable/notes/multiprocessing.html;
Python, ``multiprocessing.set_forkserver_preload``.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

from salscope.errors import AnalysisError
from salscope.models.module import import_user_file, user_files

#: Start method of every pool salscope starts (see the module docstring).
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
#: Modules the fork server imports once (fork-safe at import: no thread pool of torch, no CUDA context).
PRELOAD = ("numpy", "scipy.ndimage", "scipy.optimize", "scipy.stats", "torch")

_JOB: Callable[[int], Any] | None = None
_INIT_ERROR: BaseException | None = None


def _init_worker(payload: str, files: dict[str, str], threads: int | None, environ: dict[str, str]) -> None:
    """Worker start: the caller's environment, user files, the job (pickled in file ``payload``), torch's threads.

    An error is kept and raised by each task (an initializer that raises leaves a pool that never works).
    """
    global _JOB, _INIT_ERROR
    try:
        os.environ.clear()
        os.environ.update(environ)
        for key, path in files.items():
            if key not in sys.modules:
                import_user_file(path, key)
        with open(payload, "rb") as fh:
            _JOB = pickle.load(fh)
        torch = sys.modules.get("torch")  # only when the job (a deep model) brought torch in
        if torch is not None and threads:
            torch.set_num_threads(threads)
    except BaseException as exc:  # noqa: BLE001 - an initializer that raises would make the pool useless
        _INIT_ERROR = exc


def _run(i: int) -> Any:
    if _INIT_ERROR is not None:
        raise AnalysisError(f"a worker process could not load the job ({type(_INIT_ERROR).__name__}: {_INIT_ERROR}); "
                            "models must be importable by a fresh Python process (defined in a module or a "
                            "script guarded by `if __name__ == \"__main__\"`), or use workers=1")
    assert _JOB is not None
    return _JOB(i)


def imap_ordered(job: Callable[[int], Any], n_items: int, workers: int, *, chunksize: int | None = None,
                 what: str = "job") -> Iterator[Any]:
    """``job(0), job(1), …, job(n_items - 1)`` computed in ``workers`` spawned processes, yielded in order.

    ``job`` must pickle (its class importable by name); ``what`` names it in
    errors. An exception raised by ``job`` in a worker is raised here, in order.
    ``chunksize`` (default about four chunks per worker, at most 8 items) is
    the number of indices sent to a worker at a time.
    """
    try:
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - pickling can fail in many ways; all mean the same to the user
        raise AnalysisError(f"workers={workers}: the {what} cannot be sent to worker processes "
                            f"({type(exc).__name__}: {exc}); use workers=1, or define the model in an importable "
                            "module") from exc
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    chunk = chunksize or max(1, min(8, n_items // (4 * workers)))
    fd, path = tempfile.mkstemp(prefix="salscope-job-", suffix=".pkl")
    with os.fdopen(fd, "wb") as fh:
        fh.write(payload)
    del payload
    ctx = multiprocessing.get_context(START_METHOD)
    if START_METHOD == "forkserver":
        ctx.set_forkserver_preload(list(PRELOAD))  # read when the server starts (the first pool of the process)
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(path, user_files(), threads, dict(os.environ)))

    def results() -> Iterator[Any]:
        try:
            yield from pool.map(_run, range(n_items), chunksize=chunk)
        except BrokenProcessPool as exc:
            raise AnalysisError(
                f"a worker process of the {what} died ({exc}): out of memory, or a script that starts workers "
                "without `if __name__ == \"__main__\":`? Use fewer workers, guard the script, or workers=1") from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            os.unlink(path)

    return results()
