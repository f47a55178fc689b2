"""Scan SRC into assets: a sorted walk that publishes only what is meant to be public.

Dotfiles and dot-directories are never published (a stray ``.env`` must not reach a CDN), except
``.well-known/``; OUT and the cache are never read as input even when they sit under SRC; a symlink that
leads outside SRC is an error, never followed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from assetpipe.asset import Asset
from assetpipe.config import ALWAYS_EXCLUDED, Config
from assetpipe.errors import AssetpipeError, ConfigError, EscapesSource, SourceError
from assetpipe.files import is_temp
from assetpipe.patterns import path_set


def _is_hidden(name: str) -> bool:
    return name.startswith(".") and name != ".well-known"


#: Control characters cannot be carried by a URL, a server config or the manifest schema.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _resolve(path: Path, what: str, error: type[AssetpipeError] = ConfigError) -> Path:
    """Path.resolve with a symlink loop (RuntimeError on Python 3.11) turned into one clear error."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:
        raise error(f"cannot resolve {what}: {exc}", path=str(path)) from None


def check_layout(config: Config) -> None:
    """Refuse layouts where the build would read its own output, write into its input, or serve its own
    bookkeeping (a cache or the server snippets inside OUT)."""
    src = _resolve(config.source, "source directory")
    out = _resolve(config.output, "output directory")
    if not src.is_dir():
        raise ConfigError("source directory does not exist", path=str(config.source))
    if src == out:
        raise ConfigError("output directory is the source directory", path=str(out))
    if src.is_relative_to(out):
        raise ConfigError("source directory is inside the output directory", path=str(src))
    for key, value in (("cache_dir", config.cache_dir), ("snippets_dir", config.snippets_dir)):
        if value is None:
            continue
        where = _resolve(value, key)
        if where.is_relative_to(out):
            raise ConfigError(f"{key} is inside the output directory, which is served", path=str(where))
        if src.is_relative_to(where):
            raise ConfigError(f"{key} contains the source directory", path=str(where))


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def scan(config: Config) -> list[Asset]:
    """Every publishable file under SRC, sorted by logical path; stat only, no content read."""
    src = _resolve(config.source, "source directory")
    # Only directories strictly inside SRC can be skipped; check_layout refuses the other overlaps.
    skip_dirs = {
        where
        for where in (
            _resolve(d, "directory")
            for d in (config.output, config.cache_dir, config.snippets_dir)
            if d is not None
        )
        if where != src and where.is_relative_to(src)
    }
    include = path_set(config.include)
    exclude = path_set(config.exclude + ALWAYS_EXCLUDED)
    assets: list[Asset] = []

    def walk(directory: Path, prefix: str, ancestors: frozenset[tuple[int, int]]) -> None:
        try:
            st = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            where = prefix or str(directory)
            raise SourceError(f"cannot read directory: {exc.strerror}", path=where) from None
        key = (st.st_dev, st.st_ino)
        if key in ancestors:  # a symlink back to a directory above: a loop, walked once already
            return
        ancestors = ancestors | {key}
        for entry in entries:
            name = entry.name
            if _is_hidden(name) or is_temp(name):
                continue
            logical = prefix + name
            try:
                logical.encode("utf-8")
            except UnicodeEncodeError:
                raise SourceError(
                    "file name is not valid UTF-8; rename it", path=repr(os.fsencode(entry.path))[2:-1]
                ) from None
            if _CONTROL.search(name):
                raise SourceError("file name contains a control character; rename it", path=repr(logical))
            if entry.is_symlink():
                target = _resolve(Path(entry.path), "symlink", SourceError)
                if not _inside(target, src):
                    raise EscapesSource(
                        f"symlink leads outside the source root (to {target}); it is not published",
                        path=logical,
                    )
                if not target.exists():
                    raise SourceError("dangling symlink", path=logical)
                if any(_is_hidden(part) for part in target.relative_to(src).parts):
                    raise EscapesSource(
                        "symlink leads to a hidden file or folder, which is never published", path=logical
                    )
            if entry.is_dir():
                path = Path(entry.path)
                if _resolve(path, "directory", SourceError) in skip_dirs:
                    continue
                walk(path, logical + "/", ancestors)
                continue
            if not entry.is_file():
                continue  # sockets, fifos
            if not include.matches(logical) or exclude.matches(logical):
                continue
            try:
                st = entry.stat()  # one syscall; follows a symlink already checked to stay inside
            except FileNotFoundError:
                continue  # deleted while we walked (a checkout in progress): the next build sees it
            assets.append(
                Asset(
                    logical_path=logical,
                    source=entry.path,
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    inode=st.st_ino,
                )
            )

    walk(src, "", frozenset())
    return assets
