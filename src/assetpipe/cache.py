"""A content-addressed store of compressor output, so a rebuild compresses only bytes it has not seen.

An entry's key is sha256 over the input's digest, the compressor's name and its exact settings
(:func:`key`), so the same bytes compressed the same way are found again whatever their file name, build
or machine; changing a setting (or the rule that picks one) simply misses. Each entry is one file
``<root>/<key[:2]>/<key>`` holding a header line ``assetpipe-cache 1 <sha256 of payload> <payload size>\\n``
and the payload. A read recomputes the payload's digest: an entry that was truncated, corrupted or
half-restored from a CI cache is a miss (and is removed), never copied into OUT. Writes are atomic
(temp file + rename), so a crash or two concurrent builds leave whole entries or none.

Small payloads (the siblings of icons and other small files, most of a site's entries) are staged in
memory and written together (at the end of a build, and every :data:`PACK_FLUSH_BYTES` on the way) as a
pack ``<root>/packs/<name>.pack``: a header line
and then, per entry, ``<key> <sha256 of payload> <size>\n`` and the payload. Creating a file costs a
filesystem far more than writing its few hundred bytes (0.1-0.5 ms each on the benchmark machine, where a
cold build made 5,000 entries), so one file instead of thousands. Pack records are digest-checked on read
like entries; a pack is written atomically, and more than :data:`MAX_PACKS` of them are merged into one.

The directory holds nothing but entries and packs, so it is safe to save and restore whole (GitHub
Actions' cache action) and safe to delete at any time. It is bounded by :func:`prune`: entries and whole
packs are removed oldest-used first (a hit refreshes the mtime of its entry or pack) until the total is
under a byte budget.

A digest only proves that an entry is whole, not that it is the compression of the input its key names
(an older version's bug, a CI cache restored from another branch). So the reader checks that too
(:mod:`assetpipe.compress` decodes every hit) and calls :meth:`Cache.discard` on an entry that fails: the
loose file is removed, and a pack is rewritten without the record at the next flush.
"""

from __future__ import annotations

