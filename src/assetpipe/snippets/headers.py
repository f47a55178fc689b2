"""Netlify / Cloudflare Pages: a ``_headers`` file with one exact rule per manifest file.

Why this shape: both platforms compress responses themselves and Netlify ignores a custom
Content-Encoding, so only caching is set here. Cloudflare Pages joins the values of every rule that
matches a path, so there is no catch-all rule, and each rule starts with ``! Cache-Control`` (Cloudflare's
detach syntax; Netlify skips a line without a colon) to drop a value set by a wider rule of the site.
CORS goes the same way, on every file's rule but the manifest's (a ``_headers`` rule never applies to a
404). A ``_headers`` file sends one fixed value, so it can name ``*`` or one origin, not choose among
several: with a longer list the file sets no CORS header and says so at the top (writing all snippets
from a build must not fail because one platform cannot express the list the others serve).
"""

from __future__ import annotations

from assetpipe.errors import ConfigError
from assetpipe.hints import hints
from assetpipe.manifest import Manifest
from assetpipe.snippets.quoting import HEADERS, headers_path, headers_route, headers_value
from assetpipe.snippets.site import (
    ALLOW_ORIGIN,
    IMMUTABLE,
    NO_CACHE,
    Site,
    SnippetOptions,
    header_comment,
    plan,
)


def url_path(site: Site, path: str) -> str:
    """The rule's path, percent-encoded: ':' (placeholder), '*' (splat), '#' and space mean things here."""
    return headers_path(site.url(path))


def _allow_origin(site: Site) -> str | None:
    """The one fixed Access-Control-Allow-Origin value, or None when CORS is off."""
    origins = site.cors.origins
    return headers_value(origins[0]) if len(origins) == 1 else None


def _cors_comment(site: Site) -> list[str]:
    if len(site.cors.origins) <= 1:
        return []
    return [
        f"# NO CORS: cors lists {len(site.cors.origins)} origins and a _headers rule sends one fixed value,",
        f"# so no {ALLOW_ORIGIN} is set here and cross-origin pages cannot use these files",
        '# (set cors = "*" or a single origin for Netlify and Cloudflare Pages).',
    ]


def _rule(url: str, cache: str, allow_origin: str | None = None) -> list[str]:
    lines = [url, "  ! Cache-Control", f"  Cache-Control: {cache}"]
    if allow_origin is not None:
        lines += [f"  ! {ALLOW_ORIGIN}", f"  {ALLOW_ORIGIN}: {allow_origin}"]
    return lines


def _link_rules(manifest: Manifest, links: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    """One rule per HTML route, one ``Link`` line per preload hint (platforms join repeated lines)."""
    lines: list[str] = []
    routes: set[str] = set()
    for route, logical_paths in links:
        if route in routes:
            raise ConfigError(f"route {route!r} is given twice", hint="list all its assets in one --link")
        routes.add(route)
        if not logical_paths:
            raise ConfigError(f"route {route!r} names no assets to preload")
        values = [hint.link_value() for hint in hints(manifest, logical_paths)]
        lines += ["", headers_route(route), *(f"  Link: {headers_value(value)}" for value in values)]
    return lines


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """A ``_headers`` file (or the part to append to one) for the published folder."""
    site = plan(manifest, options, HEADERS)
    allow_origin = _allow_origin(site)
    lines = [
        *header_comment(site, "_headers"),
        "# Put it at the top of the published folder (Netlify, Cloudflare Pages). Both platforms",
        "# compress responses themselves and ignore the .br/.gz siblings (Netlify drops a custom",
        "# Content-Encoding), so this file sets caching and CORS; Vary and Content-Encoding are the",
        "# platform's.",
        *_cors_comment(site),
    ]
    if site.serve_manifest:
        lines += ["", *_rule(url_path(site, site.manifest_path), NO_CACHE)]
    else:
        lines += [
            "# A _headers file cannot hide manifest.json: leave it out of the published folder",
            f"# (or, on Netlify, add to _redirects: {url_path(site, site.manifest_path)} /404 404!).",
        ]
    if options.links:
        lines += [
            "",
            "# Preload hints for HTML routes (assetpipe snippet headers --link): Cloudflare sends them as",
            "# 103 Early Hints. Regenerate after every build: the URLs are the build's hashed ones.",
            *_link_rules(manifest, options.links),
        ]
    for served in site.files:
        cache = IMMUTABLE if served.immutable else NO_CACHE
        lines += ["", *_rule(url_path(site, served.path), cache, allow_origin)]
    return "\n".join(lines) + "\n"
