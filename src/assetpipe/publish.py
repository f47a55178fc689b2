"""Publish a build: unhashed files swapped in with their siblings in one short burst, then the manifest.

Hashed outputs are new names, harmless until a manifest names them, so they are written as they are
emitted. An unhashed file is replaced under the URL clients already use, so it is staged whole first (the
file and every sibling, in OUT/.assetpipe/staging) and swapped in just before the manifest, in an order
that keeps every moment consistent: the live siblings go first (every client then gets the old file
itself), the new file replaces the old one (every client gets the new bytes), then the new siblings
arrive. Whenever the build stops, by an error or SIGKILL, each served encoding of the file decodes to the
same bytes, and on a failure before the burst the previous set stays whole.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from assetpipe.builds import record_build
from assetpipe.errors import OutputError
from assetpipe.files import Flush, ensure_directory, make_durable, write_atomic
from assetpipe.layout import STATE_DIR
from assetpipe.manifest import ENCODING_SUFFIXES, MANIFEST_NAME, Encoding, Manifest
from assetpipe.state import Stat, stat_of

STAGING_DIR = "staging"


class Staging:
    """Unhashed files and their siblings, staged under OUT/.assetpipe/staging until the burst."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.root = out / STATE_DIR / STAGING_DIR
        self.discard()  # what a killed build left: never half of anything, since nothing names it

    def path(self, logical: str) -> Path:
        return self.root / logical

    def stage(self, logical: str, data: bytes) -> os.stat_result:
        """Stage ``data`` as the next OUT/logical; its stat, which the swap's rename keeps."""
        return write_atomic(self.path(logical), data, fsync=False)

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def swap(self, logical: str, encodings: Mapping[str, Encoding]) -> None:
        """Replace OUT/logical and its siblings with the staged set (the order: module docstring)."""
        live = self.out / logical
        staged = self.path(logical)
        for suffix in ENCODING_SUFFIXES.values():
            _unlink(Path(str(live) + suffix))
        _rename(staged, live)
        for name in sorted(encodings):
            suffix = ENCODING_SUFFIXES[name]
            _rename(Path(str(staged) + suffix), Path(str(live) + suffix))


def _rename(source: Path, target: Path) -> None:
    try:
        ensure_directory(target.parent)
        os.replace(source, target)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path=str(target)) from None


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot remove stale sibling: {exc.strerror or exc}", path=str(path)) from None


def publish(
    out: Path,
    manifest: Manifest,
    *,
    fresh: Iterable[str | Path],
    staging: Staging,
    staged: Mapping[str, Mapping[str, Encoding]],
    flushed: Flush | None = None,
) -> tuple[bool, str]:
    """Make ``manifest`` live: fresh files durable, build recorded, unhashed sets swapped, manifest last.

    ``fresh`` are the files this build wrote into OUT; ``staged`` maps each staged unhashed file to its
    new siblings; ``flushed`` a :class:`~assetpipe.files.Flush` started once all of them were written.
    Returns whether manifest.json changed, and the build's id.
    """
    data = manifest.encoded()
    manifest_file = out / MANIFEST_NAME
    digest = manifest.digest()
    changed = _differs(manifest_file, digest, data)
    staged_files: list[str | Path] = [staging.path(name) for name in staged]
    staged_files += [
        Path(str(staging.path(n)) + ENCODING_SUFFIXES[e]) for n, encs in staged.items() for e in encs
    ]
    # Every file the manifest names, and every staged file, reaches the disk before anything names it.
    make_durable([*fresh, *staged_files], flushed=flushed)
    # Recorded before it goes live: a record of a build that never landed is harmless, while a live build
    # without a record could have its files pruned by clean.
    build_id = record_build(out, manifest)
    for logical in sorted(staged):
        staging.swap(logical, staged[logical])
    if changed:
        manifest.write(out, data)
    written = stat_of(manifest_file)
    if written is not None:
        _WRITTEN[manifest_file] = (written, digest)
    staging.discard()
    return changed, build_id


#: manifest.json -> its stat and the digest of its text, as the last publish in this process left it.
_WRITTEN: dict[Path, tuple[Stat, str]] = {}


def _differs(manifest_file: Path, digest: str, data: bytes) -> bool:
    """Whether ``manifest_file`` holds other bytes than ``data`` (a manifest's text, ``digest`` its
    :meth:`Manifest.digest`).

    Known without reading it while it has the stat the last publish here left it with (watch publishes
    twice a save, and reading a 2,000-file manifest back each time to compare was most of the cost); any
    rewrite since, in place or by rename, changes that stat, and then it is read.
    """
    known = _WRITTEN.get(manifest_file)
    if known is not None and stat_of(manifest_file) == known[0]:
        return known[1] != digest
    try:
        return manifest_file.read_bytes() != data
    except OSError:
        return True
