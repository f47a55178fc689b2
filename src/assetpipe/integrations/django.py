"""Django: an ``environment`` callable for the Jinja2 template backend.

    TEMPLATES = [{
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2"],
        "OPTIONS": {"environment": "assetpipe.integrations.django.environment"},
    }]

Settings: ``ASSETPIPE_MANIFEST`` (default STATIC_ROOT/manifest.json), ``ASSETPIPE_BASE_URL`` (default:
the ASSETPIPE_BASE_URL variable, else the manifest's) and ``ASSETPIPE_AUTO_RELOAD`` (default DEBUG).
A project with its own environment function calls ``install(env)`` from it instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jinja2 import Environment

from assetpipe import jinja
from assetpipe.jinja import AssetHelper


def manifest_path() -> Path:
    """ASSETPIPE_MANIFEST, else manifest.json in STATIC_ROOT (where a Django project serves files from)."""
    configured = getattr(settings, "ASSETPIPE_MANIFEST", None)
    if configured:
        return Path(configured)
    static_root = getattr(settings, "STATIC_ROOT", None)
    if not static_root:
        raise ImproperlyConfigured("assetpipe needs ASSETPIPE_MANIFEST (or STATIC_ROOT) in settings")
    return Path(static_root) / "manifest.json"


def install(env: Environment) -> AssetHelper:
    """Install the helper into ``env`` as the settings describe."""
    auto_reload = getattr(settings, "ASSETPIPE_AUTO_RELOAD", None)
    return jinja.install(
        env,
        manifest_path(),
        base_url=getattr(settings, "ASSETPIPE_BASE_URL", None),
        auto_reload=bool(settings.DEBUG) if auto_reload is None else bool(auto_reload),
    )


def environment(**options: Any) -> Environment:
    """``OPTIONS["environment"]`` for Django's Jinja2 backend: a plain Environment plus the helper."""
    env = Environment(**options)
    install(env)
    return env
