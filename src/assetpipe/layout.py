"""What an output directory holds besides the build's files, and the one walk over the rest.

OUT/.assetpipe/ (the lock and the build records) and OUT/manifest.json belong to assetpipe itself;
write_atomic's temp files belong to a build in flight (or one that was killed). Everything else found
under OUT is output: what verify checks and clean may prune.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from assetpipe.errors import OutputError
from assetpipe.files import is_temp
from assetpipe.manifest import MANIFEST_NAME
from assetpipe.paths import logical_path

#: Everything assetpipe keeps for itself inside OUT (the lock, build records); never served, never pruned.
STATE_DIR = ".assetpipe"


@dataclass(frozen=True, slots=True)
class OutputTree:
    """OUT as one walk found it: POSIX paths relative to OUT, each tuple sorted.

    Nothing under OUT/.assetpipe/ and not OUT/manifest.json; a symlink to a directory is not followed (a
    build never writes one) and appears nowhere.
    """

    files: tuple[str, ...]
    temps: tuple[str, ...]  # write_atomic's temp files, which are no output
    directories: tuple[str, ...]  # every directory below OUT (not OUT itself)


def _unreadable(exc: OSError) -> None:
    if exc.errno == errno.ENOENT:
        return  # removed while we walked (a concurrent clean on another host): nothing in it to report
    where = exc.filename if exc.filename is not None else "output directory"
    raise OutputError(f"cannot list directory: {exc.strerror or exc}", path=str(where)) from exc


def walk_output(out_dir: Path) -> OutputTree:
    """Walk OUT once, sorted; an unreadable directory is an OutputError rather than silently skipped."""
    files: list[str] = []
    temps: list[str] = []
    directories: list[str] = []
    for root, dirs, names in os.walk(out_dir, onerror=_unreadable):
        prefix = logical_path(Path(root), out_dir)
        assert prefix is not None  # os.walk stays under out_dir
        if prefix:
            directories.append(prefix)
        else:
            dirs[:] = [d for d in dirs if d != STATE_DIR]
        dirs.sort()
        for name in names:
            rel = f"{prefix}/{name}" if prefix else name
            if is_temp(name):
                temps.append(rel)
            elif rel != MANIFEST_NAME:
                files.append(rel)
    return OutputTree(tuple(sorted(files)), tuple(sorted(temps)), tuple(sorted(directories)))
