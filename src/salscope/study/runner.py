"""Run a study's stages in order, each cached by a hash of its configuration.

Each stage writes into ``OUT/stages/<stage>-<key>/``, where ``key`` hashes the
config tables the stage reads plus the keys of the stages it reads from. A
stage is done when its ``stage.json`` (written atomically, last) says so; a
run finds done stages and skips them, and re-enters an unfinished stage in
its own folder (training resumes from its last checkpoint there). Two
configurations never share a folder, so results cannot mix. A lock file
refuses a second study writing into the same folder at once.

What salscope owns in ``OUT``: ``stages/``, ``.study.lock``, ``report/`` (only
the files its manifest lists, see :func:`salscope.report.html.write_report`)
and ``study-config.toml``, the run's resolved config. That file starts with a
line holding the sha256 of the rest: salscope replaces it only while it is
exactly what salscope wrote, and refuses (:class:`StudyError`) to write over
any other file of that name — a hand-written or edited config, e.g. one given
with ``--config``, is never rewritten. Nothing else in ``OUT`` is touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock, Timeout

from salscope import __version__
from salscope.errors import StudyError
from salscope.io import write_json, write_text
from salscope.study.config import StudyConfig, dump_toml

STAGE_FILE = "stage.json"
LOCK_FILE = ".study.lock"
RESOLVED_CONFIG = "study-config.toml"
_HEADER = re.compile(rb"# Written by salscope study \(sha256 ([0-9a-f]{64}) of the lines below\)[^\n]*\n")


@dataclass
class StageContext:
    """What a stage function gets: config, its own folder, upstream results."""

    config: StudyConfig
    folder: Path
    study_dir: Path
    data_dir: Path | None
    upstream: dict[str, dict[str, Any]]
    log: Callable[[str], None] = print


@dataclass
class Stage:
    """One step of the study: ``run(ctx) -> results`` (JSON-able dict)."""

    name: str
    sections: tuple[str, ...]
    run: Callable[[StageContext], dict[str, Any]]
    upstream: tuple[str, ...] = ()
    title: str = ""


@dataclass
class StageRecord:
    name: str
    key: str
    folder: Path
    status: str
    seconds: float
    results: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def study_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out_dir`` (``filelock``: an OS lock on ``.study.lock``); :class:`StudyError` if taken.

    The lock ends with the process that holds it, however it ends (the OS
    releases it), so a killed study never leaves a stale lock behind. The
    file holds the holder's pid and host, which the refusal names.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LOCK_FILE
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            holder = ""
        raise StudyError(
            f"study folder {out_dir} is in use by {holder or 'another process'}; wait for it to finish or choose "
            "another --out"
        ) from None
    try:
        with open(path, "w", encoding="utf-8") as fh:   # a second descriptor: the lock stays on filelock's
            fh.write(f"pid {os.getpid()} on {platform.node()}")
        yield
    finally:
        lock.release()


def resolved_config_text(config: StudyConfig) -> str:
    """What ``OUT/study-config.toml`` holds: a header with the sha256 of the body, then the body (every key)."""
    body = ("# The resolved configuration of the last study run in this folder; salscope rewrites this file on\n"
            "# every run. To change the study, copy it under another name, edit the copy and pass --config COPY.\n"
            + dump_toml(config))
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return f"# Written by salscope study (sha256 {digest} of the lines below)\n{body}"


def written_by_salscope(path: Path) -> bool:
    """True if ``path`` is a resolved config exactly as salscope wrote it (header hash matches the rest)."""
    data = path.read_bytes()
    match = _HEADER.match(data)
    return bool(match) and hashlib.sha256(data[match.end():]).hexdigest() == match.group(1).decode()


def write_resolved_config(out_dir: Path, config: StudyConfig) -> Path:
    """Write ``out_dir/study-config.toml`` unless a file there is not salscope's (then :class:`StudyError`)."""
    dest = Path(out_dir) / RESOLVED_CONFIG
    text = resolved_config_text(config)
    if dest.is_symlink() or dest.exists():
        if dest.is_file() and not dest.is_symlink() and dest.read_bytes() == text.encode("utf-8"):
            return dest          # the same config again: leave the file (and its time stamp) alone
        if dest.is_symlink() or not dest.is_file() or not written_by_salscope(dest):
            raise StudyError(
                f"{dest} was not written by salscope or was edited since, and salscope keeps each run's resolved "
                "config there; it never writes over a file it did not write. Move that file away (to run it, give "
                "the moved copy with --config) or choose another --out"
            )
    return write_text(dest, text)


def stage_key(config: StudyConfig, stage: Stage, upstream_keys: dict[str, str]) -> str:
    """Hash of the stage's config tables and its upstream stages' keys."""
    blob = json.dumps(
        {"sections": config.section_hash(*stage.sections) if stage.sections else "",
         "upstream": {name: upstream_keys[name] for name in stage.upstream},
         "stage": stage.name, "version": __version__},
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def read_stage(folder: Path) -> dict[str, Any] | None:
    """The stage record in ``folder`` if the stage finished there, else ``None``."""
    path = folder / STAGE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if record.get("status") == "done" else None


def run_stages(
    config: StudyConfig,
    stages: list[Stage],
    out_dir: Path,
    *,
    data_dir: Path | None = None,
    only: list[str] | None = None,
    force: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> list[StageRecord]:
    """Run ``stages`` in order into ``out_dir`` under a lock; return one record per stage."""
    out_dir = Path(out_dir)
    names = [s.name for s in stages]
    for requested in (only or []) + (force or []):
        if requested not in names:
            raise StudyError(f"unknown stage '{requested}'; valid stages: {', '.join(names)}")
    records: list[StageRecord] = []
    keys: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    with study_lock(out_dir):
        write_resolved_config(out_dir, config)
        for stage in stages:
            key = stage_key(config, stage, keys)
            keys[stage.name] = key
            folder = out_dir / "stages" / f"{stage.name}-{key}"
            done = read_stage(folder)
            if done is not None and stage.name not in (force or []):
                log(f"[{stage.name}] cached ({folder.name})")
                results[stage.name] = done["results"]
                records.append(StageRecord(stage.name, key, folder, "cached", done.get("seconds", 0.0), done["results"]))
                continue
            if only is not None and stage.name not in only:
                missing = [u for u in stage.upstream if u not in results]
                records.append(StageRecord(stage.name, key, folder, "skipped", 0.0))
                if missing:
                    log(f"[{stage.name}] skipped")
                continue
            missing = [u for u in stage.upstream if u not in results]
            if missing:
                raise StudyError(f"stage '{stage.name}' needs the results of {', '.join(missing)}; run them first")
            folder.mkdir(parents=True, exist_ok=True)
            log(f"[{stage.name}] running in {folder}")
            start = time.perf_counter()
            ctx = StageContext(config, folder, out_dir, data_dir, {u: results[u] for u in stage.upstream}, log)
            stage_results = stage.run(ctx)
            seconds = time.perf_counter() - start
            write_json(folder / STAGE_FILE, {"stage": stage.name, "key": key, "status": "done",
                                             "seconds": seconds, "results": stage_results})
            log(f"[{stage.name}] done in {seconds:.1f} s")
            results[stage.name] = stage_results
            records.append(StageRecord(stage.name, key, folder, "ran", seconds, stage_results))
    return records
