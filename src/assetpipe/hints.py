"""Preload hints: the ``Link`` header value that lets a browser (or a CDN's 103 Early Hints) fetch a page's
critical assets before the HTML that uses them arrives.

Each hint must describe the request the page will make, or the browser fetches twice: the same hashed URL,
the same destination (``as=``), the same CORS mode (``crossorigin`` on stylesheets and modules, because the
helper's tags carry it, and on fonts, which are always fetched in CORS mode) and the same integrity. A
module brings its static import closure as ``modulepreload`` hints, nearest first, as ``asset_tag`` does.
Only the manifest model is used here, so the template helper and the ``_headers`` snippet share it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, cast
from urllib.parse import quote

from assetpipe.errors import AssetpipeError, ManifestError
from assetpipe.manifest import Manifest

JS_TYPES = frozenset(
    {"text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript"}
)
# Printable ASCII that a browser keeps as written when it parses a URL path (the URL Standard's path
# percent-encode set is the rest: space " # < > ? ` { }, controls, non-ASCII; a backslash is a slash in
# http(s) URLs). Encoding exactly the rest makes the hint's URL the one the tag's href is fetched as:
# a preload under any other spelling is a second download.
_URL_SAFE = "!$%&'()*+,/:;=@[]^|-._~"
# What may go inside the header's quoted strings: a manifest read from disk is input like any other, and
# a quote or a newline in it must not reach a response header.
_INTEGRITY = re.compile(r"sha(256|384|512)-[A-Za-z0-9+/]+={0,2}")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


# The values of the last manifest a header was made for: a page sends the same few lists on every request
# (a hint costs ~20 us to work out, a hit a dict lookup). Bounded, and dropped when the manifest changes.
_CACHE_LIMIT = 256
_cache: tuple[Manifest | None, dict[tuple[str | None, tuple[str, ...]], str]] = (None, {})


@dataclass(frozen=True, slots=True)
class Hint:
    """One link-value of the header: ``<url>; rel=...; as=...; ...``."""

    url: str  # percent-encoded, ready for a header
    rel: str  # "preload" or "modulepreload"
    destination: str | None = None  # the as= value; None for modulepreload (its default is script)
    media_type: str | None = None  # type=, for fonts: lets a browser skip a format it cannot use
    crossorigin: bool = False
    integrity: str | None = None

    def link_value(self) -> str:
        """``<url>; rel=preload; as=style; crossorigin=anonymous; integrity="sha384-..."``."""
        params = [f"<{self.url}>", f"rel={self.rel}"]
        if self.destination is not None:
            params.append(f"as={self.destination}")
        if self.media_type is not None:
            params.append(f'type="{self.media_type}"')
        if self.crossorigin:
            params.append("crossorigin=anonymous")
        if self.integrity is not None:
            params.append(f'integrity="{self.integrity}"')
        return "; ".join(params)


class _Snapshot(Protocol):
    @property
    def manifest(self) -> Manifest: ...
    @property
    def base_url(self) -> str: ...


class _Reader(Protocol):
    def snapshot(self) -> _Snapshot: ...


def media_type(content_type: str) -> str:
    """``text/css; charset=utf-8`` -> ``text/css``."""
    return content_type.split(";", 1)[0].strip().lower()


def module_closure(manifest: Manifest, logical_path: str) -> list[str]:
    """Every module ``logical_path`` imports statically, transitively, nearest first, each once.

    Breadth-first with a seen-set: import cycles are legal in JS, and the entry itself is never listed.
    """
    assets = manifest.assets
    seen = {logical_path}
    order: list[str] = []
    queue = [logical_path]
    for current in queue:  # the list grows while we walk it: a queue without popping
        for name in assets[current].imports:
            if name in seen:
                continue
            if name not in assets:
                raise ManifestError(f"{current!r} imports {name!r}, which the manifest does not list")
            seen.add(name)
            order.append(name)
            queue.append(name)
    return order


def _url(base_url: str, path: str) -> str:
    """The URL as the browser requests the tag's href, which is also ASCII with no '<', '>' or space."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return quote(base + path, safe=_URL_SAFE)


