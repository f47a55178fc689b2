"""The source side's records: an asset found under SRC and the references found in it."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Kind(Enum):
    """What a reference is, which decides how the helper may use it (only static imports are preloaded)."""

    URL = "url"  # CSS url(), image-set() string, new URL(..., import.meta.url)
    IMPORT = "import"  # CSS @import
    MODULE = "module"  # JS static import / export ... from
    DYNAMIC = "dynamic"  # JS import("...") and import.meta.resolve("...")
    SOURCE_MAP = "source_map"
    # A URL the browser resolves against the page, not the file (JS new Worker("w.js")): left as written,
    # with a warning, because it cannot follow hashing.
    PAGE_RELATIVE = "page_relative"


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference as written in a text asset, with the span of its URL so rewrite can splice.

    ``start``/``end`` are character offsets in the decoded text of the URL as written (inside the quotes
    for a quoted one); ``url`` is the value after CSS/JS escapes are decoded.
    """

    url: str
    start: int
    end: int
    line: int
    column: int
    kind: Kind


@dataclass(frozen=True, slots=True)
class Asset:
    """A file under SRC. ``logical_path`` is POSIX and relative to SRC: the manifest key."""

    logical_path: str
    source: str  # its location on disk; a str because a scan makes thousands and most are never opened
    size: int
    mtime_ns: int
    inode: int
    # Not part of equality (a chmod changes it): only the no-op seal compares it (assetpipe.noop).
    ctime_ns: int = field(default=0, compare=False)

    @property
    def source_path(self) -> Path:
        return Path(self.source)

    @property
    def suffix(self) -> str:
        return posixpath.splitext(self.logical_path)[1].lower()


JS_SUFFIXES = frozenset({".js", ".mjs"})


def is_module(logical_path: str) -> bool:
    """True for JS files: what a static import can preload with <link rel="modulepreload">."""
    return posixpath.splitext(logical_path)[1].lower() in JS_SUFFIXES
