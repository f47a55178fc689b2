"""Configuration: assetpipe.toml, or [tool.assetpipe] in pyproject.toml, then flags on top.

Unknown keys and wrong types are errors naming the key and the file, because a misspelt ``exclude``
that is silently ignored publishes what the user meant to hide.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from assetpipe.budgets import Budget, parse_budgets
from assetpipe.codecs import CODECS
from assetpipe.cors import DEFAULT as DEFAULT_CORS
from assetpipe.cors import Cors, parse_cors
from assetpipe.errors import ConfigError
from assetpipe.paths import is_hidden_name
from assetpipe.paths import resolve_path as _resolve

#: The environment variable that sets (or, empty, unsets) ``cache_url`` over the config file.
CACHE_URL_ENV = "ASSETPIPE_CACHE_URL"
#: The environment variable that sets ``cache_url_mode`` over the config file ("" leaves the file's).
CACHE_URL_MODE_ENV = "ASSETPIPE_CACHE_URL_MODE"

#: Always unhashed unless ``unhashed_defaults = false``: a user's ``unhashed`` globs are added to these.
DEFAULT_UNHASHED: tuple[str, ...] = (
    # Browsers and crawlers ask for these at fixed URLs at the root of OUT (anchored by the leading "/");
    # the same names deeper down are ordinary assets and get hashed.
    "/favicon.ico",
    "/robots.txt",
    "/humans.txt",
    "/apple-touch-icon*.png",
    "/browserconfig.xml",
    "/.well-known/**",
    # A service worker's script URL must stay the same (at any depth: its folder is its scope): the browser
    # checks that URL for an update, so a hashed name would pin every client to the first worker.
    "sw.js",
    "service-worker.js",
    "serviceworker.js",
)

ALWAYS_EXCLUDED: tuple[str, ...] = (
    # Editor droppings and OS litter, excluded whatever the config says; dotfiles likewise
    # (paths.is_hidden_name, which already covers ".#*" and vim's ".name.swp").
    "**/*~",
    "**/.#*",
    "**/*.swp",
    "**/*.swo",
    "**/Thumbs.db",
    "**/desktop.ini",
)


@dataclass(frozen=True, slots=True)
class Mount:
    """A directory read as if it were under SRC at ``prefix`` ("vendor/lit/"): read-only input.

    ``include``/``exclude`` are the mount's own filters, matched against paths relative to ``directory``;
    the config's include/exclude apply to the logical paths as well.
    """

    prefix: str
    directory: Path
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # "vendor/lit" and "vendor/lit/" are one folder: never "vendor/litindex.js".
        object.__setattr__(self, "prefix", self.prefix.strip("/") + "/")


#: specifier -> logical path; a key ending in "/" is a prefix (its value ends in "/" too).
ImportTable = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Config:
    """Everything one build needs; paths absolute."""

    source: Path
    output: Path
    base_url: str = "/static/"
    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    #: After construction, the effective globs: DEFAULT_UNHASHED (unless ``unhashed_defaults`` is False)
    #: followed by the ones given, each once. Adding a glob never drops a default: a service worker that
    #: lost its fixed URL would pin every client to its first version. To drop the defaults from an
    #: existing Config, pass both: ``replace(config, unhashed_defaults=False, unhashed=(...))``.
    unhashed: tuple[str, ...] = ()
    unhashed_defaults: bool = True
    broken_references: str = "error"  # or "warn": leave the reference as written
    compress: bool = True
    # One switch per codec (assetpipe.codecs.CODECS: its config_key and default; checked below).
    brotli: bool = True
    gzip: bool = True
    zstd: bool = False
    gzip_backend: str = "zopfli"
    min_size: int = 256
    min_saving: float = 0.05
    jobs: int | None = None
    cache_dir: Path | None = None
    #: A shared second cache level: ``s3://bucket/prefix`` (credentials and endpoint from the standard AWS
    #: sources only) or ``file:///dir``; ASSETPIPE_CACHE_URL overrides it ("" switches it off).
    cache_url: str | None = None
    #: "read-write", or "read": the remote is read but never written (untrusted builds, e.g. pull requests
    #: from forks); ASSETPIPE_CACHE_URL_MODE overrides it.
    cache_url_mode: str = "read-write"
    snippets_dir: Path | None = None
    snippet_root: str | None = None
    # Which origins may read the assets cross-origin, for the snippets: "*", a list of origins, or false.
    cors: Cors = DEFAULT_CORS
    budgets: tuple[Budget, ...] = ()  # checked before publish: over budget, the build fails (budgets.py)
    # Import maps and mounts (assetpipe.importmap reads the packages; sources scans the mounts).
    mounts: tuple[Mount, ...] = ()
    importmap: ImportTable = ()
    importmap_scopes: tuple[tuple[str, ImportTable], ...] = ()  # logical path or prefix -> table
    importmap_packages: tuple[str, ...] = ()
    node_modules: Path | None = None  # default: node_modules beside the config file
    config_file: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.unhashed, str):  # would be taken as one glob per character
            raise ConfigError(f"'unhashed' must be a list of globs, not the string {self.unhashed!r}")
        # Idempotent, so dataclasses.replace(config, ...) keeps the same list.
        defaults = DEFAULT_UNHASHED if self.unhashed_defaults else ()
        object.__setattr__(self, "unhashed", tuple(dict.fromkeys((*defaults, *self.unhashed))))

    @property
    def base_path(self) -> str:
        """Path part of the base URL (``/static/`` for ``https://cdn.example.com/static/``)."""
        return urlsplit(self.base_url).path or "/"


# key -> (type(s) accepted, whether it is a path resolved against the config file's folder)
_KEYS: dict[str, tuple[tuple[type, ...], bool]] = {
    "source": ((str,), True),
    "output": ((str,), True),
    "base_url": ((str,), False),
    "include": ((list,), False),
    "exclude": ((list,), False),
    "unhashed": ((list,), False),
    "unhashed_defaults": ((bool,), False),
    "broken_references": ((str,), False),
    "compress": ((bool,), False),
    **{codec.config_key: ((bool,), False) for codec in CODECS.values()},
    **{f"{c.config_key}_backend": ((str,), False) for c in CODECS.values() if len(c.backends) > 1},
    "min_size": ((int,), False),
    "min_saving": ((float, int), False),
    "jobs": ((int,), False),
    "cache_dir": ((str,), True),
    "cache_url": ((str,), False),
    "cache_url_mode": ((str,), False),
    "snippets_dir": ((str,), True),
    "snippet_root": ((str,), False),
    "cors": ((str, list, bool), False),
    "budgets": ((dict,), False),
    "mounts": ((dict,), False),
    "importmap": ((dict,), False),
    "importmap_scopes": ((dict,), False),
    "importmap_packages": ((list,), False),
    "node_modules": ((str,), True),
}
assert set(_KEYS) | {"config_file"} == {f.name for f in fields(Config)}
assert all(
    next(f for f in fields(Config) if f.name == c.config_key).default == c.default for c in CODECS.values()
), "a codec's Config default differs from the registry's"

_CHOICES = {
    "broken_references": ("error", "warn"),
    "cache_url_mode": ("read-write", "read"),
    **{f"{c.config_key}_backend": tuple(c.backends) for c in CODECS.values() if len(c.backends) > 1},
}


def find_config_file(cwd: Path) -> Path | None:
    """assetpipe.toml in ``cwd``, else a pyproject.toml there that has [tool.assetpipe]."""
    candidate = cwd / "assetpipe.toml"
    if candidate.is_file():
        return candidate
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        import tomllib  # here and below: a build without a config file never needs it

        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None  # not ours to complain about unless it is named explicitly
        if isinstance(data.get("tool"), dict) and "assetpipe" in data["tool"]:
            return pyproject
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw table of assetpipe keys in ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", path=str(path)) from None
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("assetpipe", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise ConfigError("[tool.assetpipe] must be a table", path=str(path))
        return table
    return data


def check_value(key: str, value: Any, where: str) -> Any:
    """``value`` for setting ``key`` checked (and parsed) as assetpipe.toml's ``key`` is, wherever it was
    written (``where`` names that place in the error); the one checker for every way settings arrive."""
    if key not in _KEYS:
        import difflib  # only for an error's did-you-mean: not at start-up
        close = difflib.get_close_matches(key, list(_KEYS), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "known keys: " + ", ".join(sorted(_KEYS))
        raise ConfigError(f"unknown key {key!r}", path=where, hint=hint)
    if key == "cors":
        return _check_cors(value, where)  # three shapes, one message that lists them
    if key in _TABLES and isinstance(value, dict):
        return _TABLES[key](value, where)
    types, _ = _KEYS[key]
    # bool is an int subclass: refuse `min_size = true`.
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{key!r} must be {types[0].__name__}, not bool", path=where)
    if not isinstance(value, types):
        raise ConfigError(f"{key!r} must be {types[0].__name__}, not {type(value).__name__}", path=where)
    if key == "budgets" and isinstance(value, dict):
        return parse_budgets(value, where)
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key!r} must be a list of strings", path=where)
        return _packages(value, where) if key == "importmap_packages" else tuple(value)
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(f"{key!r} must be one of {', '.join(_CHOICES[key])}, not {value!r}", path=where)
    if key in ("min_size", "jobs") and isinstance(value, int) and value < (1 if key == "jobs" else 0):
        raise ConfigError(f"{key!r} must not be {value}", path=where)
    if key == "min_saving" and isinstance(value, (int, float)):
        if not 0 <= value < 1:
            raise ConfigError(f"'min_saving' must be a fraction in [0, 1), not {value}", path=where)
        return float(value)
    if key == "cache_url":
        try:
            from assetpipe.s3url import check_cache_url

            return check_cache_url(str(value))
        except ConfigError as exc:
            raise ConfigError(exc.message, path=where) from None
    return value


def _check_cors(value: Any, where: str) -> Cors:
    try:
        return parse_cors(value)
    except ConfigError as exc:
        raise ConfigError(exc.message, path=where, hint=exc.hint) from None


def load_cors(config_file: Path | None, cwd: Path) -> Cors:
    """The ``cors`` setting alone (for ``assetpipe snippet``): from the config file, named or found in
    ``cwd``, else the default ``*``; other keys are not read, so no source or output is needed."""
    path = config_file if config_file is not None else find_config_file(cwd)
    if path is None:
        return DEFAULT_CORS
    path = path if path.is_absolute() else cwd / path
    table = read_config_file(path)
    return _check_cors(table["cors"], str(path)) if "cors" in table else DEFAULT_CORS


def load_cache_url(config_file: Path | None, cwd: Path) -> str | None:
    """The ``cache_url`` alone (for ``assetpipe cache prune --remote``): ASSETPIPE_CACHE_URL, else the
    config file's (named, or found in ``cwd``), else None; other keys are not read."""
    if CACHE_URL_ENV in os.environ:
        env_url = os.environ[CACHE_URL_ENV]
        return check_value("cache_url", env_url, CACHE_URL_ENV) if env_url else None
    path = config_file if config_file is not None else find_config_file(cwd)
    if path is None:
        return None
    path = path if path.is_absolute() else cwd / path
    table = read_config_file(path)
    return check_value("cache_url", table["cache_url"], str(path)) if "cache_url" in table else None


@dataclass(frozen=True, slots=True)
class OutputSettings:
    """What the commands that only read OUT need (verify, clean, snippet), found as a build finds its
    config: ``output`` defaults to ``dist`` in the working directory when nothing names one."""

    output: Path
    snippet_root: str | None
    config_file: Path | None


def load_output_settings(
    config_file: Path | None, cwd: Path, overrides: dict[str, Any] | None = None
) -> OutputSettings:
    """The config file's OUT (named, or found in ``cwd``), with ``--output`` on top."""
    values, path = _values(config_file, cwd, overrides)
    output = values.get("output") or _resolve(cwd / "dist")
    return OutputSettings(output=output, snippet_root=values.get("snippet_root"), config_file=path)


def load_budgets(config_file: Path | None, cwd: Path) -> tuple[Budget, ...]:
    """Only the ``budgets`` of the config file (named, or found in ``cwd``): what ``report`` marks."""
    path = config_file if config_file is not None else find_config_file(cwd)
    if path is None:
        return ()
    table = read_config_file(cwd / path)
    value = table.get("budgets", {})
    return check_value("budgets", value, str(cwd / path)) if value else ()


def _values(
    config_file: Path | None, cwd: Path, overrides: dict[str, Any] | None
) -> tuple[dict[str, Any], Path | None]:
    """The checked values of the config file (named, or found in ``cwd``) with overrides on top."""
    overrides = dict(overrides or {})
    path = config_file if config_file is not None else find_config_file(cwd)
    values: dict[str, Any] = {}
    if path is not None:
        path = _resolve(cwd / path) if not path.is_absolute() else path
        where = str(path)
        folder = path.parent
        for key, raw in read_config_file(path).items():
            value = check_value(key, raw, where)
            if _KEYS[key][1]:
                value = _resolve(folder / os.path.expanduser(value))
            values[key] = value
    for key, raw in overrides.items():
        if raw is None:
            continue
        value = raw if isinstance(raw, Path) else check_value(key, raw, "command line")
        if _KEYS[key][1]:
            value = _resolve(cwd / Path(os.path.expanduser(str(value))))
        values[key] = value
    return values, path


def load_config(
    config_file: Path | None,
    cwd: Path,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Merge the config file (named, or found in ``cwd``) with flag overrides into a Config."""
    values, path = _values(config_file, cwd, overrides)
    where = str(path) if path is not None else "command line"
    for required in ("source", "output"):
        if required not in values:
            raise ConfigError(
                f"no {required} directory given",
                path=where,
                hint=f"pass --{required} or set {required!r} in assetpipe.toml",
            )
    base_url = values.get("base_url", "/static/")
    if not base_url.endswith("/"):
        base_url += "/"
    parts = urlsplit(base_url)
    if not (base_url.startswith("/") or (parts.scheme in ("http", "https") and parts.netloc)):
        raise ConfigError(
            f"base_url {base_url!r} must start with '/' or be an absolute http(s) URL", path=where
        )
    values["base_url"] = base_url
    if values.get("compress", True):
        for codec in CODECS.values():
            problem = codec.missing() if values.get(codec.config_key, codec.default) else None
            if problem is not None:
                raise ConfigError(f"{codec.config_key!r} is on, but {problem}", path=where)
    if CACHE_URL_ENV in os.environ and "cache_url" not in (overrides or {}):
        # The environment (a CI job's settings) over the file; empty switches the remote off.
        env_url = os.environ[CACHE_URL_ENV]
        values["cache_url"] = check_value("cache_url", env_url, CACHE_URL_ENV) if env_url else None
    if os.environ.get(CACHE_URL_MODE_ENV) and "cache_url_mode" not in (overrides or {}):
        # A CI job's setting (pull requests from forks read, the main branch writes) over the file.
        env_mode = os.environ[CACHE_URL_MODE_ENV]
        values["cache_url_mode"] = check_value("cache_url_mode", env_mode, CACHE_URL_MODE_ENV)
    anchor = path.parent if path is not None else cwd
    if "cache_dir" not in values:
        values["cache_dir"] = _resolve(anchor / ".assetpipe-cache")
    values["mounts"] = tuple(
        replace(m, directory=_resolve(anchor / os.path.expanduser(m.directory)))
        for m in values.get("mounts", ())
    )
    if values.get("importmap_packages") and "node_modules" not in values:
        values["node_modules"] = _resolve(anchor / "node_modules")
    return Config(config_file=path, **values)


# -- mounts and import maps: tables whose keys are the user's (prefixes, specifiers), checked here --------
_SCHEME_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def _logical(value: str, what: str, where: str, *, prefix: bool) -> str:
    """A logical path (or, with ``prefix``, a folder ending in '/') as written in the config, checked."""
    body = value.strip("/") if prefix else value
    parts = body.split("/")
    if (
        not body
        or value.startswith("/")
        or _BAD_CHARS.search(value)
        or any(p in ("", ".", "..") or is_hidden_name(p) for p in parts)
    ):
        raise ConfigError(
            f"{what} {value!r} is not a logical path",
            path=where,
            hint="a POSIX path relative to the source root, without '.', '..', hidden or empty segments",
        )
    return body + "/" if prefix else body


def _mounts(table: dict[str, Any], where: str) -> tuple[Mount, ...]:
    mounts: list[Mount] = []
    for prefix, spec in sorted(table.items()):
        logical = _logical(prefix, "mount prefix", where, prefix=True)
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"]:
            raise ConfigError(
                f"mount {prefix!r} must be a directory, or a table with 'path' (and 'include'/'exclude')",
                path=where,
            )
        unknown = set(spec) - {"path", "include", "exclude"}
        if unknown:
            raise ConfigError(f"mount {prefix!r}: unknown key {sorted(unknown)[0]!r}", path=where)
        filters = {k: check_value(k, spec[k], where) for k in ("include", "exclude") if k in spec}
        mounts.append(Mount(logical, Path(spec["path"]), **filters))
    if len({m.prefix for m in mounts}) < len(mounts):
        raise ConfigError("two mounts share one prefix", path=where)
    return tuple(mounts)


def _import_table(table: dict[str, Any], where: str, what: str = "importmap") -> ImportTable:
    pairs: list[tuple[str, str]] = []
    for specifier, target in sorted(table.items()):
        if (
            not specifier
            or specifier.startswith(("/", "./", "../"))
            or _SCHEME_LIKE.match(specifier)
            or _BAD_CHARS.search(specifier)
        ):
            raise ConfigError(
                f"[{what}] key {specifier!r} is not a bare specifier",
                path=where,
                hint="map package names such as lit or lit/ (relative and URL imports resolve without a map)",
            )
        if not isinstance(target, str):
            raise ConfigError(f"[{what}] {specifier!r} must map to a logical path (a string)", path=where)
        prefix = specifier.endswith("/")
        if prefix != target.endswith("/"):
            raise ConfigError(
                f"[{what}] {specifier!r} -> {target!r}: a key ending in '/' maps to a folder ending in '/', "
                "and only such a key does",
                path=where,
            )
        pairs.append((specifier, _logical(target, f"[{what}] target", where, prefix=prefix)))
    return tuple(pairs)


def _import_scopes(table: dict[str, Any], where: str) -> tuple[tuple[str, ImportTable], ...]:
    scopes: list[tuple[str, ImportTable]] = []
    for scope, imports in sorted(table.items()):
        name = f'importmap_scopes."{scope}"'
        key = _logical(scope, f"[{name}] scope", where, prefix=scope.endswith("/"))
        if not isinstance(imports, dict):
            raise ConfigError(f"[{name}] must be a table of specifiers", path=where)
        scopes.append((key, _import_table(imports, where, name)))
    return tuple(scopes)


def _packages(names: list[Any], where: str) -> tuple[str, ...]:
    for name in names:
        if not isinstance(name, str) or not _PACKAGE_NAME.fullmatch(name):
            raise ConfigError(f"'importmap_packages': {name!r} is not an npm package name", path=where)
    return tuple(dict.fromkeys(names))


# An npm package name (importmap.PACKAGE_NAME: config sits below importmap, so the pattern is repeated).
_PACKAGE_NAME = re.compile(r"(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*", re.IGNORECASE)
_TABLES: dict[str, Callable[[Any, str], Any]] = {
    "mounts": _mounts,
    "importmap": _import_table,
    "importmap_scopes": _import_scopes,
}