def hint_for(manifest: Manifest, logical_path: str, base_url: str) -> Hint:
    """The hint that matches the request the helper's tag (or a font's @font-face) will make."""
    entry = manifest.entry(logical_path)  # UnknownAsset with close matches
    kind = media_type(entry.content_type)
    if not _MEDIA_TYPE.fullmatch(kind):
        raise ManifestError(
            f"manifest entry {logical_path!r} has an invalid content type {entry.content_type!r}"
        )
    if not _INTEGRITY.fullmatch(entry.integrity):
        raise ManifestError(f"manifest entry {logical_path!r} has an invalid integrity {entry.integrity!r}")
    url = _url(base_url, entry.path)
    if kind == "text/css":
        return Hint(url, "preload", "style", crossorigin=True, integrity=entry.integrity)
    if kind in JS_TYPES:
        return Hint(url, "modulepreload", crossorigin=True, integrity=entry.integrity)
    if kind.startswith("font/") or kind in ("application/font-woff", "application/font-woff2"):
        # No integrity: the @font-face request that uses the preload carries none.
        return Hint(url, "preload", "font", media_type=kind, crossorigin=True)
    if kind.startswith("image/"):
        # An <img> or a CSS background is fetched without CORS, so the hint has no crossorigin.
        return Hint(url, "preload", "image")
    raise AssetpipeError(
        f"no preload hint for {logical_path!r} ({kind})",
        hint="preload stylesheets, scripts, fonts and images",
    )


def hints(manifest: Manifest, logical_paths: Iterable[str], base_url: str | None = None) -> tuple[Hint, ...]:
    """The hints for ``logical_paths`` in the order given, each module followed by its import closure;
    every asset once (the first place it is named)."""
    base = manifest.base_url if base_url is None else base_url
    if isinstance(logical_paths, str):
        raise TypeError("logical_paths is a list of logical paths, not one string")
    seen: set[str] = set()
    result: list[Hint] = []
    for logical in logical_paths:
        hint = hint_for(manifest, logical, base)
        names = [logical, *module_closure(manifest, logical)] if hint.rel == "modulepreload" else [logical]
        for name in names:
            if name not in seen:
                seen.add(name)
                result.append(hint if name == logical else hint_for(manifest, name, base))
    return tuple(result)


def link_header(
    source: Manifest | _Snapshot | _Reader, logical_paths: Iterable[str], *, base_url: str | None = None
) -> str:
    """The ``Link`` header value preloading ``logical_paths`` (see the module docstring).

    ``source`` is a ManifestReader (its current snapshot and base URL), a Snapshot, or a Manifest (its own
    base URL unless ``base_url`` is given).
    """
    if isinstance(source, Manifest):
        manifest, base = source, base_url
    else:
        # One snapshot for both, so a reload in between cannot mix two builds.
        snapshot = getattr(source, "snapshot", None)
        snap = cast(_Snapshot, snapshot() if snapshot is not None else source)
        manifest, base = snap.manifest, base_url or snap.base_url
    if isinstance(logical_paths, str):
        raise TypeError("logical_paths is a list of logical paths, not one string")
    paths = tuple(logical_paths)
    global _cache
    cached_manifest, values = _cache
    if cached_manifest is not manifest:
        # A new build (or another manifest): start afresh. One tuple assignment, so another thread sees
        # either the old pair or the new one, never a mix.
        values = {}
        _cache = (manifest, values)
    key = (base, paths)
    value = values.get(key)
    if value is None:
        value = ", ".join(hint.link_value() for hint in hints(manifest, paths, base))
        if len(values) < _CACHE_LIMIT:
            values[key] = value
    return value
