"""The run-time side of a build: look up URLs and integrity values in OUT/manifest.json while serving pages.

A page render may ask for a dozen assets, so every lookup is one dict access on a snapshot computed when
the manifest is read. In production the manifest is read once and no call touches the disk; with
``auto_reload=True`` (development, beside ``assetpipe watch``) each call costs one ``stat`` and the file is
re-read only when it changed. Only the manifest model is imported here, never the build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assetpipe.manifest import Manifest, ManifestEntry

#: Environment variable that overrides the manifest's base URL, so one build can be served from a CDN.
BASE_URL_VARIABLE = "ASSETPIPE_BASE_URL"

#: What identifies one version of the manifest file on disk. The inode is there because an atomic
#: write (rename over the old file) always gives a new one, even when mtime and size happen to match.
Signature = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One reading of the manifest with every public URL worked out, so a lookup is a dict access.

    A reload makes a new Snapshot rather than changing this one: a caller holding it (or a cache keyed on
    it) sees one consistent build, and swapping the reader's reference is atomic across threads.
    """

    manifest: Manifest
    base_url: str
    urls: Mapping[str, str]
    signature: Signature | None = None

    def url(self, logical_path: str) -> str:
        """Public URL of ``logical_path``; UnknownAsset (with close matches) when it is not in the build."""
        try:
            return self.urls[logical_path]
        except KeyError:
            self.manifest.entry(logical_path)  # raises UnknownAsset naming close matches
            raise  # pragma: no cover - entry() always raises for a key that urls lacks


def resolve_base_url(base_url: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The override in effect: the argument, else ASSETPIPE_BASE_URL (empty counts as unset), else None."""
    env = os.environ if environ is None else environ
    return base_url or env.get(BASE_URL_VARIABLE) or None


def make_snapshot(
    manifest: Manifest, base_url: str | None = None, signature: Signature | None = None
) -> Snapshot:
    """Work out every URL once, at read time, rather than concatenating strings on every call."""
    base = base_url or manifest.base_url
    if not base.endswith("/"):
        base += "/"
    urls = {logical: base + entry.path for logical, entry in manifest.assets.items()}
    return Snapshot(manifest=manifest, base_url=base, urls=urls, signature=signature)


def _signature(path: str) -> Signature | None:
    try:
        st = os.stat(path)  # on a str, not a Path: this runs on every lookup in auto_reload mode
    except OSError:
        # Missing or unreadable: Manifest.load turns this into a ManifestError naming the path.
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class ManifestReader:
    """Serves lookups from a manifest file, re-reading it on change only when ``auto_reload`` is on.

    A class rather than a function because it owns one piece of mutable state: the current Snapshot.
    ``base_url`` (else the ASSETPIPE_BASE_URL variable, read when the reader is made) replaces the base
    URL the build recorded. Without ``auto_reload`` the manifest is read here, so a missing or invalid
    one fails at start-up; with it, the first lookup reads it, so a dev server may start before the
    first build has finished.
    """

    __slots__ = ("_base_url", "_fspath", "_snapshot", "auto_reload", "path")

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        base_url: str | None = None,
        auto_reload: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._fspath = os.fspath(self.path)
        self.auto_reload = auto_reload
        # Read once: the process environment is configuration, taken at start-up like any other.
        self._base_url = resolve_base_url(base_url, environ)
        self._snapshot: Snapshot | None = None
        if not auto_reload:
            self._snapshot = self._read()

    def snapshot(self) -> Snapshot:
        """The current reading of the manifest (re-read first if auto_reload is on and the file changed)."""
        snap = self._snapshot
        if snap is not None and not self.auto_reload:
            return snap
        if snap is None or _signature(self._fspath) != snap.signature:
            snap = self._read()
        return snap

    def reload(self) -> Snapshot:
        """Read the manifest again now, whatever auto_reload says (e.g. after a deploy's SIGHUP)."""
        return self._read()

    def _read(self) -> Snapshot:
        # The signature is taken before reading: if the file changes in between, the next call sees a
        # newer signature and reads again, so a change is never missed. A missing file has no signature
        # and Manifest.load raises ManifestError naming the path.
        signature = _signature(self._fspath)
        snap = make_snapshot(Manifest.load(self.path), self._base_url, signature)
        self._snapshot = snap
        return snap

    @property
    def manifest(self) -> Manifest:
        return self.snapshot().manifest

    @property
    def base_url(self) -> str:
        """The base URL in effect (override, environment variable or manifest), ending in '/'."""
        return self.snapshot().base_url

    def url(self, logical_path: str) -> str:
        """Public URL of the built file for ``logical_path``."""
        return self.snapshot().url(logical_path)

    def integrity(self, logical_path: str) -> str:
        """Subresource Integrity value (``sha384-...``) of the built file."""
        return self.snapshot().manifest.entry(logical_path).integrity

    def entry(self, logical_path: str) -> ManifestEntry:
        """The manifest entry; UnknownAsset names up to three close matches."""
        return self.snapshot().manifest.entry(logical_path)

    def __contains__(self, logical_path: object) -> bool:
        return logical_path in self.snapshot().manifest.assets
