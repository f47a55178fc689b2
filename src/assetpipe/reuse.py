"""The two reuse decisions of a build, each made here and nowhere else.

- Is this output reusable? Only when OUT still holds exactly what the last build wrote there: the same
  stat (size, mtime, inode) as recorded right after writing. Any rewrite, in place or by rename, changes
  one of them, so an output edited or corrupted in OUT is rebuilt and restored.
- Do this output's siblings exist and are they right? The same test for every sibling name a server
  could pick (it picks one just because it exists): each is in OUT as recorded, or absent as recorded.
  The record also holds siblings that were found right but are not worth listing (a policy change left
  them), so a build does not look at them again and again.

Without a record (a first build, or ``build --repair``) nothing in OUT is trusted by its stat: a file
already there is compared byte for byte (:func:`holds`), and siblings are recompressed or taken from the
cache, whose entries are checked against the input (:mod:`assetpipe.compress`).
"""

from __future__ import annotations

from pathlib import Path

from assetpipe.errors import OutputError
from assetpipe.manifest import ENCODING_SUFFIXES
from assetpipe.state import OutputRecord, SiblingRecord, Stat, stat_of


def output_intact(out: Path, record: OutputRecord) -> bool:
    """True when OUT still holds the recorded output as the build left it."""
    return stat_of(f"{out}/{record.path}") == record.stat


def siblings_intact(out: Path, record: OutputRecord) -> tuple[SiblingRecord, ...] | None:
    """The recorded siblings if every sibling name is in OUT as recorded (or absent as recorded)."""
    if record.siblings is None:
        return None
    recorded = {s.encoding: s.stat for s in record.siblings}
    base = f"{out}/{record.path}"
    for encoding, suffix in _SUFFIXES:
        if recorded.get(encoding) != stat_of(base + suffix):
            return None
    return record.siblings


_SUFFIXES = tuple(ENCODING_SUFFIXES.items())


def holds(path: Path, data: bytes, vouched: Stat | None) -> bool:
    """Whether ``path`` holds exactly ``data``: by a recorded stat that vouches for it, else by reading.

    Not rewriting what is already right keeps its mtime, and so servers' ETags, stable across builds.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", path=str(path)) from None
    if st.st_size != len(data):
        return False
    if vouched is not None and Stat.of(st) == vouched:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read() == data
    except OSError:
        return False
