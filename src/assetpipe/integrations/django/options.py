"""The build options of ManifestStorage (``ASSETPIPE_BUILD``), checked and turned into a Config.

``{"gzip_backend": "zlib", "exclude": [...]}``: the assetpipe.toml keys, with ``cache_dir`` defaulting to
``.assetpipe-cache`` beside STATIC_ROOT; tables as in TOML, as dicts:
``{"importmap": {"htmx.org": "vendor/htmx/htmx.esm.js"}}``. Relative folders (``mounts``,
``node_modules``, ``cache_dir``) are taken from the folder holding STATIC_ROOT. Kept apart from the storage,
which imports the build: the tag library reads the import map tables from here without that import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from assetpipe.config import Config, ImportTable
from assetpipe.config import check_value as check_toml_value  # assetpipe.toml's one checker
from assetpipe.cors import parse_cors
from assetpipe.errors import AssetpipeError


def option(given: Any, name: str) -> Any:
    """``given``, else the setting ``ASSETPIPE_<NAME>``."""
    return given if given is not None else getattr(settings, f"ASSETPIPE_{name.upper()}", None)


#: Config fields Django decides (from STATIC_ROOT, STATIC_URL and the collection folder).
DECIDED = frozenset({"source", "output", "base_url", "config_file"})
PATH_OPTIONS = frozenset({"cache_dir", "snippets_dir", "node_modules"})
TUPLE_OPTIONS = frozenset({"include", "exclude", "unhashed"})
#: Options checked by assetpipe.toml's own checker (tables, and values with rules beyond a type), so they
#: mean and refuse exactly what they do in the file.
TOML_OPTIONS = frozenset(
    {"mounts", "importmap", "importmap_scopes", "importmap_packages", "budgets", "cache_url"}
)


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
