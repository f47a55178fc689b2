"""nginx: one ``location ^~ BASE`` block, with an exact-match location per manifest entry.

Why this shape: ``^~`` stops regex locations elsewhere in the server from stealing the base URL;
``add_header`` in a nested location drops the outer ones, so every exact location carries its full header
set; ``gzip_vary`` adds Vary only when a .gz exists, so Vary is written per file from the manifest instead;
``expires max`` would omit ``immutable``, so Cache-Control is spelled out.
"""

from __future__ import annotations

from assetpipe.manifest import Manifest
from assetpipe.snippets.site import (
    IMMUTABLE,
    NO_CACHE,
    ServedFile,
    Site,
    SnippetOptions,
    header_comment,
    plan,
)

# alias and root expand $variables and nginx has no escape for '$': a root holding one is refused.
REFUSED_IN_ROOT = ("$",)
#: What brotli_static and gzip_static serve. Debian's nginx has no zstd_static: .zst siblings are not listed
#: (no Vary for them), and a request for one gets the file itself, as application/octet-stream.
ENCODINGS = ("br", "gzip")


def quote(value: str) -> str:
    """An nginx double-quoted string: only backslash and the quote itself need escaping inside."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _exact(site: Site, served: ServedFile) -> list[str]:
    cache = IMMUTABLE if served.immutable else NO_CACHE
    lines = [
        f"    location = {quote(site.url(served.path))} {{",
        # An empty types map makes default_type the Content-Type: the manifest's, for the file and siblings.
        f"        types {{ }} default_type {quote(served.content_type)};",
        f"        add_header Cache-Control {quote(cache)};",
    ]
    if served.siblings:
        lines.append('        add_header Vary "Accept-Encoding";')
    lines.append("    }")
    return lines


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """A location block to include inside a ``server { }`` block."""
    site = plan(manifest, options, REFUSED_IN_ROOT, encodings=ENCODINGS)
    alias = site.root if site.root.endswith("/") else site.root + "/"
    manifest_url = quote(site.url(site.manifest_path))
    lines = [
        *header_comment(site, "nginx"),
        "# Include it inside a server { } block. It needs the brotli_static module (Debian:",
        "# libnginx-mod-http-brotli-static, loaded from /etc/nginx/modules-enabled). An error_page 404",
        "# set in the server block would apply here too: keep any index fallback out of this prefix.",
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
        "    # Dot files (in-flight temp files, the build lock) are never served; .well-known/ is.",
        '    location ~ "/\\.(?!well-known/)" {',
        "        return 404;",
        "    }",
    ]
    if site.serve_manifest:
        lines += [
            f"    location = {manifest_url} {{",
            "        types { } default_type application/json;",
            f"        add_header Cache-Control {quote(NO_CACHE)};",
            "    }",
        ]
    else:
        lines += [f"    location = {manifest_url} {{", "        return 404;", "    }"]
    for served in site.files:
        lines += _exact(site, served)
    lines.append("}")
    return "\n".join(lines) + "\n"
