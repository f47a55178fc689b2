"""The one place that renders an asset's HTML tag, and the per-build helper every template language uses.

``AssetHelper.tag`` writes the whole tag, with Subresource Integrity, so templates cannot forget it; for a
JS module it also writes a ``<link rel="modulepreload">`` for every module the entry imports statically,
transitively, so the browser fetches the whole graph at once instead of one round trip per level. Tags
without extra attributes are rendered once per build and cached: a cached call costs a dict lookup.
Jinja (``assetpipe.jinja``) and Django's tag library (``assetpipe.integrations.django``) both call this
module; only the manifest model is seen here, never the build.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from markupsafe import Markup, escape

from assetpipe.errors import AssetpipeError
from assetpipe.hints import link_header, module_closure
from assetpipe.media_types import media_type as guess_media_type
from assetpipe.reader import ManifestReader, Snapshot

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


@functools.lru_cache(maxsize=1024)
def attr_name(key: str) -> str:
    """Keyword -> attribute name: ``class_`` -> ``class``, ``data_turbo_track`` -> ``data-turbo-track``."""
    name = key.rstrip("_").replace("_", "-") or key
    if not _ATTR_NAME.fullmatch(name):
        raise ValueError(f"not a valid HTML attribute name: {key!r}")
    return name


def attr_fragment(name: str, value: AttrValue) -> str:
    """`` name="escaped value"``; True gives a bare name, False and None give nothing."""
    if value is None or value is False:
        return ""
    if value is True:
        return f" {name}"
    return f' {name}="{escape(str(value))}"'


def module_imports(snap: Snapshot, logical_path: str) -> list[str]:
    """Every module ``logical_path`` imports statically, transitively, nearest first, each once (the entry
    itself is loaded by the script tag): the same closure the Link header preloads."""
    return module_closure(snap.manifest, logical_path)


@dataclass(frozen=True, slots=True)
class Target:
    """What a tag points at: the public URL, its SRI value (None when unknown) and the media type."""

    url: str
    integrity: str | None
    content_type: str


# -- tag kinds: element, closing tag and default attributes, one entry per kind of asset --------------
def stylesheet_attrs(target: Target) -> Attrs:
    return {
        "rel": "stylesheet",
        "href": target.url,
        "integrity": target.integrity,
        "crossorigin": "anonymous",
    }


def module_attrs(target: Target) -> Attrs:
    return {"type": "module", "src": target.url, "integrity": target.integrity, "crossorigin": "anonymous"}


def image_attrs(target: Target) -> Attrs:
    # No integrity: <img> does not support it. Pass alt="..." for anything that is not decoration.
    return {"src": target.url}


def icon_attrs(target: Target) -> Attrs:
    return {"rel": "icon", "href": target.url}


def font_attrs(target: Target) -> Attrs:
    # Fonts are always fetched in CORS mode, so the preload needs crossorigin to be reused. No integrity:
    # the @font-face request that consumes the preload carries none, and a mismatch means a second fetch.
    return {
        "rel": "preload",
        "href": target.url,
        "as": "font",
        "type": media_type(target.content_type),
        "crossorigin": "anonymous",
    }


#: kind -> (element, closing tag, default attributes)
KINDS: dict[str, tuple[str, str, Callable[[Target], Attrs]]] = {
    "stylesheet": ("link", "", stylesheet_attrs),
    "module": ("script", "</script>", module_attrs),
    "image": ("img", "", image_attrs),
    "icon": ("link", "", icon_attrs),
    "font": ("link", "", font_attrs),
}


def kind_of(content_type: str) -> str | None:
    """The tag kind for a media type, or None when no single tag is the obvious one (JSON, maps, text)."""
    kind = media_type(content_type)
    if kind == "text/css":
        return "stylesheet"
    if kind in JS_TYPES:
        return "module"
    if kind in ICON_TYPES:
        return "icon"
    if kind.startswith("image/"):
        return "image"
    if kind.startswith("font/") or kind in ("application/font-woff", "application/font-woff2"):
        return "font"
    return None


@dataclass(frozen=True, slots=True)
class TagPlan:
    """One asset's tag, worked out once per build so that a call escapes only the attributes it adds.

    ``fragments`` are the default attributes already rendered; ``preloads`` are the module's
    ``<link rel="modulepreload" href=... integrity=...`` left open for the crossorigin and nonce the
    script ends up with; ``html`` is the whole thing without extra attributes.
    """

    element: str
    end: str
    attrs: Mapping[str, AttrValue]
    fragments: Mapping[str, str]
    preloads: tuple[str, ...]
    html: Markup


def assemble(
    element: str,
    end: str,
    attrs: Mapping[str, AttrValue],
    fragments: Mapping[str, str],
    preloads: tuple[str, ...],
) -> str:
    """The element, preceded (for a module script) by its modulepreload links."""
    tag = f"<{element}{''.join(fragments.values())}>{end}"
    if not preloads or attrs.get("type") != "module":
        return tag
    # A preload must use the same CORS mode as the import that consumes it, or the browser fetches
    # twice; and under a nonce-based CSP the preload needs the script's nonce too.
    crossorigin = attr_fragment("crossorigin", attrs.get("crossorigin"))
    shared = crossorigin + attr_fragment("nonce", attrs.get("nonce"))
    return "\n".join([*(preload + shared + ">" for preload in preloads), tag])


def plan_for(logical_path: str, target: Target, preloads: tuple[str, ...] = ()) -> TagPlan:
    """The TagPlan for ``target``; AssetpipeError for a media type that has no obvious tag."""
    kind = kind_of(target.content_type)
    if kind is None:
        raise AssetpipeError(
            f"asset_tag has no tag for {logical_path!r} ({media_type(target.content_type)})",
            hint="use asset() for its URL and write the tag in the template",
        )
    element, end, defaults = KINDS[kind]
    attrs = defaults(target)
    fragments = {name: attr_fragment(name, value) for name, value in attrs.items()}
    if kind != "module":
        preloads = ()
    # Every value is escaped by attr_fragment, so this is safe markup.
    html = Markup(assemble(element, end, attrs, fragments, preloads))
    return TagPlan(element, end, attrs, fragments, preloads, html)


def plan_tag(snap: Snapshot, logical_path: str) -> TagPlan:
    """The TagPlan for a built asset: hashed URL, integrity, and the module's transitive preloads."""
    entry = snap.manifest.entry(logical_path)  # UnknownAsset with close matches
    target = Target(snap.urls[logical_path], entry.integrity, entry.content_type)
    preloads: tuple[str, ...] = ()
    if kind_of(entry.content_type) == "module":
        preloads = tuple(
            "<link"
            + attr_fragment("rel", "modulepreload")
            + attr_fragment("href", snap.urls[name])
            + attr_fragment("integrity", snap.manifest.assets[name].integrity)
            for name in module_imports(snap, logical_path)
        )
    return plan_for(logical_path, target, preloads)


