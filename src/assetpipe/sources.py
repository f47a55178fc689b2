"""Scan SRC into assets: a sorted walk that publishes only what is meant to be public.

Dotfiles and dot-directories are never published (a stray ``.env`` must not reach a CDN), except
``.well-known/`` (the one rule: ``paths.is_hidden_name``); OUT and the cache are never read as input even
when they sit under SRC; a symlink that leads outside SRC is an error, never followed.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
import stat
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetpipe.asset import Asset
from assetpipe.config import ALWAYS_EXCLUDED, Config, Mount
from assetpipe.errors import ConfigError, EscapesSource, SourceError
from assetpipe.files import is_temp
from assetpipe.paths import is_hidden, is_hidden_name, logical_path, resolve_path
from assetpipe.patterns import path_set

#: Control characters cannot be carried by a URL, a server config or the manifest schema.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_layout(config: Config) -> None:
    """Refuse layouts where the build would read its own output, write into its input, or serve its own
    bookkeeping (a cache or the server snippets inside OUT)."""
    src = resolve_path(config.source, "source directory")
    out = resolve_path(config.output, "output directory")
    if not src.is_dir():
        problem = "is a file, not a directory" if src.exists() else "does not exist"
        raise ConfigError(f"source directory {problem}", path=str(config.source))
    if src == out:
        raise ConfigError("output directory is the source directory", path=str(out))
    if src.is_relative_to(out):
        raise ConfigError("source directory is inside the output directory", path=str(src))
    for key, value in (("cache_dir", config.cache_dir), ("snippets_dir", config.snippets_dir)):
        if value is None:
            continue
        where = resolve_path(value, key)
        if where.is_relative_to(out):
            raise ConfigError(f"{key} is inside the output directory, which is served", path=str(where))
        if src.is_relative_to(where):
            raise ConfigError(f"{key} contains the source directory", path=str(where))


@dataclass(frozen=True, slots=True)
class Listing:
    """One directory as the last scan saw it: its signature, its files, its subdirectories."""

    signature: tuple[int, int, int, int]  # (device, inode, mtime_ns, ctime_ns)
    files: tuple[Asset, ...]
    subdirs: tuple[tuple[str, str, bool], ...]  # (path on disk, logical prefix, reached via a symlink)


ScanMemo = dict[str, Listing]  # logical directory prefix ("" for SRC, "css/") -> Listing


def scan(config: Config) -> list[Asset]:
    """Every publishable file under SRC, sorted by logical path; stat only, no content read."""
    return scan_with_memo(config)[0]


def _dirty(touched: Collection[str]) -> tuple[dict[str, list[str]], tuple[str, ...]]:
    """Directories a change batch makes suspect: parents of touched paths (with the paths touched in
    each), and touched directories."""
    parents: dict[str, list[str]] = {}
    for p in touched:
        d = posixpath.dirname(p.rstrip("/"))
        parents.setdefault(d + "/" if d else "", []).append(p)
    return parents, tuple(p for p in touched if p.endswith("/"))


def _restat(known: Listing, paths: list[str]) -> Listing | None:
    """``known`` with the files at ``paths`` stat'ed again, when its directory's entries are as listed
    (its signature held) and each path is a listed regular file still: a save in place, the commonest
    change, costs a stat per saved file instead of a listing and a stat per file of a big folder. None:
    list the directory again (a path is new, gone or a symlink)."""
    by_path = {a.logical_path: i for i, a in enumerate(known.files)}
    files = list(known.files)
    for logical in paths:
        index = by_path.get(logical)
        if index is None:
            return None
        old = files[index]
        try:
            st = os.lstat(old.source)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        files[index] = Asset(logical, old.source, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    return Listing(known.signature, tuple(files), known.subdirs)


def check_mounts(config: Config, mounts: tuple[Mount, ...]) -> list[tuple[Mount, Path]]:
    """Each mount with its resolved directory; ConfigError for one that is missing or overlaps OUT or SRC."""
    src = resolve_path(config.source, "source directory")
    out = resolve_path(config.output, "output directory")
    where = str(config.config_file) if config.config_file is not None else None
    checked: list[tuple[Mount, Path]] = []
    for mount in mounts:
        real = resolve_path(mount.directory, f"mount {mount.prefix!r}")
        problem = None
        if not real.is_dir():
            problem = "is not a directory"
        elif real.is_relative_to(out) or out.is_relative_to(real):
            problem = "overlaps the output directory"
        elif src.is_relative_to(real):
            problem = "contains the source directory"
        if problem is not None:
            raise ConfigError(f"mount {mount.prefix!r}: {real} {problem}", path=where)
        checked.append((mount, real))
    return checked


def scan_with_memo(
    config: Config,
    *,
    memo: ScanMemo | None = None,
    touched: Collection[str] | None = None,
    mounts: tuple[Mount, ...] | None = None,
) -> tuple[list[Asset], ScanMemo]:
    """Like scan, and also returns the per-directory listings, for a later scan that knows what changed.

    With ``memo`` and ``touched`` (the logical paths a watcher saw change, directories ending in '/'),
    a directory is listed and its files stat'ed again only if it holds a touched path, lies inside a
    touched directory, or its own (inode, mtime) moved; every other directory's listing is taken from
    ``memo``. A file's content changing always touches it, so nothing is missed, while a save in one
    folder of a 2,500-file tree costs one directory listing instead of 2,500 stats.

    ``mounts`` (default: the config's) are walked after SRC under their prefixes, with their own filters;
    their symlinks may lead into SRC or another mount, nowhere else. Two files with one logical path are
    an error naming both.
    """
    src = resolve_path(config.source, "source directory")
    roots = check_mounts(config, config.mounts if mounts is None else mounts)
    inside = [src, *(real for _, real in roots)]
    # Only directories strictly inside SRC can be skipped; check_layout refuses the other overlaps.
    skip_dirs = {
        where
        for where in (
            resolve_path(d, "directory")
            for d in (config.output, config.cache_dir, config.snippets_dir)
            if d is not None
        )
        if where not in inside and any(where.is_relative_to(root) for root in inside)
    }
    include = path_set(config.include)
    exclude = path_set(config.exclude + ALWAYS_EXCLUDED)
    assets: list[Asset] = []
    new_memo: ScanMemo = {}
    use_memo = memo is not None and touched is not None
    dirty_parents, dirty_trees = _dirty(touched or ())

    own: tuple[str, Mount, Any, Any] | None = None  # the mount being walked: prefix, mount, its filters

    def walk(directory: Path, prefix: str, ancestors: frozenset[tuple[int, int]], linked: bool) -> None:
        try:
            st = directory.stat()
        except OSError as exc:
            where = prefix or str(directory)
            raise SourceError(f"cannot read directory: {exc.strerror}", path=where) from None
        key = (st.st_dev, st.st_ino)
        if key in ancestors:  # a symlink back to a directory above: a loop, walked once already
            return
        ancestors = ancestors | {key}
        signature = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        known = memo.get(prefix) if use_memo and memo is not None else None
        if (
            known is not None
            and not linked  # the watcher reports changes under the real path, not the link's
            and known.signature == signature
            and not any(prefix.startswith(tree) for tree in dirty_trees)
        ):
            here = dirty_parents.get(prefix)
            listing = known if here is None else _restat(known, here)
            if listing is not None:
                assets.extend(listing.files)
                new_memo[prefix] = listing
                for path, sub, sub_linked in listing.subdirs:
                    walk(Path(path), sub, ancestors, sub_linked)
                return
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            where = prefix or str(directory)
            raise SourceError(f"cannot read directory: {exc.strerror}", path=where) from None
        files: list[Asset] = []
        subdirs: list[tuple[str, str, bool]] = []
        file_links = False  # a watcher reports a change to a linked file under its target's path only
        for entry in entries:
            name = entry.name
            if is_hidden_name(name) or is_temp(name):
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
            is_link = entry.is_symlink()
            if is_link:
                target = resolve_path(Path(entry.path), "symlink", SourceError)
                target_logical = next(
                    (t for t in (logical_path(target, root) for root in inside) if t is not None), None
                )
                if target_logical is None:
                    where, what = ("source root and the mounts", "them") if roots else ("source root", "SRC")
                    raise EscapesSource(
                        f"symlink leads outside the {where} (to {target}), so the build stops: "
                        f"nothing outside {what} is read or published",
                        path=logical if own is None else f"{logical} ({entry.path})",
                        hint="replace the link with a copy of what it points to",
                    )
                if not target.exists():
                    raise SourceError("dangling symlink", path=logical)
                if is_hidden(target_logical):
                    raise EscapesSource(
                        "symlink leads to a hidden file or folder, which is never published: the build stops",
                        path=logical,
                    )
            if entry.is_dir():
                if skip_dirs:
                    # Without a symlink on the way the path is already real: resolve only when needed.
                    real = (
                        resolve_path(Path(entry.path), "directory", SourceError)
                        if is_link or linked
                        else Path(entry.path)
                    )
                    if real in skip_dirs:
                        continue
                subdirs.append((entry.path, logical + "/", is_link or linked))
                continue
            if not entry.is_file():
                continue  # sockets, fifos
            file_links = file_links or is_link
            if not include.matches(logical) or exclude.matches(logical):
                continue
            if own is not None:
                relative = logical[len(own[0]) :]
                if not own[2].matches(relative) or own[3].matches(relative):
                    continue
            try:
                fst = entry.stat()  # one syscall; follows a symlink already checked to stay inside
            except FileNotFoundError:
                continue  # deleted while we walked (a checkout in progress): the next build sees it
            except OSError as exc:
                raise SourceError(f"cannot read: {exc.strerror or exc}", path=logical) from None
            files.append(
                Asset(
                    logical_path=logical,
                    source=entry.path,
                    size=fst.st_size,
                    mtime_ns=fst.st_mtime_ns,
                    inode=fst.st_ino,
                    ctime_ns=fst.st_ctime_ns,
                )
            )
        listing = Listing(signature, tuple(files), tuple(subdirs))
        if not file_links:  # else listed again by every scan, as a folder reached through a symlink is
            new_memo[prefix] = listing
        assets.extend(files)
        for path, sub, sub_linked in subdirs:
            walk(Path(path), sub, ancestors, sub_linked)

    walk(src, "", frozenset(), False)
    for mount, real in roots:
        own = (mount.prefix, mount, path_set(mount.include), path_set(mount.exclude))
        # Walked as if reached through a symlink: a watcher on SRC sees none of its changes.
        walk(real, mount.prefix, frozenset(), True)
    assets.sort(key=lambda a: a.logical_path)
    if roots:
        _check_unique(assets)
    return assets, new_memo


def _check_unique(assets: list[Asset]) -> None:
    """Mounts must not give one logical path two files (``assets`` is sorted)."""
    for a, b in itertools.pairwise(assets):
        if a.logical_path == b.logical_path:
            raise SourceError(
                f"two files have this logical path: {a.source} and {b.source}",
                path=a.logical_path,
                hint="move a mount to another prefix, or exclude one of them",
            )


Scanned = list[tuple[str, tuple[int, ...], list[tuple[str, tuple[int, ...]]]]]


def scanned(memo: ScanMemo, roots: Iterable[tuple[Path, str]]) -> Scanned | None:
    """Every directory the scan that left ``memo`` walked, by path on disk, with its signature and its
    sources by file name with their (size, mtime_ns, inode, ctime_ns): for :mod:`assetpipe.noop`'s seal.

    ``roots`` are SRC and each mount, as (real path, logical prefix): they come first, in that order, then
    the folders under them. None when the memo does not hold every directory the scan walked (one with a
    file symlink, or a symlink loop, is listed again by every scan, so no stat can vouch for it), or when
    two walks reached one logical folder (a mount at a folder SRC has): the memo kept one listing of two.
    """
    directories: Scanned = []
    todo = [(str(path), prefix) for path, prefix in roots]
    seen: set[str] = set()
    for path, prefix in todo:  # grows as it goes: breadth first
        listing = memo.get(prefix)
        if listing is None or prefix in seen:
            return None
        seen.add(prefix)
        files: list[tuple[str, tuple[int, ...]]] = [
            (a.logical_path[len(prefix) :], (a.size, a.mtime_ns, a.inode, a.ctime_ns)) for a in listing.files
        ]
        if any(a.source != f"{path}/{name}" for a, (name, _) in zip(listing.files, files, strict=True)):
            return None  # not where the seal would look for it
        directories.append((path, listing.signature, files))
        todo.extend((sub_path, sub) for sub_path, sub, _ in listing.subdirs)
    return directories
