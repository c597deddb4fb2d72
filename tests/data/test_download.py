"""Downloads against a threaded HTTP server on 127.0.0.1 serving real OSIE files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from salscope.data.fetch import OSIE_MANIFEST, REMOTE_DATASETS, RemoteDataset, fetch_dataset
from salscope.download import download_file, sha256_file
from salscope.errors import DownloadError


class _Handler(BaseHTTPRequestHandler):
    """Serves files under ``root`` with Range support; ``cut`` = {path: bytes} sends only a prefix."""

    root: Path
    cut: dict[str, int] = {}
    ranges = True
    log: list[tuple[str, str | None]] = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        rel = self.path.lstrip("/")
        # upstream layout: data/stimuli/X, data/eye/X, LICENSE
        rel = rel[len("data/"):] if rel.startswith("data/") else rel
        path = self.root / rel
        self.log.append((rel, self.headers.get("Range")))
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        start, status = 0, 200
        rng = self.headers.get("Range")
        if rng and self.ranges:
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if rel in self.cut:
            payload = payload[: self.cut.pop(rel)]
        self.wfile.write(payload)
        self.wfile.flush()
        if len(payload) < len(body) - start:
            self.close_connection = True


def _serve(handler):
    """Serve ``handler`` on 127.0.0.1 in a thread; yield (handler, base URL); stop it afterwards."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(data_root):
    yield from _serve(type("H", (_Handler,), {"root": data_root / "osie", "cut": {}, "ranges": True, "log": []}))


def _sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def test_download_ok_and_skip(server, data_root, tmp_path):
    handler, base = server
    src = data_root / "osie" / "eye" / "fixations.mat"
    dest = download_file(base + "data/eye/fixations.mat", tmp_path / "f.mat", _sha(src))
    assert dest.read_bytes() == src.read_bytes()
    assert not (tmp_path / "f.mat.part").exists()
    n = len(handler.log)
    download_file(base + "data/eye/fixations.mat", tmp_path / "f.mat", _sha(src))
    assert len(handler.log) == n  # verified file kept, nothing fetched


def test_cut_connection_then_resume(server, data_root, tmp_path):
    handler, base = server
    src = data_root / "osie" / "stimuli" / "1001.jpg"
    handler.cut["stimuli/1001.jpg"] = 10_000
    dest = tmp_path / "a.jpg"
    with pytest.raises(DownloadError, match="cut"):
        download_file(base + "data/stimuli/1001.jpg", dest, _sha(src))
    assert not dest.exists()
    assert (tmp_path / "a.jpg.part").stat().st_size == 10_000
    download_file(base + "data/stimuli/1001.jpg", dest, _sha(src))
    assert dest.read_bytes() == src.read_bytes()
    assert handler.log[-1] == ("stimuli/1001.jpg", "bytes=10000-")  # resumed with a Range request


def test_resume_when_server_ignores_range(server, data_root, tmp_path):
    handler, base = server
    handler.ranges = False
    src = data_root / "osie" / "stimuli" / "1002.jpg"
    (tmp_path / "b.jpg.part").write_bytes(b"garbage prefix")
    download_file(base + "data/stimuli/1002.jpg", tmp_path / "b.jpg", _sha(src))
    assert (tmp_path / "b.jpg").read_bytes() == src.read_bytes()


def test_bad_checksum_and_http_errors(server, tmp_path):
    handler, base = server
    dest = tmp_path / "c.jpg"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_file(base + "data/stimuli/1003.jpg", dest, "0" * 64)
    assert not dest.exists() and not (tmp_path / "c.jpg.part").exists()
    with pytest.raises(DownloadError, match="404"):
        download_file(base + "data/stimuli/nope.jpg", dest)
    with pytest.raises(DownloadError, match="cannot reach"):
        download_file("http://127.0.0.1:9/x", dest, timeout=2)


def test_stale_part_file_restarts(server, data_root, tmp_path):
    handler, base = server
    src = data_root / "osie" / "LICENSE"
    # a part file from some other content, as long as the resource: 416, bad hash, restart from 0
    (tmp_path / "L.part").write_bytes(b"x" * src.stat().st_size)
    download_file(base + "LICENSE", tmp_path / "L", _sha(src))
    assert (tmp_path / "L").read_bytes() == src.read_bytes()


def test_fetch_osie_full_then_load(server, data_root, tmp_path):
    handler, base = server
    from salscope.data.loaders import load_osie

    # one cut connection mid-way: no half data set, then resume completes it
    handler.cut["stimuli/1350.jpg"] = 5_000
    with pytest.raises(DownloadError):
        fetch_dataset("osie", tmp_path, base_url=base, progress=False)
    assert not (tmp_path / "osie").exists()
    assert (tmp_path / ".osie.partial" / "stimuli" / "1349.jpg").is_file()
    before = len(handler.log)
    out = fetch_dataset("osie", tmp_path, base_url=base, progress=False)
    fetched = [r for r, _ in handler.log[before:]]
    assert fetched[0] == "stimuli/1350.jpg" and len(fetched) == 702 - 351  # 350 stimuli + LICENSE + .mat done
    assert out == tmp_path / "osie" and not (tmp_path / ".osie.partial").exists()
    assert sha256_file(out / "eye" / "fixations.mat") == _sha(data_root / "osie" / "eye" / "fixations.mat")
    ds = load_osie(tmp_path)
    assert len(ds) == 700 and len(ds.fixations) == 98_321


