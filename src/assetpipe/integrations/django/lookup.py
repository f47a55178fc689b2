"""The lookups behind Django's tag library, its Jinja2 globals and ManifestStorage.url: one shared helper.

The helper (``assetpipe.tags.AssetHelper`` over a ManifestReader) is made on first use, so a server may
start before the first collectstatic, and dropped when a setting changes or collectstatic has built.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from markupsafe import Markup

from assetpipe.errors import ManifestError, UnknownAsset
from assetpipe.manifest import ImportMapData, Manifest
from assetpipe.reader import ManifestReader, make_snapshot
from assetpipe.tags import AssetHelper, live_reload_script, plan_source_tag, render_importmap, render_plan

#: Settings whose change drops the shared helper (Django's override_settings sends setting_changed).
WATCHED_SETTINGS = frozenset(
    {
        "ASSETPIPE_MANIFEST",
        "ASSETPIPE_BASE_URL",
        "ASSETPIPE_AUTO_RELOAD",
        "ASSETPIPE_LIVE_RELOAD",
        "ASSETPIPE_LIVE_RELOAD_PORT",
        "DEBUG",
        "STATIC_ROOT",
        "STATIC_URL",
    }
)


class MissingAsset(UnknownAsset, ValueError):
    """An unknown logical path asked of Django: a ValueError too, as Django's own manifest storage raises
    (whitenoise and other callers of ``staticfiles_storage.url`` catch exactly that)."""


def manifest_path() -> Path:
    """ASSETPIPE_MANIFEST, else manifest.json in STATIC_ROOT (where a Django project serves files from)."""
    configured = getattr(settings, "ASSETPIPE_MANIFEST", None)
    if configured:
        return Path(configured)
    static_root = getattr(settings, "STATIC_ROOT", None)
    if not static_root:
        raise ImproperlyConfigured("assetpipe needs ASSETPIPE_MANIFEST (or STATIC_ROOT) in settings")
    return Path(static_root) / "manifest.json"


def strict() -> bool:
    """ASSETPIPE_STRICT (default True): whether an unknown logical path raises."""
    return bool(getattr(settings, "ASSETPIPE_STRICT", True))


def serve_sources() -> bool:
    """ASSETPIPE_SERVE_SOURCES (default DEBUG): give the unbuilt files' URLs, as runserver serves them."""
    value = getattr(settings, "ASSETPIPE_SERVE_SOURCES", None)
    return bool(settings.DEBUG) if value is None else bool(value)


_helper: AssetHelper | None = None
_helper_lock = threading.Lock()


def helper() -> AssetHelper:
    """The shared helper, made on first use (so a server may start before the first collectstatic)."""
    global _helper
    current = _helper
    if current is None:
        with _helper_lock:
            if _helper is None:
                auto_reload = getattr(settings, "ASSETPIPE_AUTO_RELOAD", None)
                reader = ManifestReader(
                    manifest_path(),
                    base_url=getattr(settings, "ASSETPIPE_BASE_URL", None),
                    auto_reload=bool(settings.DEBUG) if auto_reload is None else bool(auto_reload),
                )
                _helper = AssetHelper(reader)
            current = _helper
    return current


def reset(**_: Any) -> None:
    """Drop the shared helper: the next lookup reads the manifest again."""
    global _helper
    with _helper_lock:
        _helper = None


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in WATCHED_SETTINGS or setting.startswith("ASSETPIPE_"):
        reset()


setting_changed.connect(_on_setting_changed)


# -- the three lookups every template language gets ------------------------------------------------------
def _source_url(logical_path: str) -> str:
    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    if strict() and not finders.find(logical_path):
        raise MissingAsset(logical_path)
    return str(static(logical_path))


