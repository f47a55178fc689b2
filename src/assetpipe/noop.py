"""Is this build a no-op? Answered from stats alone, before anything is planned, read or imported.

A build whose settings, sources and OUT are exactly as the last complete build left them reads nothing,
writes nothing and publishes nothing; the full path (:func:`assetpipe.pipeline._land`) finds that out only
at the end, after scanning, planning and emitting every source. A complete build therefore leaves a
*seal* beside its record: the key of its whole configuration, every directory and source it scanned, and
every name in OUT it vouches for (each output and each sibling name a server could pick, present with its
stat or recorded absent), manifest.json and the snippets. :func:`still_served` re-stats exactly those and
says whether OUT already serves this build. Any doubt (a stat that moved, a file or directory too new to
be trusted, a seal that is missing, unreadable or made by other settings) answers no, and the build runs.

The trust rules are the full path's, so the two never disagree on what is unchanged:

- a source by (size, mtime_ns, inode), and only when its mtime is ``RACY_NS`` older than the record
  (git's "racy clean" rule, :mod:`assetpipe.state`); and by its ctime too, which no tool can put back
  (``touch -d``, ``rsync -t`` and ``tar`` restore an mtime, not a ctime), once the clock has ticked;
- a scanned directory by (device, inode, mtime_ns, ctime_ns), which move whenever an entry is added,
  removed or renamed in it, under the same racy rule, for its ctime as well as its mtime: so no file can
  have appeared or gone. The full path lists every directory again, so this is the one place where a
  stat stands in for more than the full path's own trust; and a ctime only moves when the clock has
  ticked (a second on ext3, or ext4 with small inodes; two on FAT; a few ms elsewhere): ``rsync -a``
  adding a file and putting its folder's mtime back in the tick the build listed that folder would
  otherwise keep every stat of the folder as the seal has it;
- each name in OUT by the stat the build left it with (:mod:`assetpipe.reuse`), or by its absence;
- each snippet by its ctime too: the full path writes every snippet on every build, so it would undo an
  edit that kept the size and put the mtime back (not one made in the very clock tick the build wrote
  it, on a filesystem of whole seconds: hashing the snippets, 3 MB for the corpus, would cost more).

A seal is only ever taken whole: it must list SRC and each mount first (by the real paths they lead to
now, which are part of its key with the settings), vouch for as many sources and outputs as the build
had, and name manifest.json and every sibling name the build's settings check; a seal that does not
(forged, or restored from a foreign cache) is no seal. And none outlives a build that touched OUT: every
build that takes the full path removes it before it writes anything (:func:`drop`), so a build stopped
half-way (SIGKILL with a set staged, say) leaves the next one to take the full path and clean up after it;
and a staging folder in OUT, which only a killed build leaves, is refused too (whichever cache that
build kept its records in).

On the 2,530-file benchmark corpus this is about 12,700 stats and one 0.6 MB JSON file (about 0.1 s
on the benchmark machine); the full path it replaces parsed the 1.5 MB record and took every source
through plan and emit (about 0.6 s more).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from assetpipe.files import write_atomic
from assetpipe.manifest import MANIFEST_NAME
from assetpipe.state import RACY_NS, BuildState

SEAL_VERSION = 2

#: How a stat is kept: [size, mtime_ns, inode] for a file in OUT (as the build record keeps it), [size,
#: mtime_ns, inode, ctime_ns] for a source, [device, inode, mtime_ns, ctime_ns] for a directory, None for a
#: name recorded absent. Lists, as JSON gives them back: compared as they are, never converted.
StatKey = list[int] | None


@dataclass(frozen=True, slots=True)
class Totals:
    """What the sealed build's summary reports, so a no-op can print it without reading the manifest."""

    files: int
    bytes_in: int
    bytes_out: int
    encoded: Mapping[str, tuple[int, int]]  # per encoding: (bytes of the siblings, bytes of their originals)
    warnings: tuple[str, ...]
    logical_paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Seal:
    """What a complete build depended on and left, by stat (see the module doc)."""

    key: str  # of the configuration and the assetpipe version
    recorded_ns: int  # when the build began: sources and directories must be older by RACY_NS
    #: Every directory the build scanned: (path on disk, its stat, [(file name, its stat)] of its sources).
    directories: list[tuple[str, StatKey, list[tuple[str, StatKey]]]]
    suffixes: tuple[str, ...]  # the sibling names a server could pick beside each output
    #: OUT-relative: (output, its stat, [the stat of output + suffix, for each suffix]).
    out: list[tuple[str, StatKey, list[StatKey]]]
    manifest: StatKey  # OUT/manifest.json
    others: list[tuple[str, StatKey]]  # files the build wrote outside OUT (snippets), by path
    totals: Totals


def config_key(config: object, version: str, resolved: Iterable[str] = ()) -> str:
    """One key for every setting: any change at all (a flag, a glob, a budget) means the build runs.

    ``resolved``: the real paths the config's folders lead to now (SRC, the mounts, the snippets). A
    config may name a symlink (``current -> releases/7``) or a path relative to the working directory,
    whose repr stays the same when the folder it leads to is another one."""
    where = "\n".join(resolved)
    return hashlib.sha256(f"{version}\n{config!r}\n{where}".encode()).hexdigest()