import hashlib
import os
import threading
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
PACK_FORMAT = b"assetpipe-pack 1\n"
PACK_DIR = "packs"
PACK_SUFFIX = ".pack"
#: Payloads up to this size may be staged for a pack (see the module docstring).
PACK_MAX_PAYLOAD = 16 * 1024
#: Staged payloads past this many bytes are written as a pack at once, so they never hold much memory.
PACK_FLUSH_BYTES = 4 * 1024 * 1024
#: Packs up to this many bytes in all stay in memory once read for their index (see Cache._held).
HOLD_PACK_BYTES = 64 * 1024 * 1024
_Index = dict[str, tuple[Path, int, int, bytes]]  # entry key -> (pack, payload offset, size, sha256 hex)
# pack -> (its stat when read, its records, its bytes if small enough to hold): see Cache._load_index.
_PackStat = tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns (see _stat_key)
_Read = tuple[_PackStat | None, tuple[tuple[str, int, int, bytes], ...], bytes | None]
_READ_PACKS: dict[Path, _Read] = {}
# root -> (its packs with their stats, the index and held bytes made from them): the last _load_index.
_LAST_INDEX: dict[Path, tuple[list[tuple[Path, _PackStat | None]], _Index, dict[Path, bytes]]] = {}
#: More packs than this (one per build that compressed something small) are merged into one.
MAX_PACKS = 16


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

    __slots__ = ("_discarded", "_held", "_index", "_lock", "_staged", "_staged_bytes", "_used_packs", "root")

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._staged: dict[str, bytes] = {}  # small payloads waiting for flush()
        self._staged_bytes = 0
        # key -> (pack, payload offset, size, sha256 hex): where each packed entry is, loaded lazily
        self._index: dict[str, tuple[Path, int, int, bytes]] | None = None
        # The packs' bytes as read to index them, kept (up to HOLD_PACK_BYTES) so a hit is a slice, not an
        # open, a seek and a read: a build into an empty OUT takes thousands of small entries from them.
        self._held: dict[Path, bytes] = {}
        self._used_packs: set[Path] = set()
        self._discarded: dict[Path, set[str]] = {}  # pack -> keys whose records flush() drops from it

    def _path(self, entry_key: str) -> Path:
        return self.root / entry_key[:2] / entry_key

    def get(self, entry_key: str) -> bytes | None:
        """The stored payload, or None when missing or failing its digest check (the bad entry is removed)."""
        with self._lock:
            staged = self._staged.get(entry_key)
        if staged is not None:
            return staged
        packed = self._get_packed(entry_key)  # first: most entries are small, and a failed open costs
        if packed is not None:
            return packed
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

    def discard(self, entry_key: str) -> None:
        """Forget an entry its reader found wrong: get() no longer returns it, here or in a later process.

        The loose file is removed at once; a pack record is dropped from this process's index now and from
        its pack by the next :meth:`flush` (which rewrites the pack without it). Never an error.
        """
        with self._lock:
            if self._staged.pop(entry_key, None) is not None:
                return  # computed by this process; it had never reached the disk
            if self._index is None:  # read by another process (compress's lookup process), not by this one
                self._index, self._held = self._load_index()
            found = self._index.pop(entry_key, None)
            if found is not None:
                self._discarded.setdefault(found[0], set()).add(entry_key)
        try:
            self._path(entry_key).unlink(missing_ok=True)
        except OSError:
            pass  # a read-only restored cache: the entry stays, and is checked and refused again next time

    def put(self, entry_key: str, payload: bytes) -> None:
        """Store ``payload`` atomically; a cache that cannot be written is skipped, never an error."""
        header = b"%s %s %d\n" % (FORMAT, _hex_digest(payload), len(payload))
        try:
            # No fsync: a torn entry after a power cut fails its digest check and is recomputed.
            write_atomic(self._path(entry_key), header + payload, fsync=False)
        except (OSError, OutputError):
            pass  # read-only or full disk: the cache is an optimisation, the build goes on without it

    def stage(self, entry_key: str, payload: bytes) -> None:
        """Keep a small payload for the next pack (:meth:`flush`); a big one is stored at once by put()."""
        if len(payload) > PACK_MAX_PAYLOAD:
            self.put(entry_key, payload)
            return
        with self._lock:
            self._staged[entry_key] = payload
            self._staged_bytes += len(payload)
            full = self._staged_bytes >= PACK_FLUSH_BYTES
        if full:  # a big site's small entries would otherwise sit in memory until the build ends
            self._pack_staged()

    def _pack_staged(self) -> bool:
        """Write what is staged as one pack; False when nothing was staged or it could not be written."""
        with self._lock:
            staged, self._staged, self._staged_bytes = self._staged, {}, 0
        if not staged:
            return False
        try:
            self._write_pack(sorted(staged.items()))
        except (OSError, OutputError):
            return False  # read-only or full disk: the cache is an optimisation
        return True

    def flush(self) -> None:
        """Write the staged payloads as one pack, mark the packs this process read from as used, and merge
        the smaller packs when there are more than :data:`MAX_PACKS`. Never an error: the cache is only an
        optimisation.
        """
        with self._lock:
            used, self._used_packs = self._used_packs, set()
            discarded, self._discarded = self._discarded, {}
        for pack, keys in sorted(discarded.items()):
            try:
                self._drop_records(pack, keys)
            except (OSError, OutputError):
                pass  # gone meanwhile or read-only: its records are checked (and refused) again when read
        for pack in used:
            try:
                os.utime(pack)
            except OSError:
                pass  # pruned meanwhile, or a read-only restored cache
        if not self._pack_staged():
            return  # nothing new: a no-op build does not even list the packs
        try:
            packs = self._pack_paths()
            if len(packs) > MAX_PACKS:
                # All but the biggest (usually a cold build's): merging stays cheap however large it is.
                biggest = max(packs, key=lambda p: p.stat().st_size)
                self._merge([p for p in packs if p != biggest])
        except (OSError, OutputError):
            pass

    def _drop_records(self, pack: Path, keys: set[str]) -> None:
        """Rewrite ``pack`` in place without the records of ``keys`` (or remove it if none is left).

        Records that fail their digest check go too: the rewrite digests what it keeps, so it must not keep
        a corrupted payload.
        """
        raw = pack.read_bytes()
        kept = [
            (entry_key, payload)
            for entry_key, start, size, digest in _pack_records(raw)
            if entry_key not in keys and _hex_digest(payload := raw[start : start + size]) == digest
        ]
        if not kept:
            pack.unlink(missing_ok=True)
        else:
            write_atomic(pack, _pack_bytes(kept)[0], fsync=False)
        with self._lock:
            self._index, self._held = None, {}  # offsets moved: reloaded when needed

    def packed(self) -> bool:
        """Whether the cache holds a pack (one listing): a cache that has made siblings before."""
        return bool(self._pack_paths())

    def _pack_paths(self) -> list[Path]:
        try:
            names = sorted(os.listdir(self.root / PACK_DIR))
        except OSError:
            return []
        return [self.root / PACK_DIR / n for n in names if n.endswith(PACK_SUFFIX) and not is_temp(n)]

    def _write_pack(self, items: list[tuple[str, bytes]]) -> None:
        """Write one pack of ``items``; a loaded index learns where they are (no reload, no stale index)."""
        data, records = _pack_bytes(items)
        # Unique per process and moment: concurrent builds each add their own pack.
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}{PACK_SUFFIX}"
        path = self.root / PACK_DIR / name
        write_atomic(path, data, fsync=False)
        with self._lock:
            if self._index is not None:
                for entry_key, start, size, digest in records:
                    self._index[entry_key] = (path, start, size, digest)

    def _merge(self, packs: list[Path]) -> None:
        """Rewrite ``packs`` as one (the newest record of each key, digest-checked), then remove them."""
        merged: dict[str, bytes] = {}
        read: list[Path] = []
        for pack in packs:  # oldest first (names start with the time), so newer records win
            try:
                raw = pack.read_bytes()
            except OSError:
                continue  # left as it is: only a pack whose records were carried over is removed
            read.append(pack)
            for entry_key, start, size, digest in _pack_records(raw):
                payload = raw[start : start + size]
                if _hex_digest(payload) == digest:
                    merged[entry_key] = payload
        with self._lock:
            self._index, self._held = None, {}  # reloaded from the merged pack if a later get() needs it
        if merged:
            self._write_pack(sorted(merged.items()))
        for pack in read:
            pack.unlink(missing_ok=True)

    def _load_index(self) -> tuple[_Index, dict[Path, bytes]]:
        """Where each packed entry is, and the packs' bytes (see _held); the caller holds the lock.

        What was read of each pack is remembered for the process while the pack keeps its stat (a pack is
        only ever written whole, under a new name or by a rename): watch makes a new Cache for each build,
        and re-reading every pack was a tenth of a one-file save on a 2,000-file tree.
        """
        packs = [(pack, _stat_key(pack)) for pack in self._pack_paths()]
        last = _LAST_INDEX.get(self.root)
        if last is not None and last[0] == packs:
            return dict(last[1]), last[2]  # every pack as the last Cache here found it
        index: _Index = {}
        held: dict[Path, bytes] = {}
        held_bytes = 0
        for pack, stat in packs:  # oldest first: a newer pack's record wins
            known = _READ_PACKS.get(pack)
            if stat is None or known is None or known[0] != stat:
                try:
                    raw = pack.read_bytes()
                except OSError:
                    continue
                # Only where each record is: the payloads are sliced or read when asked for.
                known = (stat, tuple(_pack_records(raw)), raw if len(raw) <= HOLD_PACK_BYTES else None)
                if len(_READ_PACKS) >= 4 * MAX_PACKS:
                    _READ_PACKS.clear()
                _READ_PACKS[pack] = known
            raw_held = known[2]
            if raw_held is not None and held_bytes + len(raw_held) <= HOLD_PACK_BYTES:
                held[pack], held_bytes = raw_held, held_bytes + len(raw_held)
            for rec_key, start, size, digest in known[1]:
                index[rec_key] = (pack, start, size, digest)
        if len(_LAST_INDEX) >= 4:
            _LAST_INDEX.clear()
        _LAST_INDEX[self.root] = (packs, dict(index), held)
        return index, held

    def _get_packed(self, entry_key: str) -> bytes | None:
        with self._lock:
            if self._index is None:
                self._index, self._held = self._load_index()
            found = self._index.get(entry_key)
        if found is None:
            return None
        pack, start, size, digest = found
        held = self._held.get(pack)
        if held is not None:
            payload = held[start : start + size]
        else:
            try:
                with pack.open("rb") as fh:
                    fh.seek(start)
                    payload = fh.read(size)
            except OSError:
                return None  # merged or pruned away meanwhile: a miss
        if _hex_digest(payload) != digest:
            with self._lock:
                if self._index is not None:  # (another thread may have dropped it for a reload)
                    self._index.pop(entry_key, None)  # a corrupted record: a miss, recomputed, re-packed
            return None
        with self._lock:
            self._used_packs.add(pack)
        return payload

    def entries(self) -> Iterator[tuple[Path, os.stat_result]]:
        """Every entry file with its stat (temp files excluded)."""
        if not self.root.is_dir():
            return
        for pack in self._pack_paths():  # a pack counts as one entry: prune keeps or removes it whole
            try:
                yield pack, pack.stat()
            except OSError:
                continue
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