def built_url(logical_path: str) -> str | None:
    """The built file's URL. For a path the manifest lacks, or no manifest at all (a test suite that
    never ran collectstatic): None when not strict, else MissingAsset or ManifestError."""
    try:
        return helper().asset(logical_path)
    except UnknownAsset as exc:
        if strict():
            raise MissingAsset(exc.logical_path, exc.suggestions) from None
        return None
    except ManifestError as exc:
        if strict():
            raise _collectstatic_first(exc) from None
        return None


def _collectstatic_first(exc: ManifestError) -> ManifestError:
    """The library's error, with a hint naming collectstatic (its own names 'assetpipe build')."""
    hint = "run 'manage.py collectstatic' first, or set ASSETPIPE_STRICT = False in tests"
    message = exc.message.removesuffix(" (run 'assetpipe build' first)")
    return ManifestError(message, path=exc.path, hint=hint)


def asset(logical_path: str) -> str:
    """Public URL of the built file (of the source file when serving sources)."""
    if serve_sources():
        return _source_url(logical_path)
    url = built_url(logical_path)
    if url is None:
        from django.templatetags.static import static

        return str(static(logical_path))
    return url


def asset_integrity(logical_path: str) -> str:
    """SRI value of the built file; "" when serving sources (an empty integrity checks nothing)."""
    if serve_sources() or built_url(logical_path) is None:
        return ""
    return helper().integrity(logical_path)


def live_reload_tag() -> Markup:
    """The client script of ``assetpipe watch --live-reload`` when ASSETPIPE_LIVE_RELOAD (default DEBUG) is
    on, on ASSETPIPE_LIVE_RELOAD_PORT (default watch's); nothing otherwise."""
    on = getattr(settings, "ASSETPIPE_LIVE_RELOAD", None)
    if not (bool(settings.DEBUG) if on is None else bool(on)):
        return Markup()
    return live_reload_script(getattr(settings, "ASSETPIPE_LIVE_RELOAD_PORT", None))


def asset_tag(logical_path: str, **attrs: Any) -> Markup:
    """The whole tag, as ``assetpipe.tags`` renders it; for a source file without integrity or preloads."""
    if serve_sources():
        return render_plan(plan_source_tag(_source_url(logical_path), logical_path), attrs)
    if built_url(logical_path) is None:
        from django.templatetags.static import static

        return render_plan(plan_source_tag(static(logical_path), logical_path), attrs)
    return helper().tag(logical_path, **attrs)


def source_importmap() -> ImportMapData | None:
    """The map for source URLs: ASSETPIPE_BUILD's own ``importmap`` and ``importmap_scopes`` tables with
    ``static()`` URLs and no integrity (the built files' values would refuse the unbuilt ones); None
    without tables. ``importmap_packages`` are left out: the build mounts them from node_modules, which
    runserver does not serve."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.templatetags.static import static

    from assetpipe.integrations.django.options import import_tables

    # ManifestStorage's build options (its OPTIONS["build"], else ASSETPIPE_BUILD); another storage's: the
    # setting alone.
    options = getattr(staticfiles_storage, "build_options", None)
    imports, scopes = import_tables(options or getattr(settings, "ASSETPIPE_BUILD", None) or {})
    if not imports and not scopes:
        return None
    return ImportMapData(
        imports={key: str(static(target)) for key, target in imports},
        scopes={str(static(scope)): {k: str(static(t)) for k, t in table} for scope, table in scopes},
        integrity={},
    )


def importmap_tag(**attrs: Any) -> Markup:
    """``<script type="importmap">`` as ``assetpipe.tags`` renders it (the Jinja helper's output), empty
    when the build has no map; for source URLs, :func:`source_importmap`. Without a manifest: nothing
    when not strict, else ManifestError."""
    if serve_sources():
        data = source_importmap()
        # One renderer for both: the source map goes through it as a manifest without assets.
        snap = make_snapshot(Manifest(base_url="/", assets={}, importmap=data))
        return render_importmap(snap, attrs)
    try:
        return helper().importmap_tag(**attrs)
    except ManifestError as exc:
        if strict():
            raise _collectstatic_first(exc) from None
        return Markup("")
