"""Jinja2 helper: ``asset()``, ``asset_integrity()`` and ``asset_tag()`` in every template.

``asset_tag`` writes the whole tag, with Subresource Integrity, so templates cannot forget it; for a JS
module it also writes a ``<link rel="modulepreload">`` for every module the entry imports statically,
transitively, so the browser fetches the whole graph at once instead of one round trip per level. Tags
without extra attributes are rendered once per build and cached: a cached call costs a dict lookup.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from jinja2 import Environment
from jinja2.ext import Extension
from markupsafe import Markup, escape

from assetpipe.errors import AssetpipeError, ManifestError
from assetpipe.reader import ManifestReader, Snapshot

#: Where the Jinja2 extension looks for the manifest when ``env.assetpipe_manifest`` is not set.
MANIFEST_VARIABLE = "ASSETPIPE_MANIFEST"
DEFAULT_MANIFEST = "dist/manifest.json"

AttrValue: TypeAlias = "str | int | float | bool | None"
Attrs: TypeAlias = "dict[str, AttrValue]"

# An HTML attribute name may contain neither whitespace, quotes, '>', '/', '=' nor control characters;
# refusing them here is what makes passing user-chosen names through safe.
_ATTR_NAME = re.compile(r"[^\s\"'>/=\x00-\x1f\x7f]+")

JS_TYPES = frozenset(
    {"text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript"}
)
ICON_TYPES = frozenset({"image/x-icon", "image/vnd.microsoft.icon"})


def media_type(content_type: str) -> str:
    """``text/css; charset=utf-8`` -> ``text/css``."""
    return content_type.split(";", 1)[0].strip().lower()


def attr_name(key: str) -> str:
    """Keyword -> attribute name: ``class_`` -> ``class``, ``data_turbo_track`` -> ``data-turbo-track``."""
    name = key.rstrip("_").replace("_", "-") or key
    if not _ATTR_NAME.fullmatch(name):
        raise ValueError(f"not a valid HTML attribute name: {key!r}")
    return name


def merge_attrs(defaults: Attrs, extra: Mapping[str, Any]) -> Attrs:
    """Extra attributes override the defaults by name (in place, keeping order) or are appended."""
    merged = dict(defaults)
    for key, value in extra.items():
        merged[attr_name(key)] = value
    return merged


def render_attrs(attrs: Mapping[str, AttrValue]) -> str:
    """`` name="escaped value"`` for each attribute; True gives a bare name, False and None omit it."""
    parts = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {name}")
        else:
            parts.append(f' {name}="{escape(str(value))}"')
    return "".join(parts)


def module_imports(snap: Snapshot, logical_path: str) -> list[str]:
    """Every module ``logical_path`` imports statically, transitively, nearest first, each once.

    Breadth-first with a seen-set: import cycles are legal in JS, and the entry itself is never listed
    (it is loaded by the script tag).
    """
    assets = snap.manifest.assets
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


# -- tags, one builder per kind of asset -------------------------------------------------------------
TagBuilder: TypeAlias = "Callable[[Snapshot, str, Mapping[str, Any]], str]"


def stylesheet_tag(snap: Snapshot, logical_path: str, extra: Mapping[str, Any]) -> str:
    entry = snap.manifest.assets[logical_path]
    defaults: Attrs = {
        "rel": "stylesheet",
        "href": snap.urls[logical_path],
        "integrity": entry.integrity,
        "crossorigin": "anonymous",
    }
    return f"<link{render_attrs(merge_attrs(defaults, extra))}>"


def module_tag(snap: Snapshot, logical_path: str, extra: Mapping[str, Any]) -> str:
    entry = snap.manifest.assets[logical_path]
    defaults: Attrs = {
        "type": "module",
        "src": snap.urls[logical_path],
        "integrity": entry.integrity,
        "crossorigin": "anonymous",
    }
    attrs = merge_attrs(defaults, extra)
    tags = []
    if attrs.get("type") == "module":
        # A preload must use the same CORS mode as the import that consumes it, or the browser fetches
        # twice; and under a nonce-based CSP the preload needs the script's nonce too.
        shared: Attrs = {"crossorigin": attrs.get("crossorigin")}
        if attrs.get("nonce") is not None:
            shared["nonce"] = attrs["nonce"]
        for name in module_imports(snap, logical_path):
            preload: Attrs = {
                "rel": "modulepreload",
                "href": snap.urls[name],
                "integrity": snap.manifest.assets[name].integrity,
                **shared,
            }
            tags.append(f"<link{render_attrs(preload)}>")
    tags.append(f"<script{render_attrs(attrs)}></script>")
    return "\n".join(tags)


def image_tag(snap: Snapshot, logical_path: str, extra: Mapping[str, Any]) -> str:
    # No integrity: <img> does not support it. Pass alt="..." for anything that is not decoration.
    return f"<img{render_attrs(merge_attrs({'src': snap.urls[logical_path]}, extra))}>"


def icon_tag(snap: Snapshot, logical_path: str, extra: Mapping[str, Any]) -> str:
    return f"<link{render_attrs(merge_attrs({'rel': 'icon', 'href': snap.urls[logical_path]}, extra))}>"


def font_tag(snap: Snapshot, logical_path: str, extra: Mapping[str, Any]) -> str:
    # Fonts are always fetched in CORS mode, so the preload needs crossorigin to be reused. No integrity:
    # the @font-face request that consumes the preload carries none, and a mismatch means a second fetch.
    defaults: Attrs = {
        "rel": "preload",
        "href": snap.urls[logical_path],
        "as": "font",
        "type": media_type(snap.manifest.assets[logical_path].content_type),
        "crossorigin": "anonymous",
    }
    return f"<link{render_attrs(merge_attrs(defaults, extra))}>"


def tag_builder(content_type: str) -> TagBuilder | None:
    """The builder for a media type, or None when no single tag is the obvious one (JSON, maps, text)."""
    kind = media_type(content_type)
    if kind == "text/css":
        return stylesheet_tag
    if kind in JS_TYPES:
        return module_tag
    if kind in ICON_TYPES:
        return icon_tag
    if kind.startswith("image/"):
        return image_tag
    if kind.startswith("font/") or kind in ("application/font-woff", "application/font-woff2"):
        return font_tag
    return None


def render_tag(snap: Snapshot, logical_path: str, extra: Mapping[str, Any]) -> Markup:
    """The HTML for ``logical_path`` (see the module docstring); AssetpipeError for a type with no tag."""
    entry = snap.manifest.entry(logical_path)  # UnknownAsset with close matches
    builder = tag_builder(entry.content_type)
    if builder is None:
        raise AssetpipeError(
            f"asset_tag has no tag for {logical_path!r} ({media_type(entry.content_type)})",
            hint="use asset() for its URL and write the tag in the template",
        )
    # Every value is escaped by render_attrs and every name checked by attr_name, so this is safe markup.
    return Markup(builder(snap, logical_path, extra))


class AssetHelper:
    """What a template sees, bound to one ManifestReader; ``install`` puts its methods into env.globals.

    Holds the tag cache, which belongs to one Snapshot: when the reader re-reads the manifest the next
    call finds a different snapshot and starts a fresh cache, so a rebuilt file never gets a stale tag.
    """

    __slots__ = ("_cache", "reader")

    def __init__(self, reader: ManifestReader) -> None:
        self.reader = reader
        self._cache: tuple[Snapshot | None, dict[str, Markup]] = (None, {})

    def asset(self, logical_path: str) -> str:
        """Public URL of the built file."""
        return self.reader.snapshot().url(logical_path)

    def integrity(self, logical_path: str) -> str:
        """Subresource Integrity value of the built file."""
        return self.reader.snapshot().manifest.entry(logical_path).integrity

    def tag(self, logical_path: str, **attrs: Any) -> Markup:
        """The HTML tag(s) that load the asset, with integrity; extra attributes pass through."""
        snap = self.reader.snapshot()
        if attrs:
            return render_tag(snap, logical_path, attrs)
        cached_snap, tags = self._cache
        if cached_snap is not snap:
            # One tuple assignment: another thread sees either the old pair or the new one, never a mix.
            tags = {}
            self._cache = (snap, tags)
        try:
            return tags[logical_path]
        except KeyError:
            markup = tags[logical_path] = render_tag(snap, logical_path, {})
            return markup

    def globals(self) -> dict[str, Callable[..., Any]]:
        """The template globals: asset, asset_integrity, asset_tag."""
        return {"asset": self.asset, "asset_integrity": self.integrity, "asset_tag": self.tag}


def install(
    env: Environment,
    manifest_path: str | os.PathLike[str],
    *,
    base_url: str | None = None,
    auto_reload: bool = False,
) -> AssetHelper:
    """Put asset(), asset_integrity() and asset_tag() into ``env.globals``; returns the helper.

    Without auto_reload the manifest is read now, so a missing build fails at start-up, not mid-request.
    """
    helper = AssetHelper(ManifestReader(manifest_path, base_url=base_url, auto_reload=auto_reload))
    env.globals.update(helper.globals())
    return helper


class _LazyHelper:
    """The extension's globals: the helper is made on first use, once the environment's attributes are set."""

    __slots__ = ("_env", "_helper")

    def __init__(self, env: Environment) -> None:
        self._env = env
        self._helper: AssetHelper | None = None

    def get(self) -> AssetHelper:
        helper = self._helper
        if helper is None:
            env: Any = self._env
            path = env.assetpipe_manifest or os.environ.get(MANIFEST_VARIABLE) or DEFAULT_MANIFEST
            reader = ManifestReader(
                path, base_url=env.assetpipe_base_url, auto_reload=env.assetpipe_auto_reload
            )
            helper = self._helper = AssetHelper(reader)
        return helper

    def asset(self, logical_path: str) -> str:
        return self.get().asset(logical_path)

    def integrity(self, logical_path: str) -> str:
        return self.get().integrity(logical_path)

    def tag(self, logical_path: str, **attrs: Any) -> Markup:
        return self.get().tag(logical_path, **attrs)


class AssetPipeExtension(Extension):
    """``Environment(extensions=[AssetPipeExtension])``: the same globals as ``install``.

    Configure through the environment after creating it: ``env.assetpipe_manifest`` (else the
    ASSETPIPE_MANIFEST variable, else dist/manifest.json), ``env.assetpipe_base_url`` and
    ``env.assetpipe_auto_reload``. The manifest is read on the first call.
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.extend(assetpipe_manifest=None, assetpipe_base_url=None, assetpipe_auto_reload=False)
        lazy = _LazyHelper(environment)
        environment.globals.update(asset=lazy.asset, asset_integrity=lazy.integrity, asset_tag=lazy.tag)


__all__ = [
    "AssetHelper",
    "AssetPipeExtension",
    "install",
    "module_imports",
    "render_attrs",
    "render_tag",
]
