"""Scan SRC into assets: a sorted walk that publishes only what is meant to be public.

Dotfiles and dot-directories are never published (a stray ``.env`` must not reach a CDN), except
``.well-known/``; OUT and the cache are never read as input even when they sit under SRC; a symlink that
leads outside SRC is an error, never followed.
"""

from __future__ import annotations

import os
from pathlib import Path

from assetpipe.asset import Asset
from assetpipe.config import ALWAYS_EXCLUDED, Config
from assetpipe.errors import ConfigError, EscapesSource, SourceError
from assetpipe.files import is_temp
from assetpipe.patterns import path_set


def _is_hidden(name: str) -> bool:
    return name.startswith(".") and name != ".well-known"


def check_layout(config: Config) -> None:
    """Refuse layouts where the build would read its own output or write into its input."""
    src = config.source.resolve()
    out = config.output.resolve()
    if not src.is_dir():
        raise ConfigError("source directory does not exist", path=str(config.source))
    if src == out:
        raise ConfigError("output directory is the source directory", path=str(out))
    if src.is_relative_to(out):
        raise ConfigError("source directory is inside the output directory", path=str(src))


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def scan(config: Config) -> list[Asset]:
    """Every publishable file under SRC, sorted by logical path; stat only, no content read."""
    src = config.source.resolve()
    skip_dirs = {config.output.resolve()}
    if config.cache_dir is not None:
        skip_dirs.add(config.cache_dir.resolve())
    if config.snippets_dir is not None:
        skip_dirs.add(config.snippets_dir.resolve())
    include = path_set(config.include)
    exclude = path_set(config.exclude + ALWAYS_EXCLUDED)
    assets: list[Asset] = []
    seen_dirs: set[tuple[int, int]] = set()

    def walk(directory: Path, prefix: str) -> None:
        try:
            st = directory.stat()
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise SourceError(f"cannot read directory: {exc.strerror}", path=str(directory)) from None
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # a symlink loop inside SRC
            return
        seen_dirs.add(key)
        for entry in entries:
            name = entry.name
            logical = prefix + name
            if _is_hidden(name) or is_temp(name):
                continue
            if entry.is_symlink():
                target = Path(entry.path).resolve()
                if not _inside(target, src):
                    raise EscapesSource(
                        f"symlink leads outside the source root (to {target}); it is not published",
                        path=logical,
                    )
                if not target.exists():
                    raise SourceError("dangling symlink", path=logical)
            if entry.is_dir():
                path = Path(entry.path)
                real = path.resolve()
                if real in skip_dirs or any(_inside(real, d) for d in skip_dirs):
                    continue
                walk(path, logical + "/")
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

    walk(src, "")
    return assets
