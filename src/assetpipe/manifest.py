"""The output side's model: manifest.json, version 1 (described by manifest.schema.json).

The template helper, the snippets, verify and clean read only this module, never the build, so any
stack (or any language) that can read the JSON can serve a build.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import is_not
from pathlib import Path
from typing import Any

from assetpipe.codecs import CODECS
from assetpipe.errors import ManifestError, UnknownAsset
from assetpipe.files import fsync_directory, write_atomic

VERSION = 1
MANIFEST_NAME = "manifest.json"
#: Names of the precompressed encodings as HTTP spells them (Content-Encoding) -> sibling suffix, from the
#: codec registry (assetpipe.codecs), in its order.
ENCODING_SUFFIXES: Mapping[str, str] = {name: codec.suffix for name, codec in CODECS.items()}


@dataclass(frozen=True, slots=True)
class Encoding:
    """A precompressed sibling of an output file."""

    path: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size}


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One built asset: where it is, what it is, and what it needs.

    ``dependencies`` are the logical paths this asset references (any kind); ``imports`` are the ones a
    JS module imports statically, the set a helper preloads with ``<link rel="modulepreload">``.
    """

    path: str
    hash: str
    integrity: str
    size: int
    content_type: str
    immutable: bool = True
    encodings: Mapping[str, Encoding] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "hash": self.hash,
            "integrity": self.integrity,
            "size": self.size,
            "content_type": self.content_type,
            "immutable": self.immutable,
            "encodings": {name: enc.to_json() for name, enc in sorted(self.encodings.items())},
            "dependencies": list(self.dependencies),
            "imports": list(self.imports),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ManifestEntry:
        return cls(
            path=str(data["path"]),
            hash=str(data["hash"]),
            integrity=str(data["integrity"]),
            size=int(data["size"]),
            content_type=str(data["content_type"]),
            immutable=bool(data.get("immutable", True)),
            encodings={
                str(name): Encoding(path=str(enc["path"]), size=int(enc["size"]))
                for name, enc in dict(data.get("encodings", {})).items()
            },
            dependencies=tuple(str(d) for d in data.get("dependencies", ())),
            imports=tuple(str(d) for d in data.get("imports", ())),
        )


