"""Caddy: a ``handle_path`` block whose ``route`` answers 404 first, then sets headers, then serves.

Why this shape: a ``header`` on a path matcher alone also lands on 404s (and a CDN then caches a missing
asset for a year), so everything that is not an existing file is answered with ``respond 404`` before any
header is set. File lists are anchored ``path_regexp`` matchers: Caddy's ``path`` matcher ignores case,
which could make an unhashed file look like a hashed one.
"""

from __future__ import annotations

from collections import defaultdict

from assetpipe.manifest import Manifest
from assetpipe.snippets.site import (
    ENCODING_ORDER,
    IMMUTABLE,
    NO_CACHE,
    SnippetOptions,
    header_comment,
    plan,
)

# Braces are placeholders (and {$ENV} is expanded while parsing), a backslash before a quote can't be
# written inside a Caddyfile string, and the file matcher globs the root: a root holding any is refused.
REFUSED_IN_ROOT = ("{", "}", "\\", "*", "?", "[", "]")
# The file matcher escapes glob characters in the request path, but not a backslash.
REFUSED_IN_PATHS = ("\\",)
# Matched by path_regexp one character at a time; everything else is hex-escaped.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")


def quote(value: str) -> str:
    """A Caddyfile double-quoted token (callers pass no backslashes and no braces)."""
    return '"' + value.replace('"', '\\"') + '"'


def regex_literal(value: str) -> str:
    """``value`` as an RE2 literal with only [A-Za-z0-9/_-] and ``\\x{..}`` escapes: nothing to quote."""
    return "".join(c if c in _PLAIN else f"\\x{{{ord(c):x}}}" for c in value)


def regex_for(paths: list[str]) -> str:
    """An anchored regexp matching exactly these URL paths (relative to the stripped base)."""
    return "^(?:" + "|".join(regex_literal("/" + p) for p in paths) + ")$"


def _matcher(name: str, paths: list[str]) -> str:
    # The regexp has no quote, brace or backslash-quote, so plain double quotes carry it.
    return f'\t\t@{name} path_regexp "{regex_for(paths)}"'


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """Caddyfile lines to import inside a site block."""
    site = plan(manifest, options, REFUSED_IN_ROOT, REFUSED_IN_PATHS)
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
    with_siblings = [f.path for f in site.files if f.siblings]
    if with_siblings:
        # Deferred, so it replaces the Vary that file_server adds when it serves a sibling: sent once, always.
        lines += [
            _matcher("assetpipe_vary", with_siblings),
            "\t\theader @assetpipe_vary {",
            "\t\t\tVary Accept-Encoding",
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
