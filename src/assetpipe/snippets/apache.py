"""Apache httpd: an Alias plus a ``<Directory>`` section using mod_rewrite, mod_mime and mod_headers.

Why this shape: per-directory rules apply inside any VirtualHost (server-level RewriteRules are silently
not inherited by one, the trap of the manual's recipe); Debian's mime.conf serves ``.br`` as the Breton
language and ``.gz`` as application/x-gzip, so both are removed and mapped to encodings here; immutability
is an exact list of URL paths (``-in``) taken from the manifest, which after the internal redirect to a
sibling is matched against the sibling's URL, so siblings are listed too. CORS is a ``Header set``
(which never reaches a 404) on every request but the manifest's; an allow-list echoes Origin when it is
``-in`` the list.
"""

from __future__ import annotations

from collections import defaultdict

from assetpipe.codecs import CODECS
from assetpipe.manifest import Manifest
from assetpipe.snippets.quoting import APACHE, apache_expr_list, apache_expr_string
from assetpipe.snippets.quoting import apache_string as quote
from assetpipe.snippets.site import (
    ALLOW_ORIGIN,
    IMMUTABLE,
    NO_CACHE,
    Site,
    SnippetOptions,
    header_comment,
    plan,
)

#: The encodings the rewrite rules below serve, in preference order. zstd is left out: Debian's mime.types
#: makes .zst application/zstd, so a request for a .zst sibling gets the file itself, never as the asset.
ENCODINGS = ("br", "gzip")
#: How many URL paths go into one expression, keeping config lines short.
CHUNK = 100
# In the per-directory rewrite, a back-reference becomes a URL again: escape what would split or re-decode it.
_BACKREF_ESCAPES = "%?#"


def _in_list(site: Site, paths: list[str]) -> list[str]:
    """``expr=`` conditions, one per chunk, true when the request's URL path is one of ``paths``."""
    conditions = []
    for start in range(0, len(paths), CHUNK):
        items = apache_expr_list([site.url(p) for p in paths[start : start + CHUNK]])
        conditions.append(quote(f"expr=%{{REQUEST_URI}} -in {items}"))
    return conditions


def _accepts(encoding: str) -> list[str]:
    """Conditions for a client that accepts ``encoding`` with a q-value other than zero."""
    token = "(" + "|".join(CODECS[encoding].tokens()) + ")"
    listed = f"(^|,)\\s*{token}\\s*(;|,|$)"
    refused = f"(^|,)\\s*{token}\\s*;\\s*q\\s*=\\s*0(\\.0*)?\\s*(,|$)"
    return [
        f'    RewriteCond "%{{HTTP:Accept-Encoding}}" "{listed}" [NC]',
        f'    RewriteCond "%{{HTTP:Accept-Encoding}}" "!{refused}" [NC]',
    ]


def _types(site: Site) -> list[str]:
    """AddType lines giving each extension the manifest's Content-Type, where all its files agree."""
    by_extension: dict[str, set[str]] = defaultdict(set)
    for served in site.files:
        name = served.path.rsplit("/", 1)[-1]
        if "." in name:
            by_extension[name.rsplit(".", 1)[-1]].add(served.content_type)
    return [
        f"    AddType {quote(next(iter(types)))} {quote('.' + ext)}"
        for ext, types in sorted(by_extension.items())
        if len(types) == 1 and ext.lower() not in ("br", "gz")
    ]


def _cors(site: Site) -> list[str]:
    """CORS lines: every request but the manifest's; an allow-list echoes Origin when it is listed."""
    if not site.cors.enabled:
        return []
    not_manifest = f"%{{REQUEST_URI}} != {apache_expr_string(site.url(site.manifest_path))}"
    if site.cors.any_origin:
        return [f"    Header set {ALLOW_ORIGIN} {quote('*')} {quote('expr=' + not_manifest)}"]
    listed = f"%{{HTTP:Origin}} -in {apache_expr_list(list(site.cors.origins))}"
    echo = quote("expr=%{HTTP:Origin}")
    return [
        f"    Header set {ALLOW_ORIGIN} {echo} {quote(f'expr={listed} && {not_manifest}')}",
        f"    Header merge Vary Origin {quote('expr=' + not_manifest)}",
    ]


def render(manifest: Manifest, options: SnippetOptions) -> str:
    """Config lines for the server config or inside a ``<VirtualHost>``."""
    site = plan(manifest, options, APACHE, encodings=ENCODINGS)
    directory = site.root if site.root.endswith("/") else site.root + "/"
    lines = [
        *header_comment(site, "Apache"),
        "# Include it in the server config or inside a <VirtualHost>. It needs mod_alias, mod_rewrite,",
        "# mod_headers and mod_mime (Debian: a2enmod rewrite headers).",
        f"Alias {quote(site.base_path)} {quote(directory)}",
        f"<Directory {quote(site.root)}>",
        # Per-directory rewriting needs FollowSymLinks; nothing else (no Indexes, no MultiViews) is on.
        "    Options FollowSymLinks",
        "    AllowOverride None",
        "    Require all granted",
        "    DirectoryIndex disabled",
        "    ErrorDocument 404 default",
        "    # Debian maps .br to the Breton language and .gz to application/x-gzip; here they are",
        "    # encodings, so a sibling keeps its original's type (from the extension before it).",
        "    RemoveLanguage .br",
        "    RemoveType .br .gz",
        "    AddEncoding br .br",
        "    AddEncoding gzip .gz",
        *_types(site),
        "    RewriteEngine On",
        f"    RewriteBase {quote(site.base_path)}",
        "    # Dot files (in-flight temp files, the build lock), directories and missing files: a plain 404.",
        '    RewriteRule "(^|/)\\.(?!well-known/)" "-" [R=404]',
    ]
    if not site.serve_manifest:
        # mod_rewrite reads its arguments itself and keeps backslashes as written.
        lines.append('    RewriteRule "^manifest\\.json$" "-" [R=404]')
    lines += [
        # Serve only what the build wrote: no on-the-fly compression (Debian enables mod_deflate for text).
        '    RewriteRule "^" "-" [E=no-gzip:1,E=no-brotli:1]',
        '    RewriteCond "%{REQUEST_FILENAME}" !-f',
        '    RewriteRule "^" "-" [R=404]',
    ]
    for encoding in ENCODINGS:
        suffix = CODECS[encoding].suffix
        lines += [
            f"    # A client that accepts {encoding} gets the {suffix} sibling, where there is one.",
            *_accepts(encoding),
            f'    RewriteCond "%{{REQUEST_FILENAME}}{suffix}" -f',
            f'    RewriteRule "^(.+)$" "$1{suffix}" [B={_BACKREF_ESCAPES},END]',
        ]
    lines.append(f"    Header set Cache-Control {quote(NO_CACHE)}")
    for condition in _in_list(site, site.immutable_paths()):
        lines.append(f"    Header set Cache-Control {quote(IMMUTABLE)} {condition}")
    for condition in _in_list(site, site.paths_with_siblings()):
        lines.append(f"    Header merge Vary Accept-Encoding {condition}")
    lines += _cors(site)
    lines.append("</Directory>")
    return "\n".join(lines) + "\n"