def pack(items: list[tuple[str, bytes]]) -> bytes:
    """``items`` (key, payload) as one pack, in the format of the packs under ``<root>/packs/``."""
    return _pack_bytes(items)[0]


def unpack(raw: bytes) -> dict[str, bytes]:
    """The records of a pack whose payload matches its digest (a cut or corrupted record is left out)."""
    return {
        entry_key: raw[start : start + size]
        for entry_key, start, size, digest in _pack_records(raw)
        if _hex_digest(raw[start : start + size]) == digest
    }


def _hex_digest(payload: bytes) -> bytes:
    """The sha256 of ``payload`` in hex, as entry headers and pack records store it."""
    return hashlib.sha256(payload).hexdigest().encode()


def _pack_bytes(items: list[tuple[str, bytes]]) -> tuple[bytes, list[tuple[str, int, int, bytes]]]:
    """A pack of ``items`` and, per record, (key, payload offset, size, sha256 hex)."""
    parts = [PACK_FORMAT]
    records: list[tuple[str, int, int, bytes]] = []
    offset = len(PACK_FORMAT)
    for entry_key, payload in items:
        digest = _hex_digest(payload)
        header = b"%s %s %d\n" % (entry_key.encode(), digest, len(payload))
        parts += (header, payload)
        records.append((entry_key, offset + len(header), len(payload), digest))
        offset += len(header) + len(payload)
    return b"".join(parts), records


