"""The record of the last build: what each source looked like and exactly what it left in OUT.

A source is taken as unchanged when its (size, mtime_ns, inode) equal the recorded ones AND its mtime is
at least ``RACY_NS`` older than the moment the record was made. The second condition is git's "racy clean"
rule: a file written in the same clock tick as the record could change again without its mtime moving, so
such a file is read again (once; the next record is no longer racy). Everything else falls back to
reading: a different size, mtime or inode (an editor's save-by-rename changes the inode), a record made
with other settings, or a missing or unreadable record.

Each output and sibling is recorded with the stat it had when the build wrote (or checked) it, so a later
build can tell whether OUT still holds exactly those bytes (:mod:`assetpipe.reuse` decides).

The record lives in the cache directory, not in OUT, so OUT stays byte-identical across machines.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from assetpipe.asset import Asset, Kind, Reference
from assetpipe.files import write_atomic
from assetpipe.manifest import Encoding, ManifestEntry
from assetpipe.paths import resolve_path
from assetpipe.sources import ScanMemo

STATE_VERSION = 3  # 3: each text source's digest
RACY_NS = 2_000_000_000  # 2 s: covers coarse filesystem timestamps (FAT: 2 s, ext3: 1 s)


class Stat(NamedTuple):
    """What a file on disk looked like: enough to notice any rewrite, in place or by rename.

    A NamedTuple rather than a frozen dataclass: a no-op build of 2,530 files makes and compares about
    7,500 of them, and a frozen dataclass's __init__ and __eq__ made that 3x slower (measured).
    """

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


def stat_of(path: str | os.PathLike[str]) -> Stat | None:
    """The file's Stat, or None when it is not there (or cannot be looked at)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return Stat(st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(frozen=True, slots=True)
class SiblingRecord:
    """One precompressed sibling the build left in OUT."""

    encoding: str
    path: str  # OUT-relative POSIX path
    stat: Stat
    listed: bool = True  # named by the manifest; False: found right but not worth listing (see reuse)

    @property
    def manifest_encoding(self) -> Encoding:
        return Encoding(path=self.path, size=self.stat.size)


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """One output file the build left in OUT, and its siblings.

    ``siblings`` is None when no build with the recorded compression settings has vouched for them (an
    uncompressed build, or one whose compression was deferred), and () when it made none.
    """

    path: str
    hash: str
    integrity: str
    stat: Stat
    siblings: tuple[SiblingRecord, ...] | None = None


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One source file: what it looked like, its references, and what it produced."""

    source: Stat
    references: tuple[Reference, ...] | None  # text assets only
    deps_key: str  # its dependencies' output paths, which its output bytes depend on
    output: OutputRecord
    # sha256 of the bytes ``references`` were found in (text assets): a build that takes the references
    # from this record proves the file it emits is those bytes by a hash instead of a second scan.
    digest: bytes | None = None
    entry: ManifestEntry | None = field(default=None, compare=False)  # in memory only: the entry it gave


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings a record depends on, each as one key (computed here and nowhere else)."""

    output: str  # everything that shapes outputs' bytes and names
    compression: str  # everything that decides which siblings exist and their bytes


@dataclass(slots=True)
class BuildState:
    """The records of the last successful build with one set of output-shaping settings."""

    settings: str
    recorded_ns: int = 0
    files: dict[str, FileRecord] = field(default_factory=dict)
    compression: str = ""  # the compression settings the sibling records were made with
    manifest: Stat | None = None  # manifest.json as this build left it
    scan_memo: ScanMemo | None = None  # in memory only: directory listings, for watch's rebuilds
    emitted: object = None  # in memory only: what the build emitted (pipeline), for the next build

    def unchanged(self, asset: Asset) -> FileRecord | None:
        """The record for ``asset`` if it may be trusted without reading the file (see module doc)."""
        rec = self.files.get(asset.logical_path)
        if rec is None:
            return None
        if rec.source != Stat(asset.size, asset.mtime_ns, asset.inode):
            return None
        if asset.mtime_ns >= self.recorded_ns - RACY_NS:
            return None
        return rec

    def for_settings(self, settings: Settings) -> BuildState:
        """This state if made with ``settings``; without sibling records if only compression differs."""
        if self.settings != settings.output:
            return BuildState(settings=settings.output, compression=settings.compression)
        if self.compression == settings.compression:
            return self
        files = {
            name: replace(rec, output=replace(rec.output, siblings=None)) for name, rec in self.files.items()
        }
        return BuildState(self.settings, self.recorded_ns, files, settings.compression, None, self.scan_memo)


