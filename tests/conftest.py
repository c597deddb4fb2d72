"""Shared fixtures: where the real data is, and quiet progress bars."""

from __future__ import annotations

import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (a CI failure can be replayed) and have no
# per-example deadline (timings on a shared 2-core machine vary tenfold).
settings.register_profile("salscope", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "salscope"))

os.environ.setdefault("SALSCOPE_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

_DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root ($SALSCOPE_DATA, else ../shared/data); skips when absent."""
    root = Path(os.environ.get("SALSCOPE_DATA") or _DEFAULT_DATA)
    if not (root / "osie").is_dir():
        pytest.skip(f"real data not found at {root} (set SALSCOPE_DATA to the folder holding osie/)")
    return root


@pytest.fixture(scope="session")
def reference_root() -> Path:
    """../shared/reference (metric vectors, MATLAB classical maps); skips when absent."""
    root = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
    if not root.is_dir():
        pytest.skip(f"reference outputs not found at {root}")
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own SALSCOPE_CACHE and TORCH_HOME, so nothing leaks into (or is read from) ~/.cache."""
    monkeypatch.setenv("SALSCOPE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))


@pytest.fixture(scope="session")
def osie(data_root):
    """The OSIE data set (700 images, 98,321 fixations), loaded once per session."""
    from salscope.data.datasets import load_osie

    return load_osie(data_root)


@pytest.fixture(scope="session")
def osie_regions(data_root, osie):
    """The OSIE salient-region masks (150 images, 760 instances): dict image_id -> Regions."""
    from salscope.data.regions import load_voc_regions

    folder = data_root / "osie-regions"
    if not folder.is_dir():
        pytest.skip(f"region annotations not found at {folder}")
    return load_voc_regions(folder, osie.stimuli)


@pytest.fixture()
def www(tmp_path):
    """(root folder, base URL, request log) of a quiet logging file server."""
    root = tmp_path / "www"
    root.mkdir()
    log: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            log.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", log
    httpd.shutdown()
    httpd.server_close()
