"""The import map: bare module specifiers ("lit", "lit/decorators.js") -> logical paths, and its publication.

Filled from ``[importmap]`` and ``[importmap_scopes."..."]`` in the config and from npm packages installed in
node_modules (``importmap_packages``): each package's ``exports`` (or ``module``/``main``) is read, the
package is mounted at ``vendor/<name>/`` and its ``dependencies`` followed the same way. Resolution follows
the HTML spec (exact keys, then the longest trailing-slash prefix key; the most specific matching scope
first, then the top level), over logical paths. What the browser gets (:func:`published`) has hashed URLs
only: a prefix key cannot map a folder whose files carry hashes, so it is written out as the exact
specifiers the build's modules import, and every module the map names, with its static imports, gets an
``integrity`` value.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from assetpipe.asset import is_module
from assetpipe.config import Config, ImportTable, Mount
from assetpipe.errors import BrokenReference, ConfigError
from assetpipe.manifest import ImportMapData, ManifestEntry
from assetpipe.paths import resolve_path

#: Where a package is mounted: ``vendor/lit/``, ``vendor/@lit/reactive-element/``.
VENDOR = "vendor/"
#: The conditions assetpipe's browser build matches in an ``exports`` object, most wanted first: at each
#: level of a condition object ``browser`` is tried, then ``import``, ``module`` and ``default``, whatever
#: order the package lists them in, and one that leads to no ES module falls through to the next.
CONDITIONS = ("browser", "import", "module", "default")
#: What a package's files need not publish: type declarations, docs, its own node_modules.
PACKAGE_EXCLUDE = ("node_modules/", "*.ts", "*.mts", "*.cts", "*.d.ts.map", "*.md", "/package.json")

#: An npm package name, scoped or not; nothing that could climb out of node_modules.
PACKAGE_NAME = re.compile(r"(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*", re.IGNORECASE)
_MAX_DEPTH = 32
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters a URL path keeps as they are (the same set references/resolve.py writes back).
_SAFE = "/-._~!$&*+,;=:@"


def is_bare(specifier: str) -> bool:
    """True for a specifier only an import map resolves: not relative, not absolute, no scheme."""
    s = specifier.strip()
    return bool(s) and not s.startswith(("/", "./", "../")) and not _SCHEME.match(s)


@dataclass(frozen=True, slots=True)
class ImportMap:
    """The map over logical paths, the package mounts it needs, and what could not be mapped (and why)."""

    imports: ImportTable = ()
    scopes: tuple[tuple[str, ImportTable], ...] = ()  # most specific (longest) scope first
    mounts: tuple[Mount, ...] = ()
    always: frozenset[tuple[str, str]] = frozenset()  # (scope or "", specifier): published even if unused
    configured: frozenset[tuple[str, str]] = frozenset()  # the ones written in the config file
    unavailable: Mapping[str, str] = field(default_factory=dict)  # package name -> why it is not mapped

    @property
    def active(self) -> bool:
        """True when there is a map: then every bare specifier in a module must resolve through it."""
        return bool(self.imports or self.scopes)

    def fingerprint(self) -> str:
        """Changes whenever any resolution or mount could: part of the build's settings key."""
        data = [
            self.imports, self.scopes,
            [(m.prefix, str(m.directory), m.include, m.exclude) for m in self.mounts],
            sorted(self.always), sorted(self.unavailable.items()),
        ]  # fmt: skip
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a bare specifier led: the scope whose table matched ("" for the top level) and the file."""

    scope: str
    logical_path: str


# -- resolution ---------------------------------------------------------------------------------------
def _match(table: ImportTable, specifier: str) -> str | None:
    """The HTML spec's "resolve an imports match" over logical paths (None: no key matches)."""
    best: tuple[str, str] | None = None
    for key, target in table:
        if key == specifier:
            return target
        if key.endswith("/") and specifier.startswith(key) and (best is None or len(key) > len(best[0])):
            best = (key, target)
    if best is None:
        return None
    key, target = best
    joined = posixpath.normpath(target + specifier[len(key) :])
    # A specifier that climbs out of its prefix ("lit/../x") is blocked, as in browsers.
    return joined if (joined + "/").startswith(target) and joined + "/" != target else ""


