"""Build records: which files each build referenced, and when it became current.

``clean`` keeps the files of recent builds so that pages rendered by an old build (open in browsers, or
served by an instance not yet redeployed) still find their assets. manifest.json holds only the current
build and no time at all (it must be byte-identical for the same sources), so the history lives here:
one small JSON file per build under OUT/.assetpipe/builds/. That directory is also the marker that tells
``clean`` a directory is assetpipe output and safe to prune.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from assetpipe.errors import ManifestError, OutputError
from assetpipe.files import fsync_directory, is_temp, write_atomic
from assetpipe.layout import STATE_DIR
from assetpipe.manifest import Manifest

BUILDS_DIR = "builds"
RECORD_SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """One build: its id (a digest of its manifest), when it was recorded, the OUT paths it references."""

    id: str
    created: float
    files: frozenset[str]

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "created": self.created, "files": sorted(self.files)}


def builds_dir(out_dir: Path) -> Path:
    """OUT/.assetpipe/builds: the build records, and by its existence the assetpipe marker."""
    return out_dir / STATE_DIR / BUILDS_DIR


def is_output_dir(out_dir: Path) -> bool:
    """True when ``out_dir`` carries the marker that some build recorded itself there."""
    return builds_dir(out_dir).is_dir()


def build_id(manifest: Manifest, text: str | None = None) -> str:
    """The id of the build ``manifest`` describes: a digest of its text (:meth:`Manifest.digest`), so the
    same manifest always gives the same id and any change to it another.

    ``text`` (the manifest's text, which callers used to pass) is no longer needed: the digest is made
    from the lines :meth:`Manifest.dumps` keeps, one line per changed entry rather than the whole file.
    """
    return manifest.digest()[:16]


def record_build(out_dir: Path, manifest: Manifest, *, now: float | None = None) -> str:
    """Record ``manifest`` as a build made ``now``; recording the same build again refreshes its time.

    Refreshing matters for the age rule: rebuilding an older state makes it current again, so its files
    must count as recent from this moment on.
    """
    bid = build_id(manifest)
    created = time.time() if now is None else now
    directory = builds_dir(out_dir)
    # Compact: only assetpipe reads it, and the indenting encoder (pure Python) cost 4 ms per 6,000 files,
    # on every watch rebuild. The names come sorted from the manifest, which keeps them up to date from
    # one rebuild to the next (sorting them afresh, twice a save, was a watch rebuild's largest cost).
    # BuildRecord.to_json's, as json.dumps(sort_keys=True, separators=(",", ":")) writes it.
    files = manifest.output_names_json()
    data = f'{{"created":{json.dumps(created)},"files":{files},"id":{json.dumps(bid)}}}\n'
    write_atomic(directory / (bid + RECORD_SUFFIX), data.encode("utf-8"))
    fsync_directory(directory)
    return bid


def _parse_record(path: Path) -> BuildRecord:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = BuildRecord(
            id=str(data["id"]),
            created=float(data["created"]),
            files=frozenset(str(f) for f in data["files"]),
        )
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        # Refuse rather than skip: clean cannot know which files an unreadable record protects.
        raise ManifestError(
            f"unreadable build record: {exc}", path=str(path), hint="delete it if that build is gone"
        ) from None
    if record.id + RECORD_SUFFIX != path.name:
        raise ManifestError(f"build record names build {record.id!r}, not its file name", path=str(path))
    return record


def load_builds(out_dir: Path) -> list[BuildRecord]:
    """Every recorded build, newest first (ties broken by id, so the order is stable)."""
    directory = builds_dir(out_dir)
    try:
        paths = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise OutputError(f"cannot list build records: {exc.strerror or exc}", path=str(directory)) from exc
    records: list[BuildRecord] = []
    for path in paths:
        if is_temp(path.name) or path.suffix != RECORD_SUFFIX or not path.is_file():
            continue
        try:
            records.append(_parse_record(path))
        except FileNotFoundError:
            continue  # removed by a concurrent clean between listing and reading
    records.sort(key=lambda r: (-r.created, r.id))
    return records


def remove_record(out_dir: Path, record_id: str) -> None:
    """Forget a build (its files stay until clean decides on them)."""
    path = builds_dir(out_dir) / (record_id + RECORD_SUFFIX)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot remove: {exc.strerror or exc}", path=str(path)) from exc
