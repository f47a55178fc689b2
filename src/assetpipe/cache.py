"""A content-addressed store of compressor output, so a rebuild compresses only bytes it has not seen.

An entry's key is sha256 over the input's digest, the compressor's name and its exact settings
(:func:`key`), so the same bytes compressed the same way are found again whatever their file name, build
or machine; changing a setting (or the rule that picks one) simply misses. Each entry is one file
``<root>/<key[:2]>/<key>`` holding a header line ``assetpipe-cache 1 <sha256 of payload> <payload size>\\n``
and the payload. A read recomputes the payload's digest: an entry that was truncated, corrupted or
half-restored from a CI cache is a miss (and is removed), never copied into OUT. Writes are atomic
(temp file + rename), so a crash or two concurrent builds leave whole entries or none.

The directory holds nothing but entries, so it is safe to save and restore whole (GitHub Actions'
cache action) and safe to delete at any time. It is bounded by :func:`prune`: entries are removed
oldest-used first (a hit refreshes the entry's mtime) until the total is under a byte budget.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assetpipe.errors import OutputError
from assetpipe.files import TEMP_PREFIX, is_temp, write_atomic

FORMAT = b"assetpipe-cache 1"
#: Default budget for prune(): about 20x the compressed output of a large site, small for a CI cache.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
#: A temp file older than this was left by a crashed writer and may be removed by prune().
STALE_TEMP_SECONDS = 3600


def key(input_digest: bytes, compressor: str, settings: str) -> str:
    """Entry name for sha256 ``input_digest`` compressed by ``compressor`` with ``settings``."""
    h = hashlib.sha256()
    # Length-prefixed fields: no two (compressor, settings) pairs can spell the same byte string.
    for part in (input_digest, compressor.encode(), settings.encode()):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What prune() found and removed."""

    entries: int
    bytes_before: int
    removed: int
    bytes_removed: int


class Cache:
    """Entries under one directory (created on first write). Safe to share between threads and processes."""

    __slots__ = ("root",)

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, entry_key: str) -> Path:
        return self.root / entry_key[:2] / entry_key

    def get(self, entry_key: str) -> bytes | None:
        """The stored payload, or None when missing or failing its digest check (the bad entry is removed)."""
        path = self._path(entry_key)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        payload = _decode(raw)
        if payload is None:
            path.unlink(missing_ok=True)
            return None
        try:
            # Mark as used for prune(); an unwritable (restored read-only) cache still serves hits.
            os.utime(path)
        except OSError:
            pass
        return payload

    def put(self, entry_key: str, payload: bytes) -> None:
        """Store ``payload`` atomically; a cache that cannot be written is skipped, never an error."""
        header = b"%s %s %d\n" % (FORMAT, hashlib.sha256(payload).hexdigest().encode(), len(payload))
        try:
            # No fsync: a torn entry after a power cut fails its digest check and is recomputed.
            write_atomic(self._path(entry_key), header + payload, fsync=False)
        except (OSError, OutputError):
            pass  # read-only or full disk: the cache is an optimisation, the build goes on without it

    def entries(self) -> Iterator[tuple[Path, os.stat_result]]:
        """Every entry file with its stat (temp files excluded)."""
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if not shard.is_dir() or len(shard.name) != 2:
                continue
            for path in sorted(shard.iterdir()):
                if is_temp(path.name):
                    continue
                try:
                    yield path, path.stat()
                except OSError:
                    continue

    def prune(self, max_bytes: int = DEFAULT_MAX_BYTES) -> PruneReport:
        """Remove least recently used entries until the total size is at most ``max_bytes``.

        Also removes temp files left by crashed writers (older than an hour). Running it while a build
        writes is safe: a removed entry is only a future miss.
        """
        found = list(self.entries())
        total = sum(st.st_size for _, st in found)
        removed = 0
        bytes_removed = 0
        for path, st in sorted(found, key=lambda item: (item[1].st_mtime_ns, item[0].name)):
            if total - bytes_removed <= max_bytes:
                break
            path.unlink(missing_ok=True)
            removed += 1
            bytes_removed += st.st_size
        self._remove_stale_temps()
        return PruneReport(
            entries=len(found), bytes_before=total, removed=removed, bytes_removed=bytes_removed
        )

    def _remove_stale_temps(self) -> None:
        if not self.root.is_dir():
            return
        cutoff = time.time() - STALE_TEMP_SECONDS
        for tmp in self.root.glob(f"*/{TEMP_PREFIX}*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                continue


def _decode(raw: bytes) -> bytes | None:
    """The payload of a raw entry if its header is ours and its digest and size match, else None."""
    newline = raw.find(b"\n", 0, 128)
    if newline < 0:
        return None
    parts = raw[:newline].split(b" ")
    if len(parts) != 4 or b" ".join(parts[:2]) != FORMAT:
        return None
    payload = raw[newline + 1 :]
    try:
        size = int(parts[3])
    except ValueError:
        return None
    if size != len(payload) or hashlib.sha256(payload).hexdigest().encode() != parts[2]:
        return None
    return payload
