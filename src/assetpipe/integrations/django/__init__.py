"""Django: a template tag library, a staticfiles storage and the Jinja2 backend, over one manifest.

    INSTALLED_APPS = [..., "django.contrib.staticfiles", "assetpipe.integrations.django"]
    STORAGES = {..., "staticfiles": {"BACKEND": "assetpipe.integrations.django.ManifestStorage"}}

``{% load assetpipe %}`` gives ``{% asset %}``, ``{% asset_integrity %}``, ``{% asset_tag %}`` and
``{% importmap_tag %}``; the storage makes ``manage.py collectstatic`` run an assetpipe build into
STATIC_ROOT and ``{% static %}`` resolve through its manifest. For Django's Jinja2 backend:
``OPTIONS["environment"] = "assetpipe.integrations.django.environment"``.

Settings (all optional):

``ASSETPIPE_MANIFEST``       manifest to read (default STATIC_ROOT/manifest.json)
``ASSETPIPE_BASE_URL``       base URL override (default: the ASSETPIPE_BASE_URL variable, else the manifest's)
``ASSETPIPE_AUTO_RELOAD``    re-read the manifest when it changes (default DEBUG)
``ASSETPIPE_STRICT``         an unknown path raises (default True); False gives the unhashed URL instead
``ASSETPIPE_SERVE_SOURCES``  give source URLs, no integrity (default DEBUG: what runserver serves)

All lookups go through one shared ``AssetHelper`` (``assetpipe.tags``): see ``lookup.py``.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from assetpipe.integrations.django.lookup import (
    MissingAsset,
    asset,
    asset_integrity,
    asset_tag,
    helper,
    importmap_tag,
    manifest_path,
    reset,
)


# -- Django's Jinja2 backend -------------------------------------------------------------------------
def install(env: Environment) -> None:
    """Put asset(), asset_integrity(), asset_tag() and importmap_tag() into ``env.globals``, reading the
    settings above."""
    env.globals.update(
        asset=asset, asset_integrity=asset_integrity, asset_tag=asset_tag, importmap_tag=importmap_tag
    )


def environment(**options: Any) -> Environment:
    """``OPTIONS["environment"]`` for Django's Jinja2 backend: a plain Environment plus the helper."""
    env = Environment(**options)
    install(env)
    return env


def __getattr__(name: str) -> Any:
    # The storage imports the build; a project using only the tags never pays for that import.
    if name == "ManifestStorage":
        from assetpipe.integrations.django.storage import ManifestStorage

        return ManifestStorage
    raise AttributeError(name)


__all__ = [
    "ManifestStorage",
    "MissingAsset",
    "asset",
    "asset_integrity",
    "asset_tag",
    "environment",
    "helper",
    "importmap_tag",
    "install",
    "manifest_path",
    "reset",
]