def test_fetch_env_override_and_bad_manifest(server, tmp_path, monkeypatch):
    handler, base = server
    monkeypatch.setenv("SALSCOPE_TINY_URL", base)
    spec = RemoteDataset("tiny", "two files", "http://invalid.example/", lambda: {
        "LICENSE": _sha(handler.root / "LICENSE"), "stimuli/1001.jpg": "f" * 64})
    monkeypatch.setitem(REMOTE_DATASETS, "tiny", spec)
    with pytest.raises(DownloadError, match="checksum"):
        fetch_dataset("tiny", tmp_path, progress=False)
    assert not (tmp_path / "tiny").exists()
    assert (tmp_path / ".tiny.partial" / "LICENSE").is_file()  # the verified file stays for the next run
    with pytest.raises(Exception, match="no download known"):
        fetch_dataset("mit1003", tmp_path)


class _Endless(BaseHTTPRequestHandler):
    """A broken mirror: ``/endless`` streams 1 KiB blocks with no Content-Length (HTTP/1.0, ends at close);
    ``/huge`` announces 10**12 bytes. Stops by itself after ``bound`` bytes (or when the client hangs up)."""

    bound = 20 << 20
    sent: list[int] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        if self.path == "/huge":
            self.send_header("Content-Length", str(10**12))
        self.end_headers()
        n = 0
        try:
            while n < self.bound:
                self.wfile.write(b"x" * 1024)
                n += 1024
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.sent.append(n)


@pytest.fixture
def endless():
    yield from _serve(type("E", (_Endless,), {"sent": []}))


def test_endless_body_stops_at_the_expected_size(endless, tmp_path):
    handler, base = endless
    dest = tmp_path / "w.pth"
    with pytest.raises(DownloadError, match=r"the server sent more than 1024 bytes \(the expected size\)"):
        download_file(base + "endless", dest, size=1024, progress=False)
    assert not dest.exists() and not (tmp_path / "w.pth.part").exists()  # nothing left on disk
    # without a known size or Content-Length the hard cap applies
    with pytest.raises(DownloadError, match=r"sent more than 65536 bytes \(the download limit\)"):
        download_file(base + "endless", dest, max_bytes=65536, progress=False)
    assert not dest.exists() and not (tmp_path / "w.pth.part").exists()
    # an announced length above the cap is refused before any byte is stored
    with pytest.raises(DownloadError, match=r"announces 1000000000000 bytes, more than the limit of 65536"):
        download_file(base + "huge", dest, max_bytes=65536, progress=False)
    assert not dest.exists() and not (tmp_path / "w.pth.part").exists()


def test_default_cap_and_announced_size_mismatch(server, data_root, tmp_path, monkeypatch):
    handler, base = server
    src = data_root / "osie" / "LICENSE"
    n = src.stat().st_size
    # Content-Length differs from the size the table knows: refused, nothing stored
    with pytest.raises(DownloadError, match=rf"announces {n} bytes but the file is known to have {n - 1}"):
        download_file(base + "LICENSE", tmp_path / "L", size=n - 1, progress=False)
    assert not (tmp_path / "L").exists()
    import salscope.download as dl

    monkeypatch.setattr(dl, "MAX_BYTES", n - 1)  # the default hard cap also bounds Content-Length
    with pytest.raises(DownloadError, match=rf"announces {n} bytes, more than the limit of {n - 1}"):
        download_file(base + "LICENSE", tmp_path / "L", progress=False)
    monkeypatch.setattr(dl, "MAX_BYTES", n)
    assert download_file(base + "LICENSE", tmp_path / "L", _sha(src), progress=False).read_bytes() == src.read_bytes()


def test_osie_manifest_is_package_data_the_script_regenerates(data_root, tmp_path):
    """The shipped manifest is what scripts/osie_manifest.py makes from the data's checksums.sha256."""
    repo = Path(__file__).resolve().parents[2]
    shipped = json.loads((repo / "src" / "salscope" / "resources" / OSIE_MANIFEST).read_text())
    files = REMOTE_DATASETS["osie"].manifest()
    assert files == shipped["files"] and len(files) == 702
    assert list(files)[:3] == ["LICENSE", "eye/fixations.mat", "stimuli/1001.jpg"]
    assert files["eye/fixations.mat"] == _sha(data_root / "osie" / "eye" / "fixations.mat")
    files["LICENSE"] = "changed"  # a copy: the cached table stays as read
    assert REMOTE_DATASETS["osie"].manifest()["LICENSE"] == shipped["files"]["LICENSE"]
    out = tmp_path / "m.json"
    subprocess.run([sys.executable, str(repo / "scripts" / "osie_manifest.py"), str(data_root / "osie" / "checksums.sha256"),
                    "--upstream-commit", shipped["upstream_commit"], "--out", str(out)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(repo / "src")})
    assert json.loads(out.read_text()) == shipped
