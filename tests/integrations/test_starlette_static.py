"""assetpipe.integrations.starlette.StaticFiles: a build served as the server snippets serve it, through
Starlette's TestClient and through real HTTP (uvicorn on a loopback port, raw request lines)."""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from assetpipe.config import Config
from assetpipe.errors import ManifestError
from assetpipe.integrations.starlette import IMMUTABLE, NO_CACHE, StaticFiles, accepted
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from tests.conftest import write_tree

from .dist import sri
from .servers import uvicorn_server

CSS = "body { color: #123456 }\n" * 40  # big enough to get siblings


@pytest.fixture
def out(tmp_path: Path) -> Path:
    write_tree(
        tmp_path / "src",
        {
            "css/app.css": CSS,
            "robots.txt": "User-agent: *\n",
            "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        },
    )
    build(
        Config(
            source=tmp_path / "src",
            output=tmp_path / "out",
            gzip_backend="zlib",
            cache_dir=tmp_path / "cache",
        )
    )
    (tmp_path / "secret.txt").write_text("secret\n")
    return tmp_path / "out"


def make_app(out: Path) -> Starlette:
    return Starlette(routes=[Mount("/static", app=StaticFiles(directory=out), name="static")])


def test_the_best_accepted_sibling_with_the_originals_type_and_vary(out: Path) -> None:
    manifest = Manifest.load(out / "manifest.json")
    entry = manifest.entry("css/app.css")
    assert set(entry.encodings) == {"br", "gzip"}
    client = TestClient(make_app(out))
    url = manifest.url("css/app.css")
    for accept, encoding in (
        ("gzip, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("", None),
        ("*", "br"),
    ):
        response = client.get(url, headers={"Accept-Encoding": accept})
        assert response.status_code == 200
        assert response.headers.get("content-encoding") == encoding, accept
        assert response.headers["content-type"] == entry.content_type
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["cache-control"] == IMMUTABLE
        assert sri(response.content) == entry.integrity  # httpx decodes br and gzip


def test_immutable_exactly_where_the_manifest_says_and_no_cache_elsewhere(out: Path) -> None:
    manifest = Manifest.load(out / "manifest.json")
    client = TestClient(make_app(out))
    for logical, entry in manifest.assets.items():
        response = client.get(manifest.url(logical))
        assert response.headers["cache-control"] == (IMMUTABLE if entry.immutable else NO_CACHE), logical
    assert not manifest.entry("robots.txt").immutable
    assert manifest.entry("robots.txt").path == "robots.txt"


def test_etag_gives_304_and_differs_per_encoding(out: Path) -> None:
    manifest = Manifest.load(out / "manifest.json")
    client = TestClient(make_app(out))
    url = manifest.url("css/app.css")
    plain = client.get(url, headers={"Accept-Encoding": ""})
    br = client.get(url, headers={"Accept-Encoding": "br"})
    assert plain.headers["etag"] != br.headers["etag"]
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": br.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["vary"] == "Accept-Encoding" and again.headers["cache-control"] == IMMUTABLE
    assert (
        client.get(url, headers={"Accept-Encoding": "", "If-None-Match": br.headers["etag"]}).status_code
        == 200
    )


def test_head_has_the_headers_and_no_body_and_other_methods_are_refused(out: Path) -> None:
    manifest = Manifest.load(out / "manifest.json")
    client = TestClient(make_app(out))
    head = client.head(manifest.url("img/logo.svg"))
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == manifest.entry("img/logo.svg").size
    assert client.post(manifest.url("img/logo.svg")).status_code == 405


def test_a_missing_build_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ManifestError):
        StaticFiles(directory=tmp_path)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("gzip, deflate, br", {"gzip", "deflate", "br"}),
        ("br;q=0", set()),
        ("*;q=0.5, gzip;q=0", {"*", "br"}),
        ("gzip;q=x", set()),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(header: str, expected: set[str]) -> None:
    assert accepted(header) == expected


# -- over real HTTP ---------------------------------------------------------------------------------------
@pytest.fixture
def server(out: Path) -> Iterator[int]:
    with uvicorn_server(make_app(out)) as port:
        yield port


def raw_get(port: int, target: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """GET with the request target sent exactly as given (no client-side normalising)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("GET", target, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_uvicorn_serves_brotli_with_vary_and_immutable(out: Path, server: int) -> None:
    manifest = Manifest.load(out / "manifest.json")
    response = raw_get(server, manifest.url("css/app.css"), {"Accept-Encoding": "br, gzip"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "br"
    assert response.getheader("Vary") == "Accept-Encoding"
    assert response.getheader("Cache-Control") == IMMUTABLE


@pytest.mark.parametrize(
    "target",
    [
        "/static/manifest.json",
        "/static/.assetpipe/lock",
        "/static/css/app.css",  # the unhashed name: not in the build
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/css/..%2f..%2fsecret.txt",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/..\\\\secret.txt",
    ],
)
def test_uvicorn_refuses_the_manifest_dot_files_and_traversal(out: Path, server: int, target: str) -> None:
    assert raw_get(server, target).status == 404


def test_a_symlink_out_of_the_output_directory_is_not_followed(out: Path, server: int) -> None:
    manifest = Manifest.load(out / "manifest.json")
    served = out / manifest.entry("img/logo.svg").path
    served.unlink()
    os.symlink(out.parent / "secret.txt", served)
    assert raw_get(server, manifest.url("img/logo.svg")).status == 404


def test_cors_is_any_origin_by_default_and_never_on_a_404(out: Path) -> None:
    manifest = Manifest.load(out / "manifest.json")
    client = TestClient(make_app(out))
    assert client.get(manifest.url("img/logo.svg")).headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in client.get("/static/manifest.json").headers


def test_a_cors_allow_list_echoes_a_listed_origin_with_vary_origin(out: Path) -> None:
    manifest = Manifest.load(out / "manifest.json")
    app = Starlette(
        routes=[Mount("/static", app=StaticFiles(directory=out, cors=["https://www.example.com"]))]
    )
    client = TestClient(app)
    url = manifest.url("css/app.css")
    listed = client.get(url, headers={"Origin": "https://www.example.com"})
    other = client.get(url, headers={"Origin": "https://evil.example"})
    assert listed.headers["access-control-allow-origin"] == "https://www.example.com"
    assert listed.headers["vary"] == other.headers["vary"] == "Accept-Encoding, Origin"
    assert "access-control-allow-origin" not in other.headers


def test_cors_false_sends_no_cors_headers(out: Path) -> None:
    manifest = Manifest.load(out / "manifest.json")
    client = TestClient(Starlette(routes=[Mount("/static", app=StaticFiles(directory=out, cors=False))]))
    response = client.get(manifest.url("img/logo.svg"), headers={"Origin": "https://www.example.com"})
    assert "access-control-allow-origin" not in response.headers
    assert "vary" not in response.headers
