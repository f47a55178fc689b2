"""Server config snippets generated from a manifest: nginx, Caddy, Apache, Axum and ``_headers``.

Every renderer gives the same semantics (see docs/snippets.md): the base URL serves OUT, the best
precompressed sibling the client accepts with the original's Content-Type and ``Vary: Accept-Encoding``,
immutable caching exactly for the files the manifest marks immutable, CORS on the assets (``*`` by
default), a plain 404 for anything missing, and no manifest.json unless asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from assetpipe.errors import ConfigError
from assetpipe.files import write_atomic
from assetpipe.manifest import Manifest
from assetpipe.snippets import apache, axum, caddy, headers, nginx, rust
from assetpipe.snippets.site import CorsSetting, SnippetOptions, as_cors

__all__ = ["FILE_NAMES", "MODULES", "RENDERERS", "SnippetOptions", "render", "write_all"]

RENDERERS: dict[str, Callable[[Manifest, SnippetOptions], str]] = {
    "nginx": nginx.render,
    "caddy": caddy.render,
    "apache": apache.render,
    "axum": axum.render,
    "headers": headers.render,
}
#: Code generated for the application rather than the server (``assetpipe snippet rust``): it names the
#: assets for templates, so its URLs keep the manifest's whole base URL, a CDN's host included.
MODULES: dict[str, Callable[[Manifest, SnippetOptions], str]] = {
    "rust": rust.render,
}
#: The file each snippet is written to by ``write_all``.
FILE_NAMES: dict[str, str] = {
    "nginx": "nginx.conf",
    "caddy": "Caddyfile",
    "apache": "apache.conf",
    "axum": "axum.rs",
    "headers": "_headers",
}


def render(
    server: str,
    manifest: Manifest,
    *,
    root: str,
    serve_manifest: bool = False,
    cors: CorsSetting = "*",
    links: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The snippet for ``server``; ConfigError for an unknown server or an unquotable root/base URL/origin.

    ``cors`` is a Cors or the config file's spelling: ``"*"`` (default), a list of origins, or False.
    ``links`` maps HTML routes to the logical paths their responses preload (``headers`` only).
    """
    renderer = RENDERERS.get(server) or MODULES.get(server)
    if renderer is None:
        known = ", ".join(sorted({**RENDERERS, **MODULES}))
        raise ConfigError(f"unknown server {server!r}", hint=f"choose one of {known}")
    if links and server != "headers":
        raise ConfigError(
            f"preload links are written by the headers snippet, not by {server}",
            hint="send the header from the application: see asset_link_header in docs/helper.md",
        )
    options = SnippetOptions(
        root=root, serve_manifest=serve_manifest, cors=as_cors(cors), links=_links(links)
    )
    return renderer(manifest, options)


def _links(links: Mapping[str, Sequence[str]] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if isinstance(links, str) or any(isinstance(paths, str) for paths in (links or {}).values()):
        raise ConfigError("links maps each route to a list of logical paths")
    return tuple((route, tuple(paths)) for route, paths in (links or {}).items())


def write_all(
    manifest: Manifest,
    directory: Path,
    *,
    root: str,
    serve_manifest: bool = False,
    cors: CorsSetting = "*",
) -> list[Path]:
    """Write every snippet into ``directory`` (atomically, one file per server); all are rendered first,
    so a refused root or origin leaves the folder as it was."""
    options = SnippetOptions(root=root, serve_manifest=serve_manifest, cors=as_cors(cors))
    texts = {server: renderer(manifest, options) for server, renderer in RENDERERS.items()}
    written = []
    for server, text in texts.items():
        target = directory / FILE_NAMES[server]
        write_atomic(target, text.encode("utf-8"))
        written.append(target)
    return written
