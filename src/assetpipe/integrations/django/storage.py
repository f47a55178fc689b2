"""``ManifestStorage``: collectstatic runs an assetpipe build; ``{% static %}`` reads its manifest.

collectstatic copies what the finders list into a collection folder (this storage's ``location``, beside
STATIC_ROOT, never inside it: it holds unbuilt sources), then calls ``post_process``, which makes that
folder mirror the finders' files exactly and builds it into STATIC_ROOT with ``assetpipe.pipeline.build``:
hashed files with rewritten references, .br/.gz siblings, manifest.json written last. A second run with
nothing changed copies nothing, and the build reuses every output (assetpipe's no-op), so it rewrites
nothing either.

Options (``STORAGES["staticfiles"]["OPTIONS"]``), each also read from a setting of the same name in capitals
with an ``ASSETPIPE_`` prefix:

``collect_dir``  the collection folder (default: ``.assetpipe-collect`` beside STATIC_ROOT)
``build``        extra build options, the assetpipe.toml keys (checked in ``options.py``)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.core.management.base import CommandError

from assetpipe.errors import AssetpipeError
from assetpipe.integrations.django import lookup
from assetpipe.integrations.django.options import build_config, option
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build

#: Marks a folder as this storage's collection folder; dot files are never built, so it stays out of
#: the output. A non-empty folder without it is refused: mirroring deletes what the finders do not list.
MARKER = ".assetpipe-collect"


def _copy(source: str, target: Path) -> None:
    """Copy with the source's mtime (the next run compares it), through a temporary name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.assetpipe-tmp")
    shutil.copy2(source, temporary)
    os.replace(temporary, target)


def claim(collect_dir: Path) -> None:
    """Make ``collect_dir`` ours (create it and its marker) unless it already holds someone else's files."""
    marker = collect_dir / MARKER
    if marker.is_file():
        return
    # Only files count: collectstatic --clear deletes files (the marker too) but leaves the folders.
    if collect_dir.is_dir() and any(not p.is_dir() for p in collect_dir.rglob("*")):
        # A CommandError: collectstatic (the one caller) then prints this line alone, no traceback.
        raise CommandError(
            f"{collect_dir}: not a collection folder of assetpipe's (no {MARKER} in it) and not empty; "
            "collectstatic would delete files in it. Point ASSETPIPE_COLLECT_DIR at a folder of its own."
        )
    collect_dir.mkdir(parents=True, exist_ok=True)
    marker.write_bytes(b"")


def mirror(found: Mapping[str, tuple[Storage, str]], collect_dir: Path) -> None:
    """Make ``collect_dir`` hold exactly the finders' files: copy what differs in size or mtime (to the
    nanosecond: collectstatic's own check drops sub-second precision), delete what no finder lists."""
    wanted = {collect_dir / MARKER}
    for prefixed_path, (storage, path) in found.items():
        target = collect_dir / Path(prefixed_path)
        if ".." in Path(prefixed_path).parts or Path(prefixed_path).is_absolute():
            # A STATICFILES_DIRS prefix such as "../x" would copy outside the folder.
            raise CommandError(f"{prefixed_path}: static file path leads outside {collect_dir}")
        wanted.add(target)
        source = storage.path(path)
        st = os.stat(source)
        try:
            copied = target.stat()
        except FileNotFoundError:
            copied = None
        if copied is None or (copied.st_size, copied.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            _copy(source, target)
    for directory, _dirs, names in os.walk(collect_dir, topdown=False):
        for name in names:
            stale = Path(directory, name)
            if stale not in wanted:
                stale.unlink()
        if directory != str(collect_dir) and not os.listdir(directory):
            os.rmdir(directory)


def _previous_paths(manifest: Path) -> dict[str, str]:
    try:
        return {logical: entry.path for logical, entry in Manifest.load(manifest).assets.items()}
    except AssetpipeError:  # no build yet, or one we cannot read: everything counts as new
        return {}


class ManifestStorage(StaticFilesStorage):  # type: ignore[misc]  # Django ships no types
    """STORAGES["staticfiles"]: collectstatic builds with assetpipe; ``url()`` gives the hashed URL.

    ``url(name)`` looks ``name`` up in STATIC_ROOT/manifest.json (ASSETPIPE_MANIFEST): an unknown name
    raises MissingAsset (a ValueError, with close matches) unless ASSETPIPE_STRICT is False, which gives
    the unhashed URL. With ASSETPIPE_SERVE_SOURCES (default DEBUG) it gives the unhashed URL, which
    runserver serves from the finders.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        *,
        collect_dir: str | os.PathLike[str] | None = None,
        build: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        root = location if location is not None else settings.STATIC_ROOT
        self.output = Path(root) if root else None
        collect = option(collect_dir, "collect_dir")
        if collect is None and self.output is not None:
            collect = self.output.parent / ".assetpipe-collect"
        self.build_options: Mapping[str, Any] = option(build, "build") or {}
        super().__init__(None if collect is None else os.fspath(collect), base_url, **kwargs)

    def _save(self, name: str, content: Any) -> str:
        # collectstatic copies into the folder before post_process: claim it before the first copy.
        claim(Path(self.location))
        return str(super()._save(name, content))

    def _output(self) -> Path:
        if self.output is None:
            raise ImproperlyConfigured(
                "You're using the staticfiles app without having set the required STATIC_ROOT setting "
                "to a filesystem path."
            )
        return self.output

    def url(self, name: str | None, force: bool = False) -> str:
        if name is None or (lookup.serve_sources() and not force):
            return str(super().url(name))
        # Django passes names with a query or fragment through (fonts' "?#iefix"); keep them.
        cut = min((i for i in (name.find("?"), name.find("#")) if i >= 0), default=len(name))
        url = lookup.built_url(name[:cut])
        return str(super().url(name)) if url is None else url + name[cut:]

    def post_process(
        self, paths: Mapping[str, tuple[Storage, str]], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str, bool]]:
        """Mirror the finders' files into the collection folder and build it into STATIC_ROOT.

        Yields (logical path, hashed path, whether this build wrote it), as collectstatic expects; an
        assetpipe error becomes a CommandError, one line naming the file (no traceback).
        """
        if dry_run:
            return
        output = self._output()
        collect_dir = Path(self.location)
        config = build_config(collect_dir, output, self.base_url, self.build_options)
        claim(collect_dir)
        mirror(paths, collect_dir)
        before = _previous_paths(output / "manifest.json")
        try:
            report = build(config)
        except AssetpipeError as exc:
            raise CommandError(str(exc)) from None
        finally:
            lookup.reset()
        for logical, entry in sorted(report.manifest.assets.items()):
            yield logical, entry.path, before.get(logical) != entry.path
