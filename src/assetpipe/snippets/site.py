"""What every snippet serves, worked out once from the manifest: the site plan the renderers spell out.

Each renderer turns the same ``Site`` into its own server's syntax, so the semantics (which URL is
immutable, which has siblings, what is hidden) are decided here, once, and never by guessing from names.
Validation lives here too: a root or base URL that could break out of a quoted string is refused before
any renderer sees it (each syntax's quoting and refusals live in quoting.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from assetpipe.codecs import CODECS
from assetpipe.cors import DEFAULT as DEFAULT_CORS
from assetpipe.cors import Cors, parse_cors
from assetpipe.errors import ConfigError
from assetpipe.manifest import MANIFEST_NAME, Manifest
from assetpipe.snippets.quoting import CONTROL, Syntax, refuse

#: The two cache policies every snippet emits.
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
#: Preference order when a client accepts several encodings: the codec registry's (zstd where it is switched
#: on, then br, which compresses smaller than gzip, then gzip).
ENCODING_ORDER = tuple(CODECS)

#: The CORS response header every snippet sends on the assets it serves (never on the manifest or a 404).
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
# A base URL is matched literally by five different location syntaxes; only characters that mean nothing
# in any of them (and need no percent-encoding) are accepted.
_BASE_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")

WELL_KNOWN = ".well-known"


CorsSetting = Cors | str | Sequence[str] | Literal[False]


def as_cors(value: CorsSetting) -> Cors:
    """A Cors from itself or from the config file's spelling (``"*"``, a list of origins, ``False``)."""
    return value if isinstance(value, Cors) else parse_cors(value)


@dataclass(frozen=True, slots=True)
class SnippetOptions:
    """Choices a snippet needs beyond the manifest: where OUT lives on the server, the manifest rule, and
    which origins may read the assets (CORS)."""

    root: str
    serve_manifest: bool = False
    cors: Cors = field(default=DEFAULT_CORS)
    #: (route, logical paths) pairs: HTML routes whose responses get a preload Link header (_headers only).
    links: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class ServedFile:
    """One manifest entry as a server sees it; paths are relative to OUT (POSIX, decoded)."""

    path: str
    content_type: str
    immutable: bool
    #: (encoding, sibling path) in preference order, of the encodings the server serves.
    siblings: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Site:
    """A validated plan: base path, root directory and every file with its headers."""

    base_path: str  # starts and ends with "/", e.g. "/static/"
    root: str  # absolute, no trailing slash unless it is "/"
    files: tuple[ServedFile, ...]  # sorted by path
    serve_manifest: bool
    cors: Cors = field(default=DEFAULT_CORS)

    def url(self, path: str) -> str:
        """The decoded URL path under which ``path`` (relative to OUT) is served."""
        return self.base_path + path

    @property
    def manifest_path(self) -> str:
        return MANIFEST_NAME

    @property
    def vary_origin(self) -> bool:
        """True when the CORS header echoes the request's Origin: every response must then vary on it."""
        return self.cors.enabled and not self.cors.any_origin

    def immutable_paths(self) -> list[str]:
        """Immutable files and their siblings: a sibling of a hashed file is as immutable as it."""
        return sorted(p for f in self.files if f.immutable for p in _with_siblings(f))

    def mutable_paths(self) -> list[str]:
        return sorted(p for f in self.files if not f.immutable for p in _with_siblings(f))

    def paths_with_siblings(self) -> list[str]:
        """Files that have siblings, and the siblings: every response for them must carry Vary."""
        return sorted(p for f in self.files if f.siblings for p in _with_siblings(f))


def _with_siblings(served: ServedFile) -> list[str]:
    return [served.path, *(path for _, path in served.siblings)]


def base_path(base_url: str) -> str:
    """The path part of a base URL ('https://cdn.example.com/static/' -> '/static/'), validated."""
    if CONTROL.search(base_url):
        raise ConfigError(f"base URL {base_url!r} contains a control character")
    parts = urlsplit(base_url)
    path = parts.path or "/"
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise ConfigError(f"base URL {base_url!r} has a query or fragment; a base URL is a path prefix")
    if not path.startswith("/"):
        raise ConfigError(
            f"base URL {base_url!r} is relative", hint="use an absolute path such as '/static/'"
        )
    if not path.endswith("/"):
        path += "/"
    for segment in path.strip("/").split("/") if path != "/" else []:
        if segment in ("", ".", "..") or not _BASE_SEGMENT.fullmatch(segment):
            bad = sorted({c for c in segment if not _BASE_SEGMENT.fullmatch(c)})
            detail = f"character {bad[0]!r}" if bad else f"segment {segment!r}"
            raise ConfigError(
                f"base URL {base_url!r} has {detail}, which server configs cannot match literally",
                hint="use letters, digits and - . _ ~ in the base URL path",
            )
    return path


