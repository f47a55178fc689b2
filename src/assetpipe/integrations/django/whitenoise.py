"""whitenoise's middleware, minus what STATIC_ROOT holds but must not serve: manifest.json and dot files.

    MIDDLEWARE = [..., "assetpipe.integrations.django.whitenoise.WhiteNoiseMiddleware", ...]

whitenoise's own middleware already serves an assetpipe build correctly (hashed files immutable, through
``staticfiles_storage.url``; the .br/.gz sibling the client accepts), but it serves every file under
STATIC_ROOT, as it serves Django's own staticfiles.json: manifest.json (which a browser can mistake for
a PWA's web manifest) and the ``.assetpipe/`` bookkeeping with it. This subclass answers those with the
next handler (a 404), in both of whitenoise's modes.
"""

from __future__ import annotations

from typing import Any

from whitenoise.middleware import WhiteNoiseMiddleware as _WhiteNoiseMiddleware

MANIFEST_NAME = "manifest.json"
WELL_KNOWN = ".well-known"


class WhiteNoiseMiddleware(_WhiteNoiseMiddleware):  # type: ignore[misc]  # whitenoise ships no types
    """A drop-in for ``whitenoise.middleware.WhiteNoiseMiddleware`` that does not serve the manifest."""

    def hidden(self, url: str) -> bool:
        """Whether ``url`` names the manifest, or a dot file or folder (but .well-known) under STATIC_URL."""
        prefix: str = self.static_prefix
        if not url.startswith(prefix):
            return False
        name = url[len(prefix) :]
        parts = name.split("/")
        # .well-known is published by the build (security.txt...), as the server snippets serve it.
        return name == MANIFEST_NAME or any(p.startswith(".") and p != WELL_KNOWN for p in parts)

    def add_file_to_dictionary(self, url: str, path: str, stat_cache: Any = None) -> None:
        if not self.hidden(url):
            super().add_file_to_dictionary(url, path, stat_cache=stat_cache)

    def find_file(self, url: str) -> Any:
        return None if self.hidden(url) else super().find_file(url)