def _pack_records(raw: bytes) -> Iterator[tuple[str, int, int, bytes]]:
    """(key, payload start, payload size, expected sha256 hex) of each whole record of a pack.

    A pack cut short (a restore that stopped half way) yields its whole records and stops; the digests
    are checked when a record is read.
    """
    if not raw.startswith(PACK_FORMAT):
        return
    pos = len(PACK_FORMAT)
    while pos < len(raw):
        newline = raw.find(b"\n", pos, pos + 256)
        if newline < 0:
            return
        parts = raw[pos:newline].split(b" ")
        if len(parts) != 3 or len(parts[0]) != 64 or len(parts[1]) != 64:
            return
        try:
            size = int(parts[2])
        except ValueError:
            return
        start = newline + 1
        if size < 0 or start + size > len(raw):
            return
        yield parts[0].decode("ascii", "replace"), start, size, parts[1]
        pos = start + size


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
    if size != len(payload) or _hex_digest(payload) != parts[2]:
        return None
    return payload


def _stat_key(path: Path) -> _PackStat | None:
    try:
        st = path.stat()
    except OSError:
        return None
    # ctime too: a pack rewritten in place with its size and its mtime put back (touch -d, a restore that
    # keeps times) still moves it, and the remembered index and bytes would be another pack's.
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns
