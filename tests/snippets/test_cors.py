"""CORS from the generated nginx, Caddy and Apache snippets, asked over HTTP of the real servers.

Each server starts once per module with four snippets side by side, one per ``cors`` setting:
/static/ (the default ``*``, manifest hidden), /open/ (``*``, manifest served), /listed/ (two origins,
manifest served) and /closed/ (``false``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from assetpipe.manifest import Manifest
from assetpipe.snippets import render

from .support import OLD_FILE, SERVERS, SOURCES, Response, fetch, make_out, public_tempdir

pytestmark = pytest.mark.server

ALLOWED = "https://app.example"
ALSO_ALLOWED = "http://127.0.0.1:8001"
STRANGER = "https://evil.example"
IMMUTABLE = "public, max-age=31536000, immutable"
#: base URL -> (cors setting, serve_manifest)
SITES: dict[str, tuple[Any, bool]] = {
    "/static/": ("*", False),
    "/open/": ("*", True),
    "/listed/": ([ALLOWED, ALSO_ALLOWED], True),
    "/closed/": (False, True),
}


@dataclass(frozen=True, slots=True)
class Served:
    server: str
    port: int
    manifest: Manifest  # the /static/ one; the others differ only in base URL

    def get(self, base: str, logical: str, accept: str | None = "br", **headers: str) -> Response:
        path = base + self.manifest.entry(logical).path
        return fetch(self.port, path, accept, headers=headers)

    def raw(self, path: str, accept: str | None = None, **headers: str) -> Response:
        return fetch(self.port, path, accept, headers=headers)


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    server = str(request.param)
    work = public_tempdir(f"assetpipe-cors-{server}-")
    try:
        manifest = make_out(work / "static")
        snippets = []
        for base, (cors, serve_manifest) in SITES.items():
            out = work / base.strip("/")
            if base != "/static/":
                shutil.copytree(work / "static", out)
            site_manifest = replace(manifest, base_url=base)
            site_manifest.write(out)
            snippet = work / f"{base.strip('/')}.snippet"
            text = render(server, site_manifest, root=str(out), serve_manifest=serve_manifest, cors=cors)
            snippet.write_text(text)
            snippets.append(snippet)
        with SERVERS[server](work, snippets) as port:
            yield Served(server, port, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def vary(response: Response) -> list[str]:
    return [token.strip().lower() for value in response.all("Vary") for token in value.split(",")]


def revalidate(served: Served, base: str, logical: str, accept: str, **headers: str) -> Response:
    first = served.get(base, logical, accept, **headers)
    validator = first.header("ETag")
    assert validator is not None
    again = served.get(base, logical, accept, **{"If-None-Match": validator, **headers})
    assert again.status == 304
    return again


# -- cors = "*" (the default) ----------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "br", "gzip"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.logical)
def test_every_asset_in_every_encoding_allows_any_origin(served: Served, source, accept) -> None:
    response = served.get("/static/", source.logical, accept, Origin=ALLOWED)
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") == "*"
    # One fixed value: caches need not key on Origin.
    assert "origin" not in vary(response)


def test_a_precompressed_response_allows_any_origin_and_keeps_immutable(served: Served) -> None:
    for accept, encoding in (("br", "br"), ("gzip", "gzip")):
        response = served.get("/static/", "css/app.css", accept)
        assert response.header("Content-Encoding") == encoding
        assert response.header("Access-Control-Allow-Origin") == "*"
        assert response.header("Cache-Control") == IMMUTABLE


@pytest.mark.parametrize("accept", ["br", "gzip", "identity"])
def test_a_304_revalidation_allows_any_origin(served: Served, accept: str) -> None:
    again = revalidate(served, "/static/", "css/app.css", accept, Origin=ALLOWED)
    assert again.header("Access-Control-Allow-Origin") == "*"
    assert again.header("Cache-Control") == IMMUTABLE


def test_a_head_request_allows_any_origin(served: Served) -> None:
    response = fetch(served.port, "/static/" + served.manifest.entry("js/app.js").path, "br", method="HEAD")
    assert response.header("Access-Control-Allow-Origin") == "*"


def test_a_previous_builds_file_still_on_disk_allows_any_origin(served: Served) -> None:
    # An old page on a rolling deploy still asks for it, cross-origin like the rest.
    response = served.raw(f"/static/{OLD_FILE}", "br", Origin=ALLOWED)
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.css",
        "/static/css/app.ffffffffffff.css",
        "/static/css/",
        "/static/",
        "/static/.assetpipe-tmp-abc123",
        "/static/manifest.json",
        "/listed/missing.css",
        "/listed/css/",
    ],
)
def test_a_404_never_carries_cors(served: Served, path: str) -> None:
    response = served.raw(path, "br", Origin=ALLOWED)
    assert response.status in (403, 404)
    assert response.header("Access-Control-Allow-Origin") is None


@pytest.mark.parametrize(
    "spelling", ["manifest.json", "manifest%2ejson", "manifest.json?x=1", "./manifest.json"]
)
@pytest.mark.parametrize("base", ["/open/", "/listed/"])
def test_a_served_manifest_never_carries_cors(served: Served, base: str, spelling: str) -> None:
    response = served.raw(base + spelling, "br", Origin=ALLOWED)
    assert response.header("Access-Control-Allow-Origin") is None
    if response.status == 200:
        assert b'"assets"' in response.decoded()
    else:
        assert response.status in (400, 403, 404)
    if spelling == "manifest.json":
        assert response.status == 200


def test_the_open_site_serves_its_assets_with_cors(served: Served) -> None:
    response = served.get("/open/", "js/mod.mjs", "br", Origin=ALLOWED)
    assert response.header("Access-Control-Allow-Origin") == "*"


# -- cors = [origins] ------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [ALLOWED, ALSO_ALLOWED])
@pytest.mark.parametrize("accept", [None, "br", "gzip"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.logical)
def test_a_listed_origin_is_echoed_and_the_response_varies_on_origin(
    served: Served, source, accept, origin: str
) -> None:
    response = served.get("/listed/", source.logical, accept, Origin=origin)
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") == origin
    tokens = vary(response)
    assert tokens.count("origin") == 1
    assert tokens.count("accept-encoding") == (1 if source.encodings else tokens.count("accept-encoding"))
    assert tokens.count("accept-encoding") <= 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": STRANGER},
        {},
        {"Origin": ALLOWED + "/"},
        {"Origin": ALLOWED.upper()},
        {"Origin": ALLOWED + ".evil.example"},
        {"Origin": "null"},
    ],
    ids=["stranger", "no-origin", "trailing-slash", "upper-case", "suffix", "null"],
)
def test_an_unlisted_origin_gets_no_cors_but_the_response_still_varies_on_origin(
    served: Served, headers: dict[str, str]
) -> None:
    # Vary on every response, so a cache never hands this one to a listed origin (or the reverse).
    response = served.get("/listed/", "css/app.css", "br", **headers)
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") is None
    assert vary(response).count("origin") == 1


def test_a_304_for_a_listed_origin_echoes_it(served: Served) -> None:
    again = revalidate(served, "/listed/", "css/app.css", "br", Origin=ALLOWED)
    assert again.header("Access-Control-Allow-Origin") == ALLOWED
    assert again.header("Cache-Control") == IMMUTABLE
    assert "origin" in vary(again)


# -- cors = false ----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.logical)
def test_cors_off_sends_no_cors_header(served: Served, source) -> None:
    response = served.get("/closed/", source.logical, "br", Origin=ALLOWED)
    assert response.status == 200
    assert response.header("Access-Control-Allow-Origin") is None
    assert "origin" not in vary(response)