def check_root(root: str, refused: Iterable[str] = ()) -> str:
    """The root, normalised (no trailing slash); refuses what the caller's syntax cannot quote."""
    refuse(root, "root", ())
    if not root.startswith("/"):
        raise ConfigError(f"root {root!r} is not an absolute path", hint="pass --root /srv/app/static")
    refuse(root, "root", tuple(refused))
    stripped = root.rstrip("/")
    return stripped or "/"


def _check_path(path: str, logical: str, refused: Iterable[str]) -> None:
    segments = path.split("/")
    if CONTROL.search(path) or path.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise ConfigError(f"manifest entry {logical!r} has an unsafe output path {path!r}")
    if any(s.startswith(".") and s != WELL_KNOWN for s in segments):
        # Snippets never serve dot files (in-flight temp files, the build lock): a listed one is a mistake.
        # .well-known/ is the one dot folder a build publishes (RFC 8615), as sources.py does.
        raise ConfigError(f"manifest entry {logical!r} names a hidden path {path!r}, which is never served")
    for char in refused:
        if char in path:
            raise ConfigError(
                f"manifest entry {logical!r}: output path {path!r} contains {char!r}, "
                "which this server cannot match literally",
                hint="rename the source file",
            )
    if path == MANIFEST_NAME:
        raise ConfigError(
            f"manifest entry {logical!r} would be served at {MANIFEST_NAME!r}, where the manifest lives"
        )


def plan(
    manifest: Manifest, options: SnippetOptions, syntax: Syntax, encodings: Iterable[str] = ENCODING_ORDER
) -> Site:
    """Validate the inputs for ``syntax`` and list what to serve; renderers only translate the result.

    ``encodings`` are those the server can serve precompressed; other siblings are checked but not listed.
    """
    served = frozenset(encodings)
    refused_in_paths = syntax.refused_in_paths
    base = base_path(manifest.base_url)
    root = check_root(options.root, syntax.refused_in_root)
    # Origins are checked when the Cors is made (cors.py); a value typed around that check stops here.
    for origin in options.cors.origins:
        refuse(origin, "cors origin", ('"', "'", "\\", "{", "}", "$", "%", " ", ","), syntax=syntax.name)
    files: list[ServedFile] = []
    for logical, entry in manifest.assets.items():
        _check_path(entry.path, logical, refused_in_paths)
        siblings = []
        for encoding in ENCODING_ORDER:
            if encoding in entry.encodings:
                sibling = entry.encodings[encoding].path
                _check_path(sibling, logical, refused_in_paths)
                if sibling != entry.path + CODECS[encoding].suffix:
                    # Every server finds a sibling by appending the suffix to the requested name.
                    raise ConfigError(
                        f"manifest entry {logical!r}: {encoding} sibling {sibling!r} is not "
                        f"{entry.path + CODECS[encoding].suffix!r}"
                    )
                if encoding in served:
                    siblings.append((encoding, sibling))
        if CONTROL.search(entry.content_type) or '"' in entry.content_type:
            raise ConfigError(f"manifest entry {logical!r} has an unsafe content type {entry.content_type!r}")
        files.append(ServedFile(entry.path, entry.content_type, entry.immutable, tuple(siblings)))
    files.sort(key=lambda f: f.path)
    return Site(
        base_path=base,
        root=root,
        files=tuple(files),
        serve_manifest=options.serve_manifest,
        cors=options.cors,
    )


def header_comment(site: Site, server: str, prefix: str = "# ") -> list[str]:
    """The opening lines every snippet shares: what it serves, and that it is generated."""
    lines = [
        f"assetpipe {server} snippet: serves {site.base_path} from {site.root!r}.",
        "Generated from manifest.json (immutability is listed per file): regenerate after every build.",
    ]
    return [(prefix + line).rstrip() for line in lines]
