"""Server config snippets generated from a manifest: nginx, Caddy, Apache, Axum and ``_headers``.

Every renderer gives the same semantics (see docs/snippets.md): the base URL serves OUT, the best
precompressed sibling the client accepts with the original's Content-Type and ``Vary: Accept-Encoding``,
immutable caching exactly for the files the manifest marks immutable, a plain 404 for anything missing,
and no manifest.json unless asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assetpipe.errors import ConfigError
from assetpipe.files import write_atomic
from assetpipe.manifest import Manifest
from assetpipe.snippets import apache, axum, caddy, headers, nginx, rust
from assetpipe.snippets.site import SnippetOptions

__all__ = ["FILE_NAMES", "RENDERERS", "SnippetOptions", "render", "write_all"]

RENDERERS: dict[str, Callable[[Manifest, SnippetOptions], str]] = {
    "nginx": nginx.render,
    "caddy": caddy.render,
    "apache": apache.render,
    "axum": axum.render,
    "headers": headers.render,
    "rust": rust.render,
}
#: The file each snippet is written to by ``write_all``.
FILE_NAMES: dict[str, str] = {
    "nginx": "nginx.conf",
    "caddy": "Caddyfile",
    "apache": "apache.conf",
    "axum": "axum.rs",
    "headers": "_headers",
    "rust": "assets.rs",
}


def render(server: str, manifest: Manifest, *, root: str, serve_manifest: bool = False) -> str:
    """The snippet for ``server``; ConfigError for an unknown server or an unquotable root/base URL."""
    try:
        renderer = RENDERERS[server]
    except KeyError:
        known = ", ".join(sorted(RENDERERS))
        raise ConfigError(f"unknown server {server!r}", hint=f"choose one of {known}") from None
    return renderer(manifest, SnippetOptions(root=root, serve_manifest=serve_manifest))


def write_all(manifest: Manifest, directory: Path, *, root: str, serve_manifest: bool = False) -> list[Path]:
    """Write every snippet into ``directory`` (atomically, one file per server); all are rendered first,
    so a refused root leaves the folder as it was."""
    options = SnippetOptions(root=root, serve_manifest=serve_manifest)
    texts = {server: renderer(manifest, options) for server, renderer in RENDERERS.items()}
    written = []
    for server, text in texts.items():
        target = directory / FILE_NAMES[server]
        write_atomic(target, text.encode("utf-8"))
        written.append(target)
    return written
