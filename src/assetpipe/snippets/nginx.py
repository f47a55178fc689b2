"""nginx: one ``location ^~ BASE`` block, with an exact-match location per manifest entry.

Why this shape: ``^~`` stops regex locations elsewhere in the server from stealing the base URL;
``add_header`` in a nested location drops the outer ones, so every exact location carries its full header
set; ``gzip_vary`` adds Vary only when a .gz exists, so Vary is written per file from the manifest instead;
``expires max`` would omit ``immutable``, so Cache-Control is spelled out. CORS is an ``add_header`` in
every location that serves an asset (and not in the manifest's), and ``add_header`` without ``always``
skips 404s by itself. An allow-list cannot use ``map`` (it belongs in ``http { }``, and the snippet sits in
a server block) nor ``if`` inside the location (``try_files`` is lost in it): a server-level ``if`` that
only ``set``s a variable picks the origin, and an empty value sends no header at all.
"""

from __future__ import annotations

import hashlib

from assetpipe.manifest import Manifest
from assetpipe.snippets.quoting import NGINX
from assetpipe.snippets.quoting import nginx_string as quote
from assetpipe.snippets.site import (
    ALLOW_ORIGIN,
    IMMUTABLE,
    NO_CACHE,
    ServedFile,
    Site,
    SnippetOptions,
    header_comment,
    plan,
)

#: What brotli_static and gzip_static serve. Debian's nginx has no zstd_static: .zst siblings are not listed
#: (no Vary for them), and a request for one gets the file itself, as application/octet-stream.
ENCODINGS = ("br", "gzip")

def _origin_variable(site: Site) -> str:
    """A variable named after the allow-list, so two snippets with different lists never share one."""
    digest = hashlib.sha256("\n".join(site.cors.origins).encode("ascii")).hexdigest()[:12]
    return f"$assetpipe_cors_{digest}"


def _choose_origin(site: Site) -> list[str]:
    """Server-level lines that set the origin variable for an allow-list (nothing for '*' or off)."""
    if not site.vary_origin:
        return []
    variable = _origin_variable(site)
    lines = [
        "# CORS allow-list: these lines run at server level, before any location; the exact matches below",
        "# compare the whole Origin header, and an empty variable sends no header.",
        f'set {variable} "";',
    ]
    for origin in site.cors.origins:
        lines.append(f"if ($http_origin = {quote(origin)}) {{ set {variable} $http_origin; }}")
    return lines


def _cors(site: Site, indent: str) -> list[str]:
    """The CORS header lines for a location that serves assets."""
    if not site.cors.enabled:
        return []
    value = quote("*") if site.cors.any_origin else _origin_variable(site)
    return [f"{indent}add_header {ALLOW_ORIGIN} {value};"]


def _vary(site: Site, served: ServedFile | None) -> list[str]:
    tokens = ["Accept-Encoding"] if served is not None and served.siblings else []
    if site.vary_origin:
        tokens.append("Origin")
    indent = "        " if served is not None else "    "
    return [f"{indent}add_header Vary {quote(', '.join(tokens))};"] if tokens else []


def _exact(site: Site, served: ServedFile) -> list[str]:
    cache = IMMUTABLE if served.immutable else NO_CACHE
    return [
        f"    location = {quote(site.url(served.path))} {{",
        # An empty types map makes default_type the Content-Type: the manifest's, for the file and siblings.
        f"        types {{ }} default_type {quote(served.content_type)};",
        f"        add_header Cache-Control {quote(cache)};",
        *_vary(site, served),
        *_cors(site, "        "),
        "    }",
    ]


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """A location block to include inside a ``server { }`` block."""
    site = plan(manifest, options, NGINX, encodings=ENCODINGS)
    alias = site.root if site.root.endswith("/") else site.root + "/"
    manifest_url = quote(site.url(site.manifest_path))
    lines = [
        *header_comment(site, "nginx"),
        "# Include it inside a server { } block. It needs the brotli_static module (Debian:",
        "# libnginx-mod-http-brotli-static, loaded from /etc/nginx/modules-enabled). An error_page 404",
        "# set in the server block would apply here too: keep any index fallback out of this prefix.",
        *_choose_origin(site),
        f"location ^~ {quote(site.base_path)} {{",
        f"    alias {quote(alias)};",
        # $uri alone: a directory or a missing file is a plain 404, never an index page.
        "    try_files $uri =404;",
        "    brotli_static on;",
        "    gzip_static on;",
        "    # Serve only what the build wrote; Vary is added per file below, so it appears exactly once.",
        "    gzip off;",
        "    gzip_vary off;",
        f"    add_header Cache-Control {quote(NO_CACHE)};",
        # Files on disk the manifest does not list (a previous build's, kept for rolling deploys).
        *_vary(site, None),
        *_cors(site, "    "),
        "    # Dot files (in-flight temp files, the build lock) are never served; .well-known/ is.",
        '    location ~ "/\\.(?!well-known/)" {',
        "        return 404;",
        "    }",
    ]
    if site.serve_manifest:
        lines += [
            f"    location = {manifest_url} {{",
            "        types { } default_type application/json;",
            # Its own add_header drops the outer CORS header: the manifest is never readable cross-origin.
            f"        add_header Cache-Control {quote(NO_CACHE)};",
            "    }",
        ]
    else:
        lines += [f"    location = {manifest_url} {{", "        return 404;", "    }"]
    for served in site.files:
        lines += _exact(site, served)
    lines.append("}")
    return "\n".join(lines) + "\n"
