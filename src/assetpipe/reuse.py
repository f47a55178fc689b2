"""The two reuse decisions of a build, each made here and nowhere else.

- Is this output reusable? Only when OUT still holds exactly what the last build wrote there: the same
  stat (size, mtime, inode) as recorded right after writing. Any rewrite, in place or by rename, changes
  one of them, so an output edited or corrupted in OUT is rebuilt and restored.
- Do this output's siblings exist and are they right? The same test for every sibling name a server
  could pick (it picks one just because it exists): each is in OUT as recorded, or absent as recorded.
  The record also holds siblings that were found right but are not worth listing (a policy change left
  them), so a build does not look at them again and again.

While ``assetpipe watch`` runs, a watcher on OUT reports every path written there since the record was made
(:class:`OutView`), and only those are looked at again: a save costs what it changed, not a stat of every
output. Without a record (a first build, or ``build --repair``) nothing in OUT is trusted by its stat: a file
already there is compared byte for byte (:func:`holds`), and siblings are recompressed or taken from the
cache, whose entries are checked against the input (:mod:`assetpipe.compress`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from assetpipe.errors import OutputError
from assetpipe.manifest import ENCODING_SUFFIXES
from assetpipe.state import OutputRecord, SiblingRecord, Stat, stat_of


@dataclass(frozen=True, slots=True)
class OutView:
    """How a build looks at OUT: every recorded file by its stat, or (watch) only where a watcher saw news."""

    root: Path
    touched: frozenset[str] | None = None  # OUT-relative paths changed since the record; None: stat all
    # The touched paths, also with a codec suffix taken off: the outputs whose file or a sibling was touched.
    touched_outputs: frozenset[str] = frozenset()

    @classmethod
    def of(cls, root: Path, touched: Collection[str] | None) -> OutView:
        if touched is None:
            return cls(root, None)
        paths = frozenset(touched)
        return cls(root, paths, paths | {_without_suffix(p) for p in paths})

    def untouched(self, path: str) -> bool:
        """True when the watcher on OUT saw nothing happen to ``path`` or its siblings' names.

        One set lookup per output: every save touches a few names in OUT (the build's own writes), and
        trying each sibling suffix of every output against them was a tenth of a save on a 2,000-file tree.
        """
        return self.touched is not None and path not in self.touched_outputs

    def as_recorded(self, path: str, recorded: Stat | None) -> bool:
        """True when OUT/path is as the record says: that stat, or absent when ``recorded`` is None."""
        if self.touched is not None and path not in self.touched:
            return True  # the watcher on OUT saw nothing happen to it since the record was made
        return stat_of(f"{self.root}/{path}") == recorded


def output_intact(view: OutView, record: OutputRecord) -> bool:
    """True when OUT still holds the recorded output as the build left it."""
    return view.as_recorded(record.path, record.stat)


def siblings_intact(view: OutView, record: OutputRecord) -> tuple[SiblingRecord, ...] | None:
    """The recorded siblings if every sibling name is in OUT as recorded (or absent as recorded)."""
    if record.siblings is None:
        return None
    recorded = {s.encoding: s.stat for s in record.siblings}
    for encoding, suffix in _SUFFIXES:
        if not view.as_recorded(record.path + suffix, recorded.get(encoding)):
            return None
    return record.siblings


_SUFFIXES = tuple(ENCODING_SUFFIXES.items())


def _without_suffix(path: str) -> str:
    for _, suffix in _SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


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
