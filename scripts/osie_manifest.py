"""Regenerate src/salscope/resources/osie_sha256.json: the files `salscope data fetch osie` downloads and checks.

Usage (from the repository root):

    python scripts/osie_manifest.py [CHECKSUMS] [--upstream-commit SHA] [--out FILE]

CHECKSUMS is OSIE's ``checksums.sha256`` (``sha256sum`` format; default
``$SALSCOPE_DATA/osie/checksums.sha256``). The manifest keeps the files the loader
reads — ``LICENSE``, ``eye/fixations.mat`` and ``stimuli/*.jpg`` — sorted by path;
anything else listed (the data folder's own README.md) is left out. The upstream
commit the files are fetched from is recorded beside them (default: the one the
current manifest records).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from salscope.io import write_json

OUT = Path(__file__).resolve().parents[1] / "src" / "salscope" / "resources" / "osie_sha256.json"


def read_checksums(path: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of the files the OSIE loader reads, from a ``sha256sum`` listing."""
    out = {}
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, rel = line.partition(" ")
        rel = rel.strip().lstrip("*")  # sha256sum marks binary mode with '*'
        if len(digest) != 64 or not rel:
            sys.exit(f"{path} line {k}: expected '<64 hex digits>  <path>', got {line!r}")
        if rel in ("LICENSE", "eye/fixations.mat") or (rel.startswith("stimuli/") and rel.endswith(".jpg")):
            out[rel] = digest.lower()
    return dict(sorted(out.items()))


def main() -> None:
    default = Path(os.environ.get("SALSCOPE_DATA", "data")) / "osie" / "checksums.sha256"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checksums", type=Path, nargs="?", default=default, help=f"sha256sum listing (default {default})")
    parser.add_argument("--upstream-commit", help="commit of NUS-VIP/predicting-human-gaze-beyond-pixels the files match")
    parser.add_argument("--out", type=Path, default=OUT, help=f"manifest to write (default {OUT})")
    args = parser.parse_args()
    if not args.checksums.is_file():
        sys.exit(f"{args.checksums} does not exist; pass OSIE's checksums.sha256")
    commit = args.upstream_commit
    if commit is None and args.out.is_file():
        commit = json.loads(args.out.read_text(encoding="utf-8")).get("upstream_commit")
    if not commit:
        sys.exit("--upstream-commit: name the upstream commit the checksums describe")
    files = read_checksums(args.checksums)
    dest = write_json(args.out, {
        "about": "sha256 of the OSIE files that `salscope data fetch osie` downloads: local path -> sha256",
        "regenerate": "python scripts/osie_manifest.py PATH/osie/checksums.sha256",
        "upstream": "https://github.com/NUS-VIP/predicting-human-gaze-beyond-pixels",
        "upstream_commit": commit,
        "files": files,
    })
    print(f"wrote {dest}: {len(files)} files")


if __name__ == "__main__":
    main()
