"""Starlette and FastAPI: the helper in ``Jinja2Templates``, and an ASGI app that serves a build.

    templates = Jinja2Templates(directory="templates")
    install(templates, "dist/manifest.json")
    app.mount("/static", StaticFiles(directory="dist"), name="static")

``StaticFiles`` serves OUT the way the server snippets do (docs/snippets.md): only the files the manifest
names, the best precompressed sibling the client accepts with the original's Content-Type and
``Vary: Accept-Encoding``, ``immutable`` exactly for what the manifest marks immutable and ``no-cache``
for the rest, a strong ETag from the digest (304 on a match), HEAD, CORS as the snippets send it
(``Access-Control-Allow-Origin: *`` by default), and a 404 for anything else: the manifest, dot files,
``..`` in any spelling, absolute paths, and files that resolve outside OUT.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from jinja2 import Environment
from starlette.datastructures import Headers
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import Receive, Scope, Send

from assetpipe import jinja
from assetpipe.cors import Cors, parse_cors
from assetpipe.jinja import AssetHelper
from assetpipe.manifest import ManifestEntry
from assetpipe.reader import ManifestReader, Snapshot

#: The two cache policies, as every server snippet writes them.
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
#: Preference order when a client accepts several encodings: br compresses smaller than gzip.
ENCODING_ORDER = ("br", "gzip")


def install(
    templates: Jinja2Templates | Environment,
    manifest_path: str | os.PathLike[str],
    *,
    base_url: str | None = None,
    auto_reload: bool = False,
) -> AssetHelper:
    """Put asset(), asset_integrity() and asset_tag() into the templates' environment."""
    env = templates.env if isinstance(templates, Jinja2Templates) else templates
    return jinja.install(env, manifest_path, base_url=base_url, auto_reload=auto_reload)


def accepted(accept_encoding: str) -> frozenset[str]:
    """Encodings an Accept-Encoding header allows (q > 0); ``*`` stands for any not named with q=0."""
    allowed: set[str] = set()
    refused: set[str] = set()
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        (allowed if quality > 0 else refused).add(name.strip().lower())
    if "*" in allowed:
        allowed.update(e for e in ENCODING_ORDER if e not in refused)
    return frozenset(allowed - refused)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


class StaticFiles:
    """ASGI app serving a build's output directory through its manifest (see the module docstring).

    ``auto_reload=True`` re-reads the manifest when it changes (beside ``assetpipe watch``); otherwise
    it is read here, so a missing build fails at start-up. ``cors`` is spelled as in assetpipe.toml:
    ``"*"`` (default), a list of origins (echoed when the request's Origin is one, with
    ``Vary: Origin``), or False.
    """

    def __init__(
        self,
        *,
        directory: str | os.PathLike[str],
        auto_reload: bool = False,
        cors: Cors | str | list[str] | bool = "*",
    ) -> None:
        self.cors = cors if isinstance(cors, Cors) else parse_cors(cors)
        self.directory = Path(directory).resolve()
        self.reader = ManifestReader(self.directory / "manifest.json", auto_reload=auto_reload)
        self._index: tuple[Snapshot | None, Mapping[str, ManifestEntry]] = (None, {})

    def index(self) -> Mapping[str, ManifestEntry]:
        """Hashed path -> entry, for the current reading of the manifest."""
        snap = self.reader.snapshot()
        cached, by_path = self._index
        if cached is not snap:
            by_path = {entry.path: entry for entry in snap.manifest.assets.values()}
            self._index = (snap, by_path)
        return by_path

    def cors_headers(self, origin: str | None, has_siblings: bool) -> dict[str, str]:
        """Access-Control-Allow-Origin and Vary for an asset's response, as the server snippets write them."""
        out: dict[str, str] = {}
        vary = ["Accept-Encoding"] if has_siblings else []
        if self.cors.any_origin:
            out["access-control-allow-origin"] = "*"
        elif self.cors.enabled:
            vary.append("Origin")  # the answer depends on it, for every request a cache may store
            if origin in self.cors.origins:
                out["access-control-allow-origin"] = origin
        if vary:
            out["vary"] = ", ".join(vary)
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        response = self.respond(scope)
        await response(scope, receive, send)

    def respond(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        # Exact lookup of a decoded path: "..", "%2e%2e", "//etc/passwd", "manifest.json" and dot files
        # are simply not keys; nothing is joined to the directory before the manifest has named it.
        entry = self.index().get(path.removeprefix("/"))
        if entry is None:
            return PlainTextResponse("Not Found", status_code=404)
        headers = Headers(scope=scope)
        allowed = accepted(headers.get("accept-encoding", ""))
        served, encoding = entry.path, None
        for name in ENCODING_ORDER:
            if name in entry.encodings and name in allowed:
                served, encoding = entry.encodings[name].path, name
                break
        file = self.directory / served
        try:
            resolved = file.resolve(strict=True)
            stat = resolved.stat()
        except OSError:
            return PlainTextResponse("Not Found", status_code=404)
        if not resolved.is_relative_to(self.directory):  # a symlink out of OUT
            return PlainTextResponse("Not Found", status_code=404)
        etag = f'"{entry.hash}{"-" + encoding if encoding else ""}"'
        out = {"cache-control": IMMUTABLE if entry.immutable else NO_CACHE, "etag": etag}
        out.update(self.cors_headers(headers.get("origin"), bool(entry.encodings)))
        if _etag_matches(headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=out)
        if encoding is not None:
            out["content-encoding"] = encoding
        return FileResponse(resolved, headers=out, media_type=entry.content_type, stat_result=stat)
