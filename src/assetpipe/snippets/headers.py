"""Netlify / Cloudflare Pages: a ``_headers`` file with one exact rule per manifest file.

Why this shape: both platforms compress responses themselves and Netlify ignores a custom
Content-Encoding, so only caching is set here. Cloudflare Pages joins the values of every rule that
matches a path, so there is no catch-all rule, and each rule starts with ``! Cache-Control`` (Cloudflare's
detach syntax; Netlify skips a line without a colon) to drop a value set by a wider rule of the site.
"""

from __future__ import annotations

from urllib.parse import quote

from assetpipe.manifest import Manifest
from assetpipe.snippets.site import IMMUTABLE, NO_CACHE, Site, SnippetOptions, header_comment, plan


def url_path(site: Site, path: str) -> str:
    """The rule's path, percent-encoded: ':' (placeholder), '*' (splat), '#' and space mean things here."""
    return quote(site.url(path), safe="/-._~")


def _rule(url: str, cache: str) -> list[str]:
    return [url, "  ! Cache-Control", f"  Cache-Control: {cache}"]


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """A ``_headers`` file (or the part to append to one) for the published folder."""
    site = plan(manifest, options)
    lines = [
        *header_comment(site, "_headers"),
        "# Put it at the top of the published folder (Netlify, Cloudflare Pages). Both platforms",
        "# compress responses themselves and ignore the .br/.gz siblings (Netlify drops a custom",
        "# Content-Encoding), so this file sets caching only; Vary and Content-Encoding are the platform's.",
    ]
    if site.serve_manifest:
        lines += ["", *_rule(url_path(site, site.manifest_path), NO_CACHE)]
    else:
        lines += [
            "# A _headers file cannot hide manifest.json: leave it out of the published folder",
            f"# (or, on Netlify, add to _redirects: {url_path(site, site.manifest_path)} /404 404!).",
        ]
    for served in site.files:
        lines += ["", *_rule(url_path(site, served.path), IMMUTABLE if served.immutable else NO_CACHE)]
    return "\n".join(lines) + "\n"
