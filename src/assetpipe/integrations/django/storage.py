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
``build``        extra build options, the assetpipe.toml keys: ``{"gzip_backend": "zlib", "exclude": [...]}``
                 (``cache_dir`` defaults to ``.assetpipe-cache`` beside STATIC_ROOT); tables as in TOML,
                 as dicts: ``{"importmap": {"htmx.org": "vendor/htmx/htmx.esm.js"}}``. Relative folders
                 (``mounts``, ``node_modules``, ``cache_dir``) are taken from the folder holding STATIC_ROOT.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import StaticFilesStorage
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.core.management.base import CommandError

from assetpipe.config import Config, ImportTable
from assetpipe.config import _check as check_toml_value  # assetpipe.toml's one checker of a key's value
from assetpipe.cors import parse_cors
from assetpipe.errors import AssetpipeError
from assetpipe.integrations.django import lookup
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build

#: Marks a folder as this storage's collection folder; dot files are never built, so it stays out of
#: the output. A non-empty folder without it is refused: mirroring deletes what the finders do not list.
MARKER = ".assetpipe-collect"

#: Config fields Django decides (from STATIC_ROOT, STATIC_URL and the collection folder).
DECIDED = frozenset({"source", "output", "base_url", "config_file"})
PATH_OPTIONS = frozenset({"cache_dir", "snippets_dir", "node_modules"})
TUPLE_OPTIONS = frozenset({"include", "exclude", "unhashed"})
#: Options checked by assetpipe.toml's own checker (tables, and values with rules beyond a type), so they
#: mean and refuse exactly what they do in the file.
TOML_OPTIONS = frozenset(
    {"mounts", "importmap", "importmap_scopes", "importmap_packages", "budgets", "cache_url"}
)


def _option(given: Any, name: str) -> Any:
    return given if given is not None else getattr(settings, f"ASSETPIPE_{name.upper()}", None)


#: What each option must be, where its default (None) does not say.
NONE_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {
    "jobs": (int,),
    "cache_dir": (str, os.PathLike),
    "snippets_dir": (str, os.PathLike),
    "snippet_root": (str,),
    "node_modules": (str, os.PathLike),
}


def _checked(key: str, value: Any, default: Any) -> Any:
    """``value`` converted to the field's type (lists to tuples, strings to Paths), or CommandError."""
    if key == "cors":  # spelled as in assetpipe.toml: "*", a list of origins, or False
        try:
            return parse_cors(value)
        except AssetpipeError as exc:
            raise CommandError(f"ASSETPIPE_BUILD: {exc}") from None
    if key in TOML_OPTIONS:
        try:
            return check_toml_value(key, value, "ASSETPIPE_BUILD")
        except AssetpipeError as exc:
            raise CommandError(str(exc)) from None
    if default is None:
        accepted: tuple[type, ...] = NONE_DEFAULT_TYPES[key]
    elif isinstance(default, tuple):
        accepted = (list, tuple)
    elif isinstance(default, float):
        accepted = (int, float)
    else:
        accepted = (type(default),)
    ok = isinstance(value, accepted) and not (isinstance(value, bool) and bool not in accepted)
    if isinstance(value, (list, tuple)):
        ok = ok and all(isinstance(item, str) for item in value)
    if not ok:
        raise CommandError(
            f"ASSETPIPE_BUILD: {key!r} must be {' or '.join(t.__name__ for t in accepted)}, not {value!r}"
        )
    if key in PATH_OPTIONS:
        return Path(value)
    if key in TUPLE_OPTIONS:
        return tuple(value)
    return value


def build_config(collect_dir: Path, output: Path, base_url: str, options: Mapping[str, Any]) -> Config:
    """The Config for one collectstatic; an unknown option or a wrong type is a CommandError naming it."""
    defaults = {f.name: f.default for f in fields(Config) if f.name not in DECIDED}
    anchor = output.parent  # where relative folders are taken from, as the default cache_dir is
    values: dict[str, Any] = {"cache_dir": anchor / ".assetpipe-cache"}
    for key, value in options.items():
        if key not in defaults:
            raise CommandError(
                f"ASSETPIPE_BUILD: unknown option {key!r} (known: {', '.join(sorted(defaults))})"
            )
        if value is not None or defaults[key] is not None:
            values[key] = _checked(key, value, defaults[key])
    for key in PATH_OPTIONS & values.keys():
        values[key] = anchor / values[key]  # an absolute path stays as it is
    values["mounts"] = tuple(replace(m, directory=anchor / m.directory) for m in values.get("mounts", ()))
    if values.get("importmap_packages") and values.get("node_modules") is None:
        values["node_modules"] = anchor / "node_modules"
    return Config(source=collect_dir, output=output, base_url=base_url, **values)


def import_tables(
    options: Mapping[str, Any],
) -> tuple[ImportTable, tuple[tuple[str, ImportTable], ...]]:
    """The ``importmap`` and ``importmap_scopes`` tables of build options, checked as build_config does."""
    imports = _checked("importmap", options.get("importmap") or {}, ())
    scopes = _checked("importmap_scopes", options.get("importmap_scopes") or {}, ())
    return imports, scopes


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
        collect = _option(collect_dir, "collect_dir")
        if collect is None and self.output is not None:
            collect = self.output.parent / ".assetpipe-collect"
        self.build_options: Mapping[str, Any] = _option(build, "build") or {}
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
