"""Caddy: a ``handle_path`` block whose ``route`` answers 404 first, then sets headers, then serves.

Why this shape: a ``header`` on a path matcher alone also lands on 404s (and a CDN then caches a missing
asset for a year), so everything that is not an existing file is answered with ``respond 404`` before any
header is set. File lists are anchored ``path_regexp`` matchers: Caddy's ``path`` matcher ignores case,
which could make an unhashed file look like a hashed one. CORS headers are set after the 404s, so a miss
never carries one, and on every file but the manifest; an allow-list is a ``header`` matcher on Origin
whose match echoes it.
"""

from __future__ import annotations

from collections import defaultdict

from assetpipe.manifest import Manifest
from assetpipe.snippets.quoting import CADDY, caddy_regex
from assetpipe.snippets.quoting import caddy_string as quote
from assetpipe.snippets.site import (
    ALLOW_ORIGIN,
    ENCODING_ORDER,
    IMMUTABLE,
    NO_CACHE,
    Site,
    SnippetOptions,
    header_comment,
    plan,
)


def _matcher(name: str, paths: list[str]) -> str:
    """A named matcher for exactly these URL paths (relative to the stripped base)."""
    return f"\t\t@{name} path_regexp {caddy_regex(['/' + p for p in paths])}"


def _cors(site: Site) -> list[str]:
    """CORS lines, reached only by existing files (the 404s answered before): every file but the manifest."""
    if not site.cors.enabled:
        return []
    lines = ["\t\t@assetpipe_cors {", f"\t\t\tnot path_regexp {caddy_regex(['/' + site.manifest_path])}"]
    if site.cors.any_origin:
        return [*lines, "\t\t}", f"\t\theader @assetpipe_cors {ALLOW_ORIGIN} {quote('*')}"]
    # Values within one header matcher are alternatives; the placeholder echoes the matched Origin.
    lines += [f"\t\t\theader Origin {quote(origin)}" for origin in site.cors.origins]
    lines += [
        "\t\t}",
        f"\t\theader @assetpipe_cors {ALLOW_ORIGIN} {{http.request.header.Origin}}",
        "\t\t@assetpipe_vary_origin not path_regexp " + caddy_regex(["/" + site.manifest_path]),
        # Added (not deferred): file_server may add its own Vary next, and the deferred set below
        # replaces both for files with siblings.
        "\t\theader @assetpipe_vary_origin +Vary Origin",
    ]
    return lines


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """Caddyfile lines to import inside a site block."""
    site = plan(manifest, options, CADDY)
    handle = "handle {" if site.base_path == "/" else f"handle_path {quote(site.base_path + '*')} {{"
    lines = [
        *header_comment(site, "Caddy"),
        "# Import it inside a site block: import /etc/caddy/assetpipe.caddy",
        handle,
        f"\troot * {quote(site.root)}",
        "\troute {",
        "\t\t# Dot files, directories and missing files: a plain 404, before any header is set.",
        # RE2 has no lookahead: hidden = not every segment is a plain name or exactly .well-known.
        '\t\t@assetpipe_hidden not path_regexp "^(/([^./][^/]*|\\.well-known))*/?$"',
        "\t\trespond @assetpipe_hidden 404",
        '\t\t@assetpipe_directory path_regexp "/$"',
        "\t\trespond @assetpipe_directory 404",
        "\t\t@assetpipe_missing not file",
        "\t\trespond @assetpipe_missing 404",
    ]
    if not site.serve_manifest:
        lines += [
            f"\t\t@assetpipe_manifest path /{site.manifest_path}",
            "\t\trespond @assetpipe_manifest 404",
        ]
    lines.append(f"\t\theader Cache-Control {quote(NO_CACHE)}")
    immutable = [f.path for f in site.files if f.immutable]
    if immutable:
        lines += [
            _matcher("assetpipe_immutable", immutable),
            f"\t\theader @assetpipe_immutable Cache-Control {quote(IMMUTABLE)}",
        ]
    lines += _cors(site)
    with_siblings = [f.path for f in site.files if f.siblings]
    if with_siblings:
        # Deferred, so it replaces the Vary that file_server adds when it serves a sibling: sent once, always.
        vary = "Accept-Encoding, Origin" if site.vary_origin else "Accept-Encoding"
        lines += [
            _matcher("assetpipe_vary", with_siblings),
            "\t\theader @assetpipe_vary {",
            f"\t\t\tVary {quote(vary)}",
            "\t\t\tdefer",
            "\t\t}",
        ]
    by_type: dict[str, list[str]] = defaultdict(list)
    for served in site.files:
        by_type[served.content_type].append(served.path)
    for index, (content_type, paths) in enumerate(sorted(by_type.items())):
        # The manifest's type, for the file and its siblings alike (file_server keeps a type already set).
        lines += [
            _matcher(f"assetpipe_type_{index}", paths),
            f"\t\theader @assetpipe_type_{index} Content-Type {quote(content_type)}",
        ]
    # file_server serves any sibling on disk: only the encodings the manifest lists are named (an old .zst
    # left by a build with zstd on is not served once it is off). Ties are broken in the registry's order.
    listed = {name for served in site.files for name, _ in served.siblings}
    precompressed = " ".join(name for name in ENCODING_ORDER if name in listed) or "br gzip"
    lines += [
        "\t\tfile_server {",
        f"\t\t\tprecompressed {precompressed}",
        "\t\t}",
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"