def _in_scope(scope: str, referrer: str) -> bool:
    return scope == referrer or (scope.endswith("/") and referrer.startswith(scope))


def resolve(imap: ImportMap, referrer: str, specifier: str) -> Resolved | None:
    """Where ``specifier`` imported by the module at ``referrer`` leads, or None (also for a blocked one)."""
    specifier = specifier.strip()
    for scope, table in imap.scopes:
        if _in_scope(scope, referrer):
            hit = _match(table, specifier)
            if hit is not None:
                return Resolved(scope, hit) if hit else None
    hit = _match(imap.imports, specifier)
    return Resolved("", hit) if hit else None


def check_specifier(
    imap: ImportMap, referrer: str, specifier: str, known: Collection[str], line: int, column: int
) -> Resolved:
    """``specifier`` resolved to a published module; BrokenReference naming the place, with a did-you-mean."""
    found = resolve(imap, referrer, specifier)
    if found is not None and found.logical_path in known and is_module(found.logical_path):
        return found
    spec = specifier.strip()
    if found is None:
        message = f"bare specifier {spec!r} is not in the import map"
        hint = _unavailable_hint(imap, spec) or _did_you_mean(spec, _expanded_keys(imap, referrer, known))
    else:
        what = "is not a JS module" if found.logical_path in known else "is not in the build"
        message = f"bare specifier {spec!r} maps to {found.logical_path!r}, which {what}"
        hint = _did_you_mean(spec, _expanded_keys(imap, referrer, known))
    raise BrokenReference(message, path=referrer, line=line, column=column, hint=hint)


def _expanded_keys(imap: ImportMap, referrer: str, known: Collection[str]) -> list[str]:
    """Every specifier that would resolve to a published module: exact keys, and prefix keys + files."""
    tables = [t for s, t in imap.scopes if _in_scope(s, referrer)] + [imap.imports]
    keys: list[str] = []
    for table in tables:
        for key, target in table:
            if not key.endswith("/"):
                keys.append(key)
                continue
            keys.extend(key + p[len(target) :] for p in known if p.startswith(target) and is_module(p))
    return keys


