"""What the last build saw, so an unchanged file is neither re-read nor re-hashed.

The rule: a file is taken as unchanged when its (size, mtime_ns, inode) equal the recorded ones AND its
mtime is at least ``RACY_NS`` older than the moment the record was made. The second condition is git's
"racy clean" rule: a file written in the same clock tick as the record could change again without its
mtime moving, so such a file is read again (once; the next record is no longer racy). Everything else
falls back to reading: a different size, mtime or inode (an editor's save-by-rename changes the inode),
a record made with other settings, or a missing or unreadable record.

The record lives in the cache directory, not in OUT, so OUT stays byte-identical across machines.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assetpipe.asset import Asset, Kind, Reference
from assetpipe.files import write_atomic
from assetpipe.manifest import ManifestEntry
from assetpipe.sources import ScanMemo

STATE_VERSION = 1
RACY_NS = 2_000_000_000  # 2 s: covers coarse filesystem timestamps (FAT: 2 s, ext3: 1 s)


@dataclass(slots=True)
class FileRecord:
    """What one source file looked like and what it produced."""

    size: int
    mtime_ns: int
    inode: int
    references: tuple[Reference, ...] | None = None  # text assets only
    deps_key: str = ""  # digest of the output paths of everything it references
    output: dict[str, Any] | None = None  # path, hash, integrity, size
    entry: ManifestEntry | None = None  # in memory only: the entry it gave, reused as is while unchanged


@dataclass(slots=True)
class BuildState:
    """The per-file records of the last successful build with one set of output-affecting settings."""

    settings: str
    recorded_ns: int = 0
    files: dict[str, FileRecord] = field(default_factory=dict)
    encodings: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical -> {for, encodings}
    compress_settings: str = ""
    scan_memo: ScanMemo | None = None  # in memory only: directory listings, for watch's rebuilds

    def unchanged(self, asset: Asset) -> FileRecord | None:
        """The record for ``asset`` if it may be trusted without reading the file (see module doc)."""
        rec = self.files.get(asset.logical_path)
        if rec is None:
            return None
        if (rec.size, rec.mtime_ns, rec.inode) != (asset.size, asset.mtime_ns, asset.inode):
            return None
        if asset.mtime_ns >= self.recorded_ns - RACY_NS:
            return None
        return rec


def settings_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def state_path(cache_dir: Path, output: Path) -> Path:
    """One record per OUT, in the cache directory."""
    key = hashlib.sha256(str(output.resolve()).encode()).hexdigest()[:16]
    return cache_dir / "state" / f"{key}.json"


def _ref_to_json(r: Reference) -> list[Any]:
    return [r.url, r.start, r.end, r.line, r.column, r.kind.value]


def _ref_from_json(d: list[Any]) -> Reference:
    return Reference(str(d[0]), int(d[1]), int(d[2]), int(d[3]), int(d[4]), Kind(d[5]))


def load_state(path: Path, settings: str) -> BuildState:
    """The recorded state, or an empty one when it is missing, unreadable or made with other settings."""
    empty = BuildState(settings=settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION or data.get("settings") != settings:
            return empty
        files = {
            name: FileRecord(
                size=rec["size"],
                mtime_ns=rec["mtime_ns"],
                inode=rec["inode"],
                references=None
                if rec.get("references") is None
                else tuple(_ref_from_json(r) for r in rec["references"]),
                deps_key=rec.get("deps_key", ""),
                output=rec.get("output"),
            )
            for name, rec in data["files"].items()
        }
        return BuildState(
            settings=settings,
            recorded_ns=int(data["recorded_ns"]),
            files=files,
            encodings=data.get("encodings", {}),
            compress_settings=data.get("compress_settings", ""),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return empty


def save_state(path: Path, state: BuildState) -> None:
    """Best effort: a state that cannot be saved only costs the next build a full read."""
    data = {
        "version": STATE_VERSION,
        "settings": state.settings,
        "recorded_ns": state.recorded_ns,
        "compress_settings": state.compress_settings,
        "encodings": state.encodings,
        "files": {
            name: {
                "size": rec.size,
                "mtime_ns": rec.mtime_ns,
                "inode": rec.inode,
                "references": None if rec.references is None else [_ref_to_json(r) for r in rec.references],
                "deps_key": rec.deps_key,
                "output": rec.output,
            }
            for name, rec in state.files.items()
        },
    }
    try:
        write_atomic(path, json.dumps(data, separators=(",", ":")).encode(), fsync=False)
    except Exception:
        pass


def now_ns() -> int:
    return time.time_ns()
