"""zstd siblings (opt-in) through the real servers: Caddy serves them; nginx and Apache, which cannot
negotiate a precompressed .zst, ignore them and never serve one in place of the asset."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from assetpipe.manifest import Manifest
from assetpipe.snippets import render

from .support import SERVERS, TEXT, Response, SourceFile, fetch, make_out, public_tempdir

pytestmark = pytest.mark.server

ALL = SourceFile("css/app.css", TEXT, "text/css; charset=utf-8", True, ("zstd", "br", "gzip"))
ZSTD_ONLY = SourceFile(
    "js/app.js", b"console.log('zstd only');\n" * 60, "text/javascript; charset=utf-8", True, ("zstd",)
)
UNHASHED = SourceFile("robots.txt", b"User-agent: *\nDisallow:\n" * 30, "text/plain", False, ("zstd", "br"))
SOURCES = (ALL, ZSTD_ONLY, UNHASHED)


@dataclass(frozen=True, slots=True)
class Served:
    server: str
    port: int
    manifest: Manifest

    def get(self, source: SourceFile, accept: str | None, suffix: str = "") -> Response:
        return fetch(self.port, self.manifest.url(source.logical) + suffix, accept)


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    server = str(request.param)
    work = public_tempdir(f"assetpipe-zstd-{server}-")
    try:
        out = work / "out"
        manifest = make_out(out, SOURCES)
        snippet = work / "static.snippet"
        snippet.write_text(render(server, manifest, root=str(out)))
        with SERVERS[server](work, [snippet]) as port:
            yield Served(server, port, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def serves_zstd(served: Served) -> bool:
    return served.server == "caddy"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.logical)
def test_a_client_accepting_only_zstd_gets_the_zst_sibling_where_the_server_can_negotiate_it(
    served: Served, source: SourceFile
) -> None:
    response = served.get(source, "zstd")
    assert response.status == 200
    assert response.header("Content-Encoding") == ("zstd" if serves_zstd(served) else None)
    assert response.decoded() == source.data
    assert (response.header("Content-Type") or "").split(";")[0] == source.content_type.split(";")[0]


def test_a_browser_accepting_everything_gets_zstd_from_caddy_and_br_elsewhere(served: Served) -> None:
    response = served.get(ALL, "gzip, deflate, br, zstd")  # what Chrome sends
    assert response.header("Content-Encoding") == ("zstd" if serves_zstd(served) else "br")
    assert response.decoded() == ALL.data


def test_zstd_refused_with_q_zero_is_not_sent(served: Served) -> None:
    response = served.get(ALL, "zstd;q=0, br")
    assert response.header("Content-Encoding") == "br"
    assert response.decoded() == ALL.data


@pytest.mark.parametrize("accept", [None, "zstd", "br"])
def test_responses_vary_on_accept_encoding_once_where_a_sibling_is_served(served: Served, accept) -> None:
    vary = [v.strip().lower() for value in served.get(ALL, accept).all("Vary") for v in value.split(",")]
    assert vary == ["accept-encoding"]
    only = [v.strip().lower() for value in served.get(ZSTD_ONLY, accept).all("Vary") for v in value.split(",")]
    assert only == (["accept-encoding"] if serves_zstd(served) else [])


def test_a_request_for_the_zst_file_itself_never_gets_it_as_the_asset(served: Served) -> None:
    # nginx and Apache serve the file under its own name (application/zstd or octet-stream), as they do
    # a .br: never decoded, never with the asset's type or a zstd Content-Encoding.
    response = served.get(ALL, "zstd", suffix=".zst")
    assert response.header("Content-Encoding") is None
    assert not (response.header("Content-Type") or "").startswith("text/css")
    assert response.body != ALL.data
