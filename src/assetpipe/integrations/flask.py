"""Flask: ``AssetPipe(app)`` (or ``init_app`` in an app factory) puts the helper into every template.

Configuration, from ``app.config``:

``ASSETPIPE_MANIFEST``     path of manifest.json, relative to ``app.root_path`` (default dist/manifest.json)
``ASSETPIPE_BASE_URL``     base URL override (default: ASSETPIPE_BASE_URL variable, else the manifest's)
``ASSETPIPE_AUTO_RELOAD``  re-read the manifest when it changes (default None: on when ``app.debug``,
                           like Flask's own TEMPLATES_AUTO_RELOAD)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app
from markupsafe import Markup

from assetpipe.jinja import AssetHelper, install

EXTENSION_NAME = "assetpipe"


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
        # Path's "/" keeps an absolute setting as it is and anchors a relative one at the app, not the cwd.
        manifest_path = Path(app.root_path) / app.config["ASSETPIPE_MANIFEST"]
        auto_reload = app.config["ASSETPIPE_AUTO_RELOAD"]
        helper = install(
            app.jinja_env,
            manifest_path,
            base_url=app.config["ASSETPIPE_BASE_URL"],
            auto_reload=app.debug if auto_reload is None else bool(auto_reload),
        )
        app.extensions[EXTENSION_NAME] = helper
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
