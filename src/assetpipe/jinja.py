"""Jinja2 helper: ``asset()``, ``asset_integrity()`` and ``asset_tag()`` in every template.

The helper and the tag rendering live in ``assetpipe.tags`` (Django's tag library uses them too); this
module puts them into a Jinja2 Environment, by ``install`` or as an extension.
"""

from __future__ import annotations

import os
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension
from markupsafe import Markup

from assetpipe.hints import link_header
from assetpipe.reader import ManifestReader
from assetpipe.tags import (
    AssetHelper,
    TagPlan,
    importmap_json,
    live_reload_script,
    module_imports,
    plan_tag,
    render_importmap,
    render_plan,
    render_tag,
)

#: Where the Jinja2 extension looks for the manifest when ``env.assetpipe_manifest`` is not set.
MANIFEST_VARIABLE = "ASSETPIPE_MANIFEST"
DEFAULT_MANIFEST = "dist/manifest.json"


def install(
    env: Environment,
    manifest_path: str | os.PathLike[str],
    *,
    base_url: str | None = None,
    auto_reload: bool = False,
    live_reload: bool = False,
    live_reload_port: int | None = None,
) -> AssetHelper:
    """Put asset(), asset_integrity(), asset_tag(), asset_link_header() and live_reload_tag() into
    ``env.globals``.

    Without auto_reload the manifest is read now, so a missing build fails at start-up, not mid-request.
    ``live_reload`` makes live_reload_tag() load the client of ``assetpipe watch --live-reload`` (on
    ``live_reload_port``, by default watch's); off, it renders nothing. Returns the helper.
    """
    script = live_reload_script(live_reload_port) if live_reload else None
    reader = ManifestReader(manifest_path, base_url=base_url, auto_reload=auto_reload)
    helper = AssetHelper(reader, live_reload=script)
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
            script = live_reload_script(env.assetpipe_live_reload_port) if env.assetpipe_live_reload else None
            helper = self._helper = AssetHelper(reader, live_reload=script)
        return helper

    def asset(self, logical_path: str) -> str:
        return self.get().asset(logical_path)

    def integrity(self, logical_path: str) -> str:
        return self.get().integrity(logical_path)

    def tag(self, logical_path: str, **attrs: Any) -> Markup:
        return self.get().tag(logical_path, **attrs)

    def live_reload_tag(self) -> Markup:
        return self.get().live_reload_tag()


class AssetPipeExtension(Extension):
    """``Environment(extensions=[AssetPipeExtension])``: the same globals as ``install``.

    Configure through the environment after creating it: ``env.assetpipe_manifest`` (else the
    ASSETPIPE_MANIFEST variable, else dist/manifest.json), ``env.assetpipe_base_url`` and
    ``env.assetpipe_auto_reload``, ``env.assetpipe_live_reload`` and ``env.assetpipe_live_reload_port``.
    The manifest is read on the first call.
    """

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.extend(assetpipe_manifest=None, assetpipe_base_url=None, assetpipe_auto_reload=False)
        environment.extend(assetpipe_live_reload=False, assetpipe_live_reload_port=None)
        lazy = _LazyHelper(environment)
        environment.globals.update(asset=lazy.asset, asset_integrity=lazy.integrity, asset_tag=lazy.tag)
        environment.globals["asset_link_header"] = lambda paths: link_header(lazy.get().reader, paths)
        environment.globals.update(live_reload_tag=lazy.live_reload_tag)
        environment.globals["importmap_tag"] = lambda **attrs: lazy.get().importmap_tag(**attrs)


__all__ = [
    "AssetHelper",
    "AssetPipeExtension",
    "TagPlan",
    "importmap_json",
    "install",
    "live_reload_script",
    "module_imports",
    "plan_tag",
    "render_importmap",
    "render_plan",
    "render_tag",
]