def _did_you_mean(specifier: str, keys: list[str]) -> str | None:
    import difflib  # only for an error's did-you-mean: not at start-up

    close = difflib.get_close_matches(specifier, keys, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _unavailable_hint(imap: ImportMap, specifier: str) -> str | None:
    parts = specifier.split("/")
    name = "/".join(parts[:2]) if specifier.startswith("@") else parts[0]
    reason = imap.unavailable.get(name)
    return f"package {name!r} {reason}" if reason else None


def check_targets(imap: ImportMap, known: Collection[str], config_file: str | None) -> None:
    """Every specifier the map always publishes must lead to a published module (ConfigError if not)."""
    for scope, table in (("", imap.imports), *imap.scopes):
        for key, target in table:
            if (scope, key) not in imap.always or key.endswith("/"):
                continue
            if target in known and is_module(target):
                continue
            if (scope, key) in imap.configured:
                where = "[importmap]" if not scope else f'[importmap_scopes."{scope}"]'
            else:
                where = "'importmap_packages': package"
            import difflib

            close = difflib.get_close_matches(target, [k for k in known if is_module(k)], n=1, cutoff=0.6)
            raise ConfigError(
                f"{where} {key!r} maps to {target!r}, which is not a published JS module",
                path=config_file,
                hint=f"did you mean {close[0]!r}?" if close else None,
            )


# -- publication --------------------------------------------------------------------------------------
def url_of(base_url: str, path: str) -> str:
    """The URL of a path under OUT as the browser fetches it (percent-encoded like rewritten references)."""
    return base_url + quote(path, safe=_SAFE)


def published(
    imap: ImportMap,
    uses: Iterable[tuple[str, Resolved]],
    entries: Mapping[str, ManifestEntry],
    base_url: str,
) -> ImportMapData:
    """The map the browser gets: hashed URLs for the specifiers ``uses`` (specifier, resolution) and the
    ``always`` ones, scopes as URL prefixes, and integrity for every module reachable from them."""
    tables: dict[str, dict[str, str]] = {}
    for scope, pairs in (("", imap.imports), *imap.scopes):
        for key, target in pairs:
            if (scope, key) in imap.always and target in entries:
                tables.setdefault(scope, {})[key] = target
    for specifier, found in uses:
        tables.setdefault(found.scope, {})[specifier.strip()] = found.logical_path

    def url(logical: str) -> str:
        return url_of(base_url, entries[logical].path)

    named = {logical for table in tables.values() for logical in table.values()}
    imports = {k: url(v) for k, v in sorted(tables.pop("", {}).items())}
    scopes: dict[str, dict[str, str]] = {}
    for scope, targets in sorted(tables.items()):
        scope_url = url_of(base_url, scope) if scope.endswith("/") or scope not in entries else url(scope)
        scopes[scope_url] = {k: url(v) for k, v in sorted(targets.items())}
    integrity = {url(m): entries[m].integrity for m in sorted(_closure(named, entries))}
    return ImportMapData(imports=imports, scopes=scopes, integrity=integrity)


def _closure(roots: Iterable[str], entries: Mapping[str, ManifestEntry]) -> set[str]:
    """``roots`` and every module they import statically, transitively."""
    seen: set[str] = set()
    queue = [r for r in roots if r in entries]
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        queue.extend(d for d in entries[name].imports if d in entries and d not in seen)
    return seen


# -- loading: the config's tables and the npm packages ------------------------------------------------
def load(config: Config) -> ImportMap:
    """The import map of ``config``: its own tables over the packages' (the config's keys win)."""
    where = str(config.config_file) if config.config_file is not None else None
    imports: dict[str, str] = {}
    scopes: dict[str, dict[str, str]] = {}
    mounts: list[Mount] = []
    always: set[tuple[str, str]] = set()
    unavailable: dict[str, str] = {}
    if config.importmap_packages:
        root = config.node_modules or (config.source.parent / "node_modules")
        npm = _Packages(resolve_path(root, "node_modules"), where)
        npm.add_all(config.importmap_packages)
        imports, scopes, mounts, unavailable = npm.imports, npm.scopes, npm.mounts, npm.unavailable
        always = {("", name) for name in config.importmap_packages}
    imports.update(config.importmap)
    configured = {("", k) for k, _ in config.importmap}
    for scope, table in config.importmap_scopes:
        scopes.setdefault(scope, {}).update(table)
        configured |= {(scope, k) for k, _ in table}
    return ImportMap(
        imports=tuple(sorted(imports.items())),
        # The HTML spec tries scopes in descending code-unit order: a longer prefix before its parent.
        scopes=tuple(sorted(((s, tuple(sorted(t.items()))) for s, t in scopes.items()), reverse=True)),
        mounts=tuple(mounts),
        always=frozenset(always | configured),
        configured=frozenset(configured),
        unavailable=unavailable,
    )


class NoModuleBuild(Exception):
    """A package has no ES module build assetpipe can map (internal: becomes a ConfigError or a hint)."""


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package: where it is, what it is called, where it is mounted."""

    name: str
    version: str
    directory: Path  # resolved
    prefix: str  # logical, "vendor/lit/"
    data: Mapping[str, Any]


class _Packages:
    """Reads packages from ``root`` (a node_modules folder) and collects their map entries and mounts."""

    def __init__(self, root: Path, where: str | None) -> None:
        self.root = root
        self.where = where
        self.imports: dict[str, str] = {}
        self.scopes: dict[str, dict[str, str]] = {}
        self.mounts: list[Mount] = []
        self.unavailable: dict[str, str] = {}
        self.by_directory: dict[Path, Package] = {}
        self.prefixes: set[str] = set()

    def add_all(self, names: Iterable[str]) -> None:
        queue: list[tuple[str, Path, Package | None]] = []
        for name in names:
            directory = self.root / name
            if not (directory / "package.json").is_file():
                raise ConfigError(
                    f"'importmap_packages': package {name!r} is not installed in {self.root}",
                    path=self.where,
                    hint=f"run 'npm install {name}' beside the config file, or set 'node_modules'",
                )
            queue.append((name, directory, None))
        while queue:
            name, directory, dependent = queue.pop(0)
            real = resolve_path(directory, "package directory")
            known = self.by_directory.get(real)
            package = known or self._read(name, real)
            try:
                table = entries(package)
            except NoModuleBuild as exc:
                if dependent is None:
                    raise ConfigError(
                        f"'importmap_packages': package {name!r} has no ES module build ({exc})",
                        path=str(real / "package.json"),
                        hint="import maps load ES modules only: use a build with import/export",
                    ) from None
                self.unavailable.setdefault(name, f"has no ES module build ({exc})")
                continue
            self._place(package, table, dependent)
            if known is not None:
                continue
            self.by_directory[real] = package
            self.mounts.append(Mount(package.prefix, real, exclude=PACKAGE_EXCLUDE))
            for dep in sorted(_dependencies(package, self.where)):
                found = self._locate(dep, real)
                if found is None:
                    missing = f"is a dependency of {name!r} not installed in node_modules"
                    self.unavailable.setdefault(dep, missing)
                else:
                    queue.append((dep, found, package))

    def _read(self, name: str, directory: Path) -> Package:
        path = directory / "package.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ConfigError(f"cannot read package.json: {exc!s:.200}", path=str(path)) from None
        if not isinstance(data, dict):
            raise ConfigError("package.json is not a JSON object", path=str(path))
        version = str(data.get("version", "0"))
        prefix = f"{VENDOR}{name}/"
        top_level = directory == resolve_path(self.root / name, "package directory")
        if prefix in self.prefixes or not top_level:  # a second copy (another version) of the package
            prefix = f"{VENDOR}{name}@{version}/"
            n = 2
            while prefix in self.prefixes:
                prefix, n = f"{VENDOR}{name}@{version}-{n}/", n + 1
        self.prefixes.add(prefix)
        return Package(name, version, directory, prefix, data)

    def _place(self, package: Package, table: dict[str, str], dependent: Package | None) -> None:
        """Top level for the copy node_modules has at its root; else scoped to the package that needs it."""
        top_level = package.directory == resolve_path(self.root / package.name, "package directory")
        own = (package.name, package.name + "/")
        mapped = {v for k, v in self.imports.items() if k == own[0] or k.startswith(own[1])}
        if top_level and (not mapped or mapped <= set(table.values())):
            self.imports.update(table)
        elif dependent is not None:
            self.scopes.setdefault(dependent.prefix, {}).update(table)

    def _locate(self, name: str, directory: Path) -> Path | None:
        """Node's lookup: ``node_modules/<name>`` beside the package, then in each folder above it, up to
        the project (the folder that holds ``root``)."""
        for folder in (directory, *directory.parents):
            if folder.name != "node_modules":
                candidate = folder / "node_modules" / name
                if (candidate / "package.json").is_file():
                    return candidate
            if folder == self.root.parent:
                break
        return None


def _dependencies(package: Package, where: str | None) -> list[str]:
    deps = package.data.get("dependencies") or {}
    if not isinstance(deps, dict):
        raise ConfigError("'dependencies' is not an object", path=str(package.directory / "package.json"))
    # Type declarations are never loaded by a browser; a name that is no npm name ("../x") is never a path.
    return [d for d in map(str, deps) if PACKAGE_NAME.fullmatch(d) and not d.startswith("@types/")]


def entries(package: Package) -> dict[str, str]:
    """The import map entries for ``package``: its name and exported subpaths -> logical paths."""
    data, name, prefix = package.data, package.name, package.prefix
    es_package = data.get("type") == "module"
    exports = data.get("exports")
    table: dict[str, str] = {}
    if exports is not None:
        subpaths = _subpaths(exports)
        for subpath, value in subpaths.items():
            target = _pick(value, es_package, pattern="*" in subpath)
            if target is None:
                continue
            if subpath.count("*") == 1 and target.count("*") == 1:
                key_head, key_tail = subpath[2:].split("*")
                target_head, target_tail = target[2:].split("*")
                if (
                    key_tail == target_tail
                    and (key_head == "" or key_head.endswith("/"))
                    and (target_head == "" or target_head.endswith("/"))
                ):  # "./x/*" -> "./y/*" (or with one suffix on both sides) is a prefix mapping
                    table[f"{name}/{key_head}"] = prefix + target_head
                continue
            if "*" in subpath or "*" in target:
                continue
            key = name if subpath == "." else f"{name}/{subpath[2:]}"
            table[key] = prefix + posixpath.normpath(target[2:])
        if name not in table:
            raise NoModuleBuild("its exports give no browser/import/module/default ES module for '.'")
        return table
    for fieldname in ("module", "main"):
        value = data.get(fieldname)
        if isinstance(value, str) and value:
            target = posixpath.normpath(value.removeprefix("./"))
            if not posixpath.splitext(target)[1]:
                target += ".js"
            es = fieldname == "module" or es_package or target.endswith(".mjs")
            if es and is_module(target) and not target.startswith("../"):
                table[name] = prefix + target
                break
    if name not in table:
        raise NoModuleBuild("no 'exports', and neither 'module' nor an ES 'main'")
    # Without "exports" every file of a package may be imported by path.
    table[f"{name}/"] = prefix
    return table


def _subpaths(exports: Any) -> dict[str, Any]:
    """``exports`` as {subpath: value}: a string, array or condition object is the "." entry alone."""
    if isinstance(exports, dict) and exports and all(str(k).startswith(".") for k in exports):
        return {str(k): v for k, v in exports.items()}
    return {".": exports}


def _pick(value: Any, es: bool, *, pattern: bool = False, depth: int = 0) -> str | None:
    """The target a browser build takes from an exports value: the first ES module inside the package that
    the conditions lead to, trying them in :data:`CONDITIONS` order at every level; None if there is none.

    ``es`` says whether a plain ``.js`` target is an ES module here (the package is ``"type": "module"``, or
    an ``import``/``module`` condition led here); ``pattern`` is set for a subpath pattern (``"./x/*"``),
    whose targets hold a ``*`` instead of a file name. A value that leads to nothing usable (``null``, a
    CommonJS file, a condition object with no match) lets the next condition, or array item, have its turn.
    """
    if depth > _MAX_DEPTH:
        return None  # no real package nests conditions this deep; a hostile one gets no entry, not a crash
    if isinstance(value, str):
        return value if _usable(value, es, pattern) else None
    if isinstance(value, list):  # fallbacks, in order
        for item in value:
            picked = _pick(item, es, pattern=pattern, depth=depth + 1)
            if picked is not None:
                return picked
        return None
    if isinstance(value, dict):
        for condition in CONDITIONS:
            if condition in value:
                inner_es = es or condition in ("import", "module")
                picked = _pick(value[condition], inner_es, pattern=pattern, depth=depth + 1)
                if picked is not None:
                    return picked
    return None


def _usable(target: str, es: bool, pattern: bool) -> bool:
    """True for a target a browser can load as an ES module: inside the package (as Node requires), not
    CommonJS (``.cjs``, or ``.js`` outside an ES context), and a JS file (or, for a pattern, a pattern)."""
    if not target.startswith("./") or ".." in target.split("/") or "\\" in target:
        return False
    if target.endswith(".cjs") or not (es or target.endswith(".mjs")):
        return False
    return target.count("*") == 1 if pattern else "*" not in target and is_module(target)


__all__ = [
    "ImportMap",
    "Resolved",
    "check_specifier",
    "check_targets",
    "entries",
    "is_bare",
    "load",
    "published",
    "resolve",
]