def settings_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def state_path(cache_dir: Path, output: Path) -> Path:
    """One record per OUT, in the cache directory."""
    key = hashlib.sha256(str(resolve_path(output, "output directory")).encode()).hexdigest()[:16]
    return cache_dir / "state" / f"{key}.json"


# -- on disk: compact JSON arrays, read back into the records above ---------------------------------------


def _stat_to_json(s: Stat) -> list[int]:
    return [s.size, s.mtime_ns, s.inode]


def _stat_from_json(d: list[Any]) -> Stat:
    return Stat(int(d[0]), int(d[1]), int(d[2]))


def _ref_to_json(r: Reference) -> list[Any]:
    return [r.url, r.start, r.end, r.line, r.column, r.kind.value]


def _ref_from_json(d: list[Any]) -> Reference:
    return Reference(str(d[0]), int(d[1]), int(d[2]), int(d[3]), int(d[4]), Kind(d[5]))


def _output_to_json(o: OutputRecord) -> dict[str, Any]:
    siblings = None if o.siblings is None else [
        [s.encoding, s.path, _stat_to_json(s.stat), s.listed] for s in o.siblings
    ]
    return {"path": o.path, "hash": o.hash, "integrity": o.integrity, "stat": _stat_to_json(o.stat),
            "siblings": siblings}  # fmt: skip


def _output_from_json(d: dict[str, Any]) -> OutputRecord:
    raw = d["siblings"]
    siblings = None if raw is None else tuple(
        SiblingRecord(str(e), str(p), _stat_from_json(s), bool(listed)) for e, p, s, listed in raw
    )
    stat = _stat_from_json(d["stat"])
    return OutputRecord(str(d["path"]), str(d["hash"]), str(d["integrity"]), stat, siblings)


def _file_from_json(d: dict[str, Any]) -> FileRecord:
    refs = d["references"]
    return FileRecord(
        source=_stat_from_json(d["source"]),
        references=None if refs is None else tuple(_ref_from_json(r) for r in refs),
        deps_key=str(d["deps_key"]),
        output=_output_from_json(d["output"]),
        digest=None if d["digest"] is None else bytes.fromhex(d["digest"]),
    )


def load_state(path: Path, settings: Settings) -> BuildState:
    """The recorded state, or an empty one when it is missing, unreadable or made with other settings."""
    empty = BuildState(settings=settings.output, compression=settings.compression)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != STATE_VERSION or data.get("settings") != settings.output:
            return empty
        files = {name: _file_from_json(rec) for name, rec in data["files"].items()}
        manifest = None if data["manifest"] is None else _stat_from_json(data["manifest"])
        recorded_ns, compression = int(data["recorded_ns"]), str(data["compression"])
        state = BuildState(settings.output, recorded_ns, files, compression, manifest)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        return empty
    return state.for_settings(settings)


def save_state(path: Path, state: BuildState) -> None:
    """Best effort: a state that cannot be saved only costs the next build a full read."""
    data = {
        "version": STATE_VERSION,
        "settings": state.settings,
        "recorded_ns": state.recorded_ns,
        "compression": state.compression,
        "manifest": None if state.manifest is None else _stat_to_json(state.manifest),
        "files": {
            name: {
                "source": _stat_to_json(rec.source),
                "references": None if rec.references is None else [_ref_to_json(r) for r in rec.references],
                "deps_key": rec.deps_key,
                "output": _output_to_json(rec.output),
                "digest": None if rec.digest is None else rec.digest.hex(),
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
