"""Flask: ``AssetPipe(app)`` (or ``init_app`` in an app factory) puts the helper into every template.

Configuration, from ``app.config``:

``ASSETPIPE_MANIFEST``     path of manifest.json, relative to ``app.root_path`` (default dist/manifest.json)
``ASSETPIPE_BASE_URL``     base URL override (default: ASSETPIPE_BASE_URL variable, else the manifest's)
``ASSETPIPE_AUTO_RELOAD``  re-read the manifest when it changes (default None: on when ``app.debug``,
                           like Flask's own TEMPLATES_AUTO_RELOAD)
``ASSETPIPE_LIVE_RELOAD``  ``live_reload_tag()`` loads ``assetpipe watch --live-reload``'s client (default
                           None: on when ``app.debug``); ``ASSETPIPE_LIVE_RELOAD_PORT`` its port

It also makes ``url_for('static', filename=...)`` give the hashed file's URL when the static folder (the
app's, or a blueprint's for ``'<blueprint>.static'``) is a build's output, that is, holds a manifest.json:
existing templates need no change. A filename the manifest lacks keeps Flask's URL in debug mode and
raises UnknownAsset otherwise; a static folder without a manifest.json is left to Flask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app
from markupsafe import Markup

from assetpipe.errors import ManifestError, UnknownAsset
from assetpipe.jinja import AssetHelper, install
from assetpipe.reader import ManifestReader

EXTENSION_NAME = "assetpipe"
STATIC_SUFFIX = ".static"


def static_folder(app: Flask, endpoint: str) -> str | None:
    """The folder a static endpoint serves: the app's for 'static', a blueprint's for '<name>.static'."""
    if endpoint == "static":
        return app.static_folder
    if endpoint.endswith(STATIC_SUFFIX):
        blueprint = app.blueprints.get(endpoint[: -len(STATIC_SUFFIX)])
        return None if blueprint is None else blueprint.static_folder
    return None


class StaticManifests:
    """``url_for('static', filename=...)`` through the manifest of the folder the endpoint serves.

    One reader per static folder, made on first use; a folder without a readable manifest.json is
    remembered as such (unless auto-reloading, when a build may appear later).
    """

    __slots__ = ("app", "auto_reload", "readers")

    def __init__(self, app: Flask, auto_reload: bool) -> None:
        self.app = app
        self.auto_reload = auto_reload
        self.readers: dict[str, ManifestReader | None] = {}

    def reader(self, folder: str) -> ManifestReader | None:
        if folder in self.readers:
            return self.readers[folder]
        path = Path(folder) / "manifest.json"
        if self.auto_reload and not path.is_file():
            return None  # not built yet: ask again next time
        try:
            reader: ManifestReader | None = ManifestReader(path, auto_reload=self.auto_reload)
        except ManifestError:
            reader = None  # not a build's output: Flask's own URLs
        self.readers[folder] = reader
        return reader

    def __call__(self, endpoint: str, values: dict[str, Any]) -> None:
        """A url_defaults callback: swap ``filename`` for the hashed path the manifest records."""
        filename = values.get("filename")
        folder = static_folder(self.app, endpoint) if isinstance(filename, str) else None
        reader = None if folder is None else self.reader(folder)
        if reader is None:
            return
        try:
            values["filename"] = reader.entry(filename).path  # type: ignore[arg-type]  # str, checked above
        except UnknownAsset:
            if not self.app.debug:
                raise


class AssetPipe:
    """State lives in ``app.extensions["assetpipe"]``, so one instance serves many apps."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> AssetHelper:
        """Read the manifest (now, unless auto-reloading) and install the helper into app.jinja_env."""
        app.config.setdefault("ASSETPIPE_MANIFEST", "dist/manifest.json")
        app.config.setdefault("ASSETPIPE_BASE_URL", None)
        app.config.setdefault("ASSETPIPE_AUTO_RELOAD", None)
        app.config.setdefault("ASSETPIPE_LIVE_RELOAD", None)
        app.config.setdefault("ASSETPIPE_LIVE_RELOAD_PORT", None)
        live_reload = app.config["ASSETPIPE_LIVE_RELOAD"]
        # Path's "/" keeps an absolute setting as it is and anchors a relative one at the app, not the cwd.
        manifest_path = Path(app.root_path) / app.config["ASSETPIPE_MANIFEST"]
        auto_reload = app.config["ASSETPIPE_AUTO_RELOAD"]
        helper = install(
            app.jinja_env,
            manifest_path,
            base_url=app.config["ASSETPIPE_BASE_URL"],
            auto_reload=app.debug if auto_reload is None else bool(auto_reload),
            live_reload=app.debug if live_reload is None else bool(live_reload),
            live_reload_port=app.config["ASSETPIPE_LIVE_RELOAD_PORT"],
        )
        app.extensions[EXTENSION_NAME] = helper
        app.url_defaults(StaticManifests(app, helper.reader.auto_reload))
        return helper

    @staticmethod
    def helper() -> AssetHelper:
        """The current app's helper, for views that need a URL outside a template (a Link header...)."""
        helper: AssetHelper = current_app.extensions[EXTENSION_NAME]
        return helper

    def url(self, logical_path: str) -> str:
        """``asset()`` for Python code running in an app context."""
        return self.helper().asset(logical_path)

    def tag(self, logical_path: str, **attrs: Any) -> Markup:
        """``asset_tag()`` for Python code running in an app context."""
        return self.helper().tag(logical_path, **attrs)