def seal_of(
    key: str,
    state: BuildState,
    directories: Iterable[tuple[str, tuple[int, ...], Iterable[tuple[str, tuple[int, ...]]]]],
    suffixes: tuple[str, ...],
    others: Iterable[str],
    totals: Totals,
) -> Seal | None:
    """The seal of the build ``state`` records, or None when that build left something unvouched for.

    ``directories`` are the scan's, each with its sources by file name; ``suffixes`` the sibling names a
    server could pick beside each output (every codec's when the build compresses; none when it does not,
    as the full path then checks none).
    """
    if state.manifest is None:
        return None
    out: list[tuple[str, StatKey, list[StatKey]]] = []
    for rec in state.files.values():
        output = rec.output
        if suffixes and output.siblings is None:
            return None  # siblings nobody has vouched for yet (deferred): only the full path knows
        present = {s.path: list(s.stat) for s in output.siblings or ()}
        out.append((output.path, list(output.stat), [present.get(output.path + x) for x in suffixes]))
    written = [(path, _snippet_key(path)) for path in others]
    if any(stat is None for _, stat in written):
        return None
    scanned: list[tuple[str, StatKey, list[tuple[str, StatKey]]]] = [
        (path, list(sig), [(name, list(st)) for name, st in files]) for path, sig, files in directories
    ]
    return Seal(key, state.recorded_ns, scanned, suffixes, out, list(state.manifest), written, totals)


def still_served(seal: Seal, key: str, out: Path, roots: list[str], suffixes: tuple[str, ...]) -> bool:
    """Whether OUT already serves exactly the build ``key``'s settings and today's sources would make.

    ``roots`` are the real paths of SRC and each mount, in order; ``suffixes`` the sibling names the
    build's settings check beside each output (:func:`seal_of`)."""
    if seal.key != key:
        return False
    try:
        return _whole(seal, roots, suffixes) and _sources_unchanged(seal) and _out_unchanged(seal, out)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError):  # not our shape
        return False


def _whole(seal: Seal, roots: list[str], suffixes: tuple[str, ...]) -> bool:
    """Whether ``seal`` vouches for all a build depends on: the roots' listings first, one source and one
    output per file of the build, manifest.json, and every sibling name the settings check."""
    files = seal.totals.files
    return (
        [entry[0] for entry in seal.directories[: len(roots)]] == roots
        and sum(len(entry[2]) for entry in seal.directories) == files
        and len(seal.out) == files == len(seal.totals.logical_paths)
        and isinstance(seal.manifest, list)
        and seal.suffixes == suffixes
    )


def _sources_unchanged(seal: Seal) -> bool:
    newest = seal.recorded_ns - RACY_NS
    stat = os.stat
    for path, recorded, files in seal.directories:
        try:
            st = stat(path)
        except OSError:
            return False
        if (
            [st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns] != recorded
            or st.st_mtime_ns >= newest
            or st.st_ctime_ns >= newest
        ):
            return False
        for name, file_recorded in files:
            try:
                st = stat(f"{path}/{name}")
            except OSError:
                return False
            key = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
            if key != file_recorded or st.st_mtime_ns >= newest:
                return False
    return True


def _out_unchanged(seal: Seal, out: Path) -> bool:
    root = f"{out}/"
    if _stat_key(root + MANIFEST_NAME) != seal.manifest:
        return False
    for name, recorded, siblings in seal.out:
        if _stat_key(root + name) != recorded:
            return False
        for suffix, sibling in zip(seal.suffixes, siblings, strict=True):
            if _stat_key(root + name + suffix) != sibling:
                return False
    return all(_snippet_key(path) == recorded for path, recorded in seal.others)


def _stat_key(path: str) -> StatKey:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _snippet_key(path: str) -> StatKey:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


# -- on disk: one JSON document, beside the build record in the cache directory ---------------------------


def seal_path(state_file: Path) -> Path:
    return state_file.with_suffix(".seal.json")


def drop(path: Path) -> None:
    """Remove the seal, before a build touches OUT: until it has finished, no seal may vouch for OUT."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # a seal that cannot be removed is checked stat by stat, like any other


def save(path: Path, seal: Seal | None) -> None:
    """Best effort, like the record: a seal that cannot be saved only costs the next no-op the full path.
    None removes the old seal, so a build that cannot vouch for OUT never leaves one that could."""
    try:
        if seal is None:
            drop(path)
            return
        t = seal.totals
        data = {
            "version": SEAL_VERSION, "key": seal.key, "recorded_ns": seal.recorded_ns,
            "directories": seal.directories, "suffixes": seal.suffixes, "out": seal.out,
            "manifest": seal.manifest, "others": seal.others,
            "totals": [t.files, t.bytes_in, t.bytes_out, t.encoded, t.warnings, t.logical_paths],
        }  # fmt: skip
        write_atomic(path, json.dumps(data, separators=(",", ":")).encode(), fsync=False)
    except Exception:
        pass


def load(path: Path) -> Seal | None:
    """The saved seal, or None when it is missing, unreadable or of another format (never an error).

    Its lists are not checked one by one here: :func:`still_served` compares them with real stats, and a
    value of any other shape compares unequal (or raises, which it takes as a no)."""
    try:
        data = json.loads(_read_regular(path))
        if data["version"] != SEAL_VERSION:
            return None
        files, bytes_in, bytes_out, encoded, warnings, logical = data["totals"]
        totals = Totals(
            int(files), int(bytes_in), int(bytes_out),
            {str(k): (int(v[0]), int(v[1])) for k, v in encoded.items()},
            tuple(map(str, warnings)), tuple(map(str, logical)),
        )  # fmt: skip
        parts = [data[k] for k in ("directories", "out", "others")]
        if not all(isinstance(part, list) for part in parts) or not isinstance(data["suffixes"], list):
            return None
        suffixes = tuple(map(str, data["suffixes"]))
        directories, out, others = parts
        key, recorded_ns = str(data["key"]), int(data["recorded_ns"])
        return Seal(key, recorded_ns, directories, suffixes, out, data["manifest"], others, totals)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        return None


def _read_regular(path: Path) -> bytes:
    """The bytes of the file at ``path``; OSError unless it is a regular file (a fifo or a device there
    would block the build or never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"not a regular file: {path}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)
