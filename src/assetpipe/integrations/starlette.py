"""Starlette and FastAPI: install the helper into a ``Jinja2Templates`` (or its ``.env``).

templates = Jinja2Templates(directory="templates")
install(templates, "dist/manifest.json")
"""

from __future__ import annotations

import os

from jinja2 import Environment
from starlette.templating import Jinja2Templates

from assetpipe import jinja
from assetpipe.jinja import AssetHelper


def install(
    templates: Jinja2Templates | Environment,
    manifest_path: str | os.PathLike[str],
    *,
    base_url: str | None = None,
    auto_reload: bool = False,
) -> AssetHelper:
    """Put asset(), asset_integrity() and asset_tag() into the templates' environment."""
    env = templates.env if isinstance(templates, Jinja2Templates) else templates
    return jinja.install(env, manifest_path, base_url=base_url, auto_reload=auto_reload)