@dataclass(frozen=True, slots=True)
class ImportMapData:
    """The import map a page needs, as published: specifier -> URL (top level and per scope URL), and the
    Subresource Integrity value of every module URL it can lead to. The JSON of a ``<script
    type="importmap">``; URLs carry the manifest's base URL."""

    imports: Mapping[str, str]
    scopes: Mapping[str, Mapping[str, str]]
    integrity: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "imports": dict(sorted(self.imports.items())),
            "integrity": dict(sorted(self.integrity.items())),
            "scopes": {s: dict(sorted(t.items())) for s, t in sorted(self.scopes.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportMapData:
        def table(value: Any) -> dict[str, str]:
            return {str(k): str(v) for k, v in dict(value).items()}

        return cls(
            imports=table(data.get("imports", {})),
            scopes={str(s): table(t) for s, t in dict(data.get("scopes", {})).items()},
            integrity=table(data.get("integrity", {})),
        )


_ENTRY_TEXT: dict[tuple[object, ...], str] = {}
_ENTRY_TEXT_LIMIT = 200_000


_ENTRY_TEXT_BY_ID: dict[int, tuple[ManifestEntry, str]] = {}
# key -> (entry, its whole line): a watch rebuild passes the same entries, under the same keys, again.
_LINES: dict[str, tuple[ManifestEntry, bytes]] = {}


def _entry_text(entry: ManifestEntry) -> str:
    """One entry as json.dumps(indent=2, sort_keys=True) writes it two levels deep, memoised.

    First by identity (a watch rebuild passes the same entry objects again; building the value key cost
    more than the rest of a 2,000-file rebuild), then by value.
    """
    known = _ENTRY_TEXT_BY_ID.get(id(entry))
    if known is not None and known[0] is entry:
        return known[1]
    if len(_ENTRY_TEXT_BY_ID) >= _ENTRY_TEXT_LIMIT:
        _ENTRY_TEXT_BY_ID.clear()
    key = (
        entry.path, entry.hash, entry.integrity, entry.size, entry.content_type, entry.immutable,
        tuple(sorted(entry.encodings.items())), entry.dependencies, entry.imports,
    )  # fmt: skip
    text = _ENTRY_TEXT.get(key)
    if text is None:
        if len(_ENTRY_TEXT) >= _ENTRY_TEXT_LIMIT:
            _ENTRY_TEXT.clear()
        text = _indented_entry(entry).replace("\n", "\n    ")
        _ENTRY_TEXT[key] = text
    _ENTRY_TEXT_BY_ID[id(entry)] = (entry, text)  # holding the entry keeps its id from being reused
    return text


_string = json.encoder.encode_basestring  # json.dumps(s, ensure_ascii=False), in C


def _string_list(items: tuple[str, ...]) -> str:
    return "[" + ",".join("\n    " + _string(x) for x in items) + "\n  ]" if items else "[]"


def _indented_entry(entry: ManifestEntry) -> str:
    """``json.dumps(entry.to_json(), indent=2, sort_keys=True, ensure_ascii=False)``, written out by hand.

    The indenting encoder is pure Python (the C one only writes compact JSON): this is 10x faster, and a
    no-op build, which must still compare the manifest it would write, spent a quarter of its time there.
    tests/test_manifest.py checks that the two agree.
    """
    encodings = (
        "{"
        + ",".join(
            f'\n    {_string(name)}: {{\n      "path": {_string(enc.path)},'
            f'\n      "size": {int(enc.size)}\n    }}'
            for name, enc in sorted(entry.encodings.items())
        )
        + "\n  }"
        if entry.encodings
        else "{}"
    )
    return (
        f'{{\n  "content_type": {_string(entry.content_type)},'
        f'\n  "dependencies": {_string_list(entry.dependencies)},'
        f'\n  "encodings": {encodings},'
        f'\n  "hash": {_string(entry.hash)},'
        f'\n  "immutable": {"true" if entry.immutable else "false"},'
        f'\n  "imports": {_string_list(entry.imports)},'
        f'\n  "integrity": {_string(entry.integrity)},'
        f'\n  "path": {_string(entry.path)},'
        f'\n  "size": {int(entry.size)}\n}}'
    )


def _line(key: str, entry: ManifestEntry) -> bytes:
    """The entry's whole line in the "assets" object, in UTF-8, memoised by key (and the entry's identity).

    Bytes, not text: the file is joined from them, and joining 2,000 lines of text and encoding the result
    took 20 times as long as joining their bytes.
    """
    known = _LINES.get(key)
    if known is None or known[0] is not entry:
        if len(_LINES) >= _ENTRY_TEXT_LIMIT:
            _LINES.clear()
        known = _LINES[key] = (entry, f"    {_string(key)}: {_entry_text(entry)}".encode())
    return known[1]


_Change = tuple[str, "ManifestEntry", "ManifestEntry"]  # a key, its entry serialised last, its entry now


class _AssetsText:
    """The "assets" object of the manifest serialised last: its keys and entries as they were (in the
    mapping's order), their lines in key order (and where each key's line is), and what
    :meth:`Manifest.digest` and :meth:`Manifest.output_names` derive from them (each made when first
    asked, then kept up to date)."""

    __slots__ = (
        "digests", "encoded", "index", "keys", "last_digest", "lines", "names", "undigested", "values",
    )  # fmt: skip

    def __init__(
        self,
        keys: list[str],
        values: list[ManifestEntry],
        index: dict[str, int],
        lines: list[bytes],
        digests: list[bytes],
        undigested: list[int],
        names: list[str] | None = None,
        encoded: list[str] | None = None,
    ) -> None:
        self.keys, self.values, self.index, self.lines = keys, values, index, lines
        self.digests, self.undigested = digests, undigested  # a line's sha256; undigested: to be made
        self.last_digest: tuple[bytes, str] | None = None
        # Every OUT name the entries give, sorted, and each as a JSON string; kept up to date only while
        # no two entries give the same name (never in a build's manifest), else made again when asked.
        self.names, self.encoded = names, encoded

    def digest(self, rest: bytes) -> str:
        """:meth:`Manifest.digest` of a manifest with these assets, ``rest`` the text of its others (the
        last one asked for is kept: a publish asks for it more than once)."""
        if self.last_digest is not None and self.last_digest[0] == rest:
            return self.last_digest[1]
        for i in self.undigested:
            self.digests[i] = hashlib.sha256(self.lines[i]).digest()
        self.undigested = []
        outer = hashlib.sha384(f"{len(self.digests)}\n".encode())
        outer.update(b"".join(self.digests))
        outer.update(rest)
        self.last_digest = (rest, outer.hexdigest())
        return self.last_digest[1]

    def output_names(self) -> tuple[list[str], list[str]]:
        """The sorted names, and each as JSON."""
        if self.names is None or self.encoded is None:
            given = [name for entry in self.values for name in _names_of(entry)]
            names = sorted(set(given))
            encoded = list(map(_ascii_string, names))
            if len(names) != len(given):  # a name given twice: listed once, and not kept up to date
                return names, encoded
            self.names, self.encoded = names, encoded
        return self.names, self.encoded

    def updated(self, keys: list[str], values: list[ManifestEntry], changed: list[_Change]) -> _AssetsText:
        """This text for the entries ``keys``, ``values``: the same keys as this one's, ``changed`` the
        (key, entry here, entry there) of those whose entry is not the one serialised here."""
        lines, digests, index = self.lines.copy(), self.digests.copy(), self.index
        for key, _, entry in changed:
            lines[index[key]] = _line(key, entry)
        undigested = [*self.undigested, *(index[key] for key, _, _ in changed)]
        text = _AssetsText(keys, values, index, lines, digests, undigested)
        if self.names is not None and self.encoded is not None:
            text.names, text.encoded = _renamed(self.names.copy(), self.encoded.copy(), changed)
        return text


def _renamed(
    names: list[str], encoded: list[str], changed: list[_Change]
) -> tuple[list[str] | None, list[str] | None]:
    """``names`` (sorted, each given once) and ``encoded`` with the names of each changed entry taken from
    its new entry instead of its old one; (None, None) when a name would then be given twice."""
    for _, old, _ in changed:
        for name in _names_of(old):
            i = bisect.bisect_left(names, name)
            if i == len(names) or names[i] != name:
                return None, None  # (cannot happen while each name is given once: made again if asked)
            del names[i], encoded[i]
    for _, _, new in changed:
        for name in _names_of(new):
            i = bisect.bisect_left(names, name)
            if i < len(names) and names[i] == name:
                return None, None
            names.insert(i, name)
            encoded.insert(i, _ascii_string(name))
    return names, encoded


_ascii_string = json.encoder.encode_basestring_ascii  # json.dumps(s), in C


def _names_of(entry: ManifestEntry) -> tuple[str, ...]:
    return (entry.path, *(enc.path for enc in entry.encodings.values()))


_last_assets_text: _AssetsText | None = None


def _assets_text(assets: Mapping[str, ManifestEntry]) -> _AssetsText:
    """The "assets" object's text, from the one serialised last when the keys are the same.

    A watch rebuild of a 2,000-file tree changes one or two of its entries: sorting the keys and looking up
    every line again cost more than the rest of publishing. With the same keys, only the entries that are
    not the very objects serialised last get their lines again (compared by identity with the entries as
    they were then, held in a list of their own: a dict changed in place since is seen as changed).
    """
    global _last_assets_text
    last = _last_assets_text
    keys, values = list(assets), list(assets.values())
    if last is not None and keys == last.keys:  # the same keys in the same order, as a rebuild's
        if values == last.values:  # in C, by identity first: no line to make again
            return last
        before = last.values
        at = compress(range(len(keys)), map(is_not, values, before))  # in C, by identity
        text = last.updated(keys, values, [(keys[i], before[i], values[i]) for i in at])
    elif last is not None and len(keys) == len(last.keys) and set(keys) == set(last.keys):
        old = dict(zip(last.keys, last.values, strict=True))
        changed = [(key, old[key], entry) for key, entry in assets.items() if old[key] is not entry]
        text = last.updated(keys, values, changed)
    else:
        index = {key: i for i, key in enumerate(sorted(keys))}
        lines = [b""] * len(keys)
        for key, entry in assets.items():
            lines[index[key]] = _line(key, entry)
        text = _AssetsText(keys, values, index, lines, [b""] * len(lines), list(range(len(lines))))
    _last_assets_text = text
    return text


@dataclass(frozen=True, slots=True)
class Manifest:
    """All built assets keyed by logical path (POSIX, relative to the source root)."""

    base_url: str
    assets: Mapping[str, ManifestEntry]
    version: int = VERSION
    importmap: ImportMapData | None = None  # only when the build has an import map

    # -- reading -----------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read and validate a manifest file; a missing or malformed one raises ManifestError."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ManifestError("manifest not found (run 'assetpipe build' first)", path=str(p)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"cannot read manifest: {exc}", path=str(p)) from exc
        return cls.loads(text, source=str(p))

    @classmethod
    def loads(cls, text: str, *, source: str = "<manifest>") -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"invalid JSON: {exc.msg}", path=source, line=exc.lineno, column=exc.colno
            ) from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ManifestError(f"not an assetpipe manifest of version {VERSION}", path=source)
        try:
            assets = {str(k): ManifestEntry.from_json(v) for k, v in dict(data["assets"]).items()}
            raw_map = data.get("importmap")
            importmap = ImportMapData.from_json(raw_map) if raw_map is not None else None
            return cls(base_url=str(data["base_url"]), assets=assets, importmap=importmap)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"malformed manifest: {exc!r}", path=source) from None

    # -- writing -----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "base_url": self.base_url,
            "assets": {k: self.assets[k].to_json() for k in sorted(self.assets)},
        }
        if self.importmap is not None:
            data["importmap"] = self.importmap.to_json()
        return data

    def dumps(self) -> str:
        """The file's text: exactly ``json.dumps(to_json(), indent=2, sort_keys=True)`` plus a newline.

        Byte-identical for the same build, anywhere. Built from per-entry texts that are cached across
        calls, because the indenting encoder is pure Python: on a 2,500-file tree it cost ~30 ms a call,
        most of a watch rebuild, while between two rebuilds nearly every entry is the same.
        """
        if not self.assets:
            return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        return self.encoded().decode("utf-8")

    def encoded(self) -> bytes:
        """``dumps()`` in UTF-8, the bytes of manifest.json, made without the text (publish writes these)."""
        if not self.assets:
            return self.dumps().encode("utf-8")
        # One join, the entries' lines with the rest of the file around them: each copy of a 1 MB file is a
        # large allocation, and those cost a watch rebuild more than the copying.
        parts = _assets_text(self.assets).lines.copy()
        parts[0] = b'{\n  "assets": {\n' + parts[0]
        rest = (
            f'\n  }},\n  "base_url": {json.dumps(self.base_url, ensure_ascii=False)},\n'
            + self._importmap_text()
            + f'  "version": {json.dumps(self.version)}\n}}\n'
        )
        parts[-1] += rest.encode("utf-8")
        return b",\n".join(parts)

    def digest(self) -> str:
        """A digest of :meth:`dumps`' text (hex): the same text always gives the same digest, any other
        text another. SHA-384 over the SHA-256 of each asset's line (in key order) and then the text of
        this manifest without its assets, so a watch rebuild that changed one entry hashes one line, not
        the whole file (a 2,000-file manifest is about 1 MB)."""
        rest = replace(self, assets={}).dumps().encode("utf-8")
        if not self.assets:
            return hashlib.sha384(rest).hexdigest()
        return _assets_text(self.assets).digest(rest)

    def output_names(self) -> list[str]:
        """:meth:`output_files`, sorted (a new list each call); kept up to date between the manifests
        :meth:`dumps` writes, as their lines are."""
        return list(_assets_text(self.assets).output_names()[0]) if self.assets else []

    def output_names_json(self) -> str:
        """``json.dumps(self.output_names())`` (compact), from names encoded once and kept up to date: a
        build record lists them, and encoding 6,000 names afresh, twice a watch save, was costly."""
        return "[" + ",".join(_assets_text(self.assets).output_names()[1]) + "]" if self.assets else "[]"

    def _importmap_text(self) -> str:
        if self.importmap is None:
            return ""
        text = json.dumps(self.importmap.to_json(), indent=2, sort_keys=True, ensure_ascii=False)
        return '  "importmap": ' + text.replace("\n", "\n  ") + ",\n"

    def write(self, out_dir: Path, text: str | bytes | None = None) -> Path:
        """Write OUT/manifest.json atomically (temp file in OUT, fsync, rename, fsync the directory).

        ``text`` is this manifest's ``dumps()`` (or its UTF-8 bytes) when the caller already has it.
        """
        target = out_dir / MANIFEST_NAME
        text = self.dumps() if text is None else text
        write_atomic(target, text if isinstance(text, bytes) else text.encode("utf-8"))
        fsync_directory(out_dir)
        return target

    # -- lookups -----------------------------------------------------------------------------------
    def entry(self, logical_path: str) -> ManifestEntry:
        """The entry for ``logical_path``; UnknownAsset names up to three close matches."""
        try:
            return self.assets[logical_path]
        except KeyError:
            import difflib  # only for an error's did-you-mean: not at start-up
            close = difflib.get_close_matches(logical_path, list(self.assets), n=3, cutoff=0.6)
            raise UnknownAsset(logical_path, tuple(close)) from None

    def url(self, logical_path: str, base_url: str | None = None) -> str:
        """Public URL of the built file: base URL (this manifest's, or an override) + hashed path."""
        base = self.base_url if base_url is None else base_url
        if not base.endswith("/"):
            base += "/"
        return base + self.entry(logical_path).path

    def integrity(self, logical_path: str) -> str:
        return self.entry(logical_path).integrity

    def output_files(self) -> set[str]:
        """Every path (relative to OUT) this manifest names: files and their siblings."""
        names: set[str] = set()
        add = names.add
        for entry in self.assets.values():
            add(entry.path)
            for enc in entry.encodings.values():
                add(enc.path)
        return names