def plan_source_tag(url: str, logical_path: str) -> TagPlan:
    """The TagPlan for an unbuilt source file served as it is (a dev server): no integrity, no preloads.

    The media type comes from the extension, as the build would give it; the browser discovers the
    module graph by itself, which costs round trips but nothing else on a local server.
    """
    return plan_for(logical_path, Target(url, None, guess_media_type(logical_path)))


def render_plan(plan: TagPlan, extra: Mapping[str, Any]) -> Markup:
    """The plan's tag with ``extra`` attributes: they override defaults by name (in place) or are appended."""
    if not extra:
        return plan.html
    attrs = dict(plan.attrs)
    fragments = dict(plan.fragments)
    for key, value in extra.items():
        name = attr_name(key)  # checked, so a name cannot break out of the tag
        attrs[name] = value
        fragments[name] = attr_fragment(name, value)
    return Markup(assemble(plan.element, plan.end, attrs, fragments, plan.preloads))


def render_tag(snap: Snapshot, logical_path: str, extra: Mapping[str, Any]) -> Markup:
    """The HTML for ``logical_path`` (see the module docstring), without the helper's cache."""
    return render_plan(plan_tag(snap, logical_path), extra)


def importmap_json(snap: Snapshot) -> str | None:
    """The build's import map as the JSON of a ``<script type="importmap">``, safe inside that element
    ("<", ">" and "&" escaped as JSON escapes), with the snapshot's base URL; None when there is none."""
    data = snap.manifest.importmap
    if data is None:
        return None
    built = snap.manifest.base_url if snap.manifest.base_url.endswith("/") else snap.manifest.base_url + "/"

    def rebase(url: str) -> str:  # a base URL override (a CDN) moves every URL of the map with it
        return snap.base_url + url[len(built) :] if built != snap.base_url and url.startswith(built) else url

    body = {
        "imports": {k: rebase(v) for k, v in sorted(data.imports.items())},
        "scopes": {
            rebase(s): {k: rebase(v) for k, v in sorted(t.items())} for s, t in sorted(data.scopes.items())
        },
        "integrity": {rebase(k): v for k, v in sorted(data.integrity.items())},
    }
    if not body["scopes"]:
        del body["scopes"]
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    # "</script" or "<!--" inside the element would end or change it; JSON escapes mean the same text.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_importmap(snap: Snapshot, extra: Mapping[str, Any]) -> Markup:
    """``<script type="importmap">`` with the build's map (``extra`` attributes, e.g. a nonce, added); empty
    when the build has no map. One per page, before any module script or modulepreload."""
    text = importmap_json(snap)
    if text is None:
        return Markup("")
    attrs = "".join(attr_fragment(attr_name(k), v) for k, v in extra.items() if attr_name(k) != "type")
    return Markup(f'<script type="importmap"{attrs}>{text}</script>')


class AssetHelper:
    """What a template sees, bound to one ManifestReader: ``asset``, ``integrity`` and ``tag``.

    Holds the tag cache, which belongs to one Snapshot: when the reader re-reads the manifest the next
    call finds a different snapshot and starts a fresh cache, so a rebuilt file never gets a stale tag.
    """

    __slots__ = ("_cache", "_live_reload", "reader")

    def __init__(self, reader: ManifestReader, *, live_reload: Markup | None = None) -> None:
        self.reader = reader
        self._cache: tuple[Snapshot | None, dict[str, TagPlan]] = (None, {})
        self._live_reload = live_reload if live_reload is not None else Markup()

    def asset(self, logical_path: str) -> str:
        """Public URL of the built file."""
        return self.reader.snapshot().url(logical_path)

    def integrity(self, logical_path: str) -> str:
        """Subresource Integrity value of the built file."""
        return self.reader.snapshot().manifest.entry(logical_path).integrity

    def tag(self, logical_path: str, **attrs: Any) -> Markup:
        """The HTML tag(s) that load the asset, with integrity; extra attributes pass through."""
        snap = self.reader.snapshot()
        cached_snap, plans = self._cache
        if cached_snap is not snap:
            # One tuple assignment: another thread sees either the old pair or the new one, never a mix.
            plans = {}
            self._cache = (snap, plans)
        plan = plans.get(logical_path)
        if plan is None:
            plan = plans[logical_path] = plan_tag(snap, logical_path)
        return render_plan(plan, attrs) if attrs else plan.html

    def live_reload_tag(self) -> Markup:
        """The live reload client's script tag when live reload is on; nothing otherwise."""
        return self._live_reload

    def importmap_tag(self, **attrs: Any) -> Markup:
        """The page's ``<script type="importmap">`` (see :func:`render_importmap`)."""
        return render_importmap(self.reader.snapshot(), attrs)

    def globals(self) -> dict[str, Callable[..., Any]]:
        """The template globals: asset, asset_integrity, asset_tag, importmap_tag, asset_link_header,
        live_reload_tag."""
        return {
            "asset": self.asset,
            "asset_integrity": self.integrity,
            "asset_tag": self.tag,
            "importmap_tag": self.importmap_tag,
            "asset_link_header": functools.partial(link_header, self.reader),
            "live_reload_tag": self.live_reload_tag,
        }


def live_reload_script(port: int | None = None) -> Markup:
    """``<script src="http://127.0.0.1:PORT/assetpipe-live-reload.js" async></script>`` (watch's port by
    default): the client script, served by ``assetpipe watch --live-reload``, never inlined."""
    from assetpipe.livereload import CLIENT_PATH, DEFAULT_HOST, DEFAULT_PORT

    port = DEFAULT_PORT if port is None else port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise AssetpipeError(f"live reload port must be 1-65535, not {port!r}")
    return Markup(f'<script src="http://{DEFAULT_HOST}:{port}{CLIENT_PATH}" async></script>')


__all__ = [
    "AssetHelper",
    "TagPlan",
    "Target",
    "importmap_json",
    "live_reload_script",
    "module_imports",
    "plan_for",
    "plan_source_tag",
    "plan_tag",
    "render_importmap",
    "render_plan",
    "render_tag",
]
