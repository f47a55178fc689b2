"""Prune an output directory without breaking pages rendered by recent builds.

A rolling deploy serves old and new pages side by side, and browsers keep old pages open for hours, so
a file may go only when no build that might still be live references it. The rule, exactly:

- a build is kept if it is among the ``keep`` newest recorded builds, OR was recorded less than ``age``
  seconds ago, OR is the build the current manifest.json describes;
- a file under OUT is removed if no kept build and not the current manifest.json references it (a .br or
  .gz goes with its file, since the same builds reference both);
- records of builds not kept are removed;
- assetpipe temp files older than ``TEMP_MAX_AGE`` (a killed build's leftovers) are removed;
- OUT/.assetpipe/ and OUT/manifest.json are never touched; directories left empty are removed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assetpipe.builds import BuildRecord, build_id, is_output_dir, load_builds, remove_record
from assetpipe.errors import ConfigError, OutputError
from assetpipe.layout import STATE_DIR, walk_output
from assetpipe.lock import output_lock
from assetpipe.manifest import MANIFEST_NAME, Manifest

#: Temp files younger than this are left alone: the lock keeps builds out while clean runs, but a build
#: on another host (a shared volume where flock is advisory at best) could still be writing them.
TEMP_MAX_AGE = 15 * 60


@dataclass(frozen=True, slots=True)
class CleanReport:
    """What clean removed (or, with ``dry_run``, would remove); paths are relative to OUT, POSIX."""

    out_dir: Path
    dry_run: bool
    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    removed_builds: list[str] = field(default_factory=list)
    kept_builds: list[str] = field(default_factory=list)
    removed_dirs: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{verb} {self.out_dir / rel}" for rel in self.removed]
        out.extend(f"{verb} empty directory {self.out_dir / rel}" for rel in self.removed_dirs)
        out.extend(f"{verb} build record {bid}" for bid in self.removed_builds)
        n = len(self.removed)
        out.append(
            f"{verb} {n} file{'s' if n != 1 else ''} ({self.removed_bytes} bytes) and "
            f"{len(self.removed_builds)} build record(s); "
            f"kept {len(self.kept_builds)} build(s) in {self.out_dir}"
        )
        return out


def kept_builds(
    records: list[BuildRecord], *, keep: int, age: float, now: float, current: str | None
) -> list[BuildRecord]:
    """The retention rule: newest ``keep``, or younger than ``age`` seconds, or the current build."""
    return [
        r
        for i, r in enumerate(records)  # records are newest first
        if i < keep or now - r.created < age or r.id == current
    ]


def _current_manifest(out_dir: Path) -> Manifest | None:
    """The live manifest, or None before the first complete build; a corrupt one stops clean."""
    path = out_dir / MANIFEST_NAME
    if not path.exists():
        return None
    return Manifest.load(path)


def _is_stale(path: Path, now: float) -> bool:
    """A temp file old enough that no live build can still be writing it."""
    try:
        return now - path.lstat().st_mtime >= TEMP_MAX_AGE
    except OSError:
        return False  # gone already, or not ours to judge


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _unlink(out_dir: Path, rel: str) -> None:
    path = out_dir / rel
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot remove: {exc.strerror or exc}", path=str(path)) from exc


def _remove_empty_dirs(
    out_dir: Path, dirs: tuple[str, ...], dry_run: bool, gone: set[str]
) -> list[str]:
    """Directories (deepest first) that hold nothing once ``gone`` files are gone."""
    removed: list[str] = []
    removed_set: set[str] = set()
    for rel in sorted(dirs, key=lambda d: (-d.count("/"), d)):
        path = out_dir / rel
        try:
            entries = [e.name for e in os.scandir(path)]
        except OSError:
            continue
        left = [e for e in entries if f"{rel}/{e}" not in gone and f"{rel}/{e}" not in removed_set]
        if left:
            continue
        if not dry_run:
            try:
                path.rmdir()
            except OSError:
                continue  # something appeared meanwhile: leave it
        removed.append(rel)
        removed_set.add(rel)
    return sorted(removed)


def clean(
    out_dir: Path,
    *,
    keep: int = 3,
    age: float = 3600,
    dry_run: bool = False,
    wait: bool = True,
    now: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> CleanReport:
    """Remove what no kept build references (see the module docstring for the exact rule)."""
    if keep < 0 or age < 0:
        raise ConfigError(f"keep and age must not be negative (keep={keep}, age={age})")
    if not is_output_dir(out_dir):
        # Checked before taking the lock, so a mistyped --output never gets a .assetpipe/ created in it.
        raise OutputError(
            f"not an assetpipe output directory (no {STATE_DIR}/builds/ in it); refusing to remove anything",
            path=str(out_dir),
            hint="check --output; 'assetpipe build' creates the marker",
        )
    with output_lock(out_dir, wait=wait, on_wait=on_wait):
        if not is_output_dir(out_dir):
            raise OutputError("output directory changed while waiting for its lock", path=str(out_dir))
        when = time.time() if now is None else now
        manifest = _current_manifest(out_dir)
        current = build_id(manifest) if manifest is not None else None
        records = load_builds(out_dir)
        kept = kept_builds(records, keep=keep, age=age, now=when, current=current)
        kept_ids = {r.id for r in kept}

        protected: set[str] = set(manifest.output_files()) if manifest is not None else set()
        for record in kept:
            protected.update(record.files)

        tree = walk_output(out_dir)
        temps = [rel for rel in tree.temps if _is_stale(out_dir / rel, when)]
        doomed = sorted([rel for rel in tree.files if rel not in protected] + temps)
        removed_bytes = sum(_size(out_dir / rel) for rel in doomed)
        dropped = [r.id for r in records if r.id not in kept_ids]

        if not dry_run:
            # Files first, records last: if clean dies half-way, the records still list what is left.
            for rel in doomed:
                _unlink(out_dir, rel)
            for bid in dropped:
                remove_record(out_dir, bid)
        removed_dirs = _remove_empty_dirs(out_dir, tree.directories, dry_run, set(doomed))
        return CleanReport(
            out_dir=out_dir,
            dry_run=dry_run,
            removed=doomed,
            removed_bytes=removed_bytes,
            removed_builds=sorted(dropped),
            kept_builds=[r.id for r in kept],
            removed_dirs=removed_dirs,
        )
