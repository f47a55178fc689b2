"""whitenoise's stock middleware, serving an assetpipe build with no extra settings.

whitenoise already serves the build as it should: hashed files ``immutable`` (it asks
``staticfiles_storage.url()`` for the name without the hash, and ManifestStorage answers with the hashed
URL), the ``.br``/``.gz`` sibling the client accepts, with ``Vary``. What it gets wrong by itself: it
serves every file under STATIC_ROOT, so ``manifest.json`` (which a browser can take for a PWA's web
manifest) and the build's ``.assetpipe/`` bookkeeping were public too. whitenoise has no setting that
leaves a file out (6.12: ``WHITENOISE_ADD_HEADERS_FUNCTION`` and ``WHITENOISE_IMMUTABLE_FILE_TEST`` see
each file but cannot refuse it), so the app's ``ready()`` calls :func:`install`, which wraps the two
methods of ``whitenoise.middleware.WhiteNoiseMiddleware`` through which every file reaches a response:
``add_file_to_dictionary`` (the scan at start-up, whitenoise's production mode) and ``find_file`` (each
request under autorefresh, DEBUG's default). The wrappers skip exactly the URLs under the middleware's
static prefix that name ``manifest.json`` or a dot file or folder (``.well-known`` excepted), and only
while the staticfiles storage is assetpipe's; everything else goes to whitenoise's own code unchanged.
A skipped URL falls through to the next handler: a 404.

``assetpipe.integrations.django.whitenoise.WhiteNoiseMiddleware`` remains, for settings that name it:
the stock class, with the same filter.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from whitenoise.middleware import WhiteNoiseMiddleware as _StockMiddleware

MANIFEST_NAME = "manifest.json"
WELL_KNOWN = ".well-known"
#: Set on the wrappers, so installing twice wraps once.
MARK = "__assetpipe_filter__"


def hidden_name(name: str) -> bool:
    """Whether ``name`` (a URL path under STATIC_URL) is the manifest, or has a dot segment (but
    .well-known, which the build publishes and the server snippets serve)."""
    return name == MANIFEST_NAME or any(p.startswith(".") and p != WELL_KNOWN for p in name.split("/"))


def _serves_assetpipe() -> bool:
    """Whether the staticfiles storage is a ManifestStorage (without importing the build when it is not)."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    storage_class = staticfiles_storage.__class__  # the lazy object makes its storage and reports its class
    ours = sys.modules.get("assetpipe.integrations.django.storage")  # made storage: imported
    return ours is not None and issubclass(storage_class, ours.ManifestStorage)


def hidden(middleware: Any, url: str) -> bool:
    """Whether ``middleware`` (a whitenoise middleware) must not serve ``url``."""
    prefix: str = middleware.static_prefix
    return url.startswith(prefix) and hidden_name(url[len(prefix) :]) and _serves_assetpipe()


def _wrap_add(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def add_file_to_dictionary(self: Any, url: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if not hidden(self, url):
            return original(self, url, path, *args, **kwargs)
        return None

    setattr(add_file_to_dictionary, MARK, True)
    return add_file_to_dictionary


def _wrap_find(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def find_file(self: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        return None if hidden(self, url) else original(self, url, *args, **kwargs)

    setattr(find_file, MARK, True)
    return find_file


WRAPPERS = {"add_file_to_dictionary": _wrap_add, "find_file": _wrap_find}


def install() -> None:
    """Make the stock middleware skip the manifest and dot files (idempotent; see the module docstring).

    A whitenoise without these methods is left as it is (the tests, run against the supported
    versions, catch that), rather than failing the project's start-up.
    """
    for name, wrap in WRAPPERS.items():
        original = getattr(_StockMiddleware, name, None)
        if original is None or getattr(original, MARK, False):
            continue
        setattr(_StockMiddleware, name, wrap(original))


install()  # also here, so that naming the class below is enough without the app in INSTALLED_APPS


class WhiteNoiseMiddleware(_StockMiddleware):  # type: ignore[misc]  # whitenoise ships no types
    """The stock middleware (with :func:`install`'s filter): kept for settings that name this class."""
