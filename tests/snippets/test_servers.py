"""The generated nginx, Caddy and Apache snippets, run by the real servers and asked over HTTP.

Each server starts once per module with two snippets: the site under /static/ (manifest hidden) and a
copy under /open/ generated with serve_manifest, so the two also prove that snippets can sit side by side.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from assetpipe.manifest import Manifest
from assetpipe.snippets import render

from .support import (
    OLD_FILE,
    SERVERS,
    SOURCES,
    TEMP_FILE,
    Response,
    fetch,
    make_out,
    public_tempdir,
)

pytestmark = pytest.mark.server

IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Served:
    server: str
    port: int
    out: Path
    manifest: Manifest

    def get(self, path: str, accept: str | None = None, **kwargs: Any) -> Response:
        return fetch(self.port, path, accept, **kwargs)

    def url(self, logical: str) -> str:
        return self.manifest.url(logical)


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    server = str(request.param)
    work = public_tempdir(f"assetpipe-{server}-")
    try:
        out = work / "out"
        manifest = make_out(out)
        # Index pages that a fallback would serve: none of them may ever answer.
        (out / "index.html").write_text("<h1>index</h1>")
        (out / "css" / "index.html").write_text("<h1>css index</h1>")
        open_out = work / "open"
        shutil.copytree(out, open_out)
        open_manifest = replace(manifest, base_url="/open/")
        open_manifest.write(open_out)
        snippets = []
        for name, m, directory, serve_manifest in (
            ("static", manifest, out, False),
            ("open", open_manifest, open_out, True),
        ):
            path = work / f"{name}.snippet"
            path.write_text(render(server, m, root=str(directory), serve_manifest=serve_manifest))
            snippets.append(path)
        with SERVERS[server](work, snippets) as port:
            yield Served(server, port, out, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def essence(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def assert_same_type(response: Response, expected: str) -> None:
    """The original's media type (servers may differ in spelling the charset parameter)."""
    assert essence(response.header("Content-Type")) == essence(expected)


@pytest.mark.parametrize("source", [s for s in SOURCES if "br" in s.encodings], ids=lambda s: s.logical)
def test_a_client_accepting_br_gets_the_br_sibling_with_the_original_type(served: Served, source) -> None:
    response = served.get(served.url(source.logical), "gzip, deflate, br")
    assert response.status == 200
    assert response.header("Content-Encoding") == "br"
    assert_same_type(response, source.content_type)
    assert response.decoded() == source.data
    assert response.header("Content-Language") is None


@pytest.mark.parametrize("source", [s for s in SOURCES if "gzip" in s.encodings], ids=lambda s: s.logical)
def test_a_client_accepting_only_gzip_gets_the_gz_sibling_with_the_original_type(
    served: Served, source
) -> None:
    response = served.get(served.url(source.logical), "gzip")
    assert response.status == 200
    assert response.header("Content-Encoding") == "gzip"
    assert_same_type(response, source.content_type)
    assert response.decoded() == source.data


@pytest.mark.parametrize("accept", [None, "identity", "deflate"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.logical)
def test_a_client_accepting_neither_gets_the_original_bytes(served: Served, source, accept) -> None:
    response = served.get(served.url(source.logical), accept)
    assert response.status == 200
    assert response.header("Content-Encoding") is None
    assert_same_type(response, source.content_type)
    assert response.body == source.data


def test_a_gzip_only_client_gets_the_original_when_there_is_no_gz_sibling(served: Served) -> None:
    response = served.get(served.url("js/app.js"), "gzip")
    assert response.header("Content-Encoding") is None
    assert response.body == (served.out / served.manifest.entry("js/app.js").path).read_bytes()


def test_br_refused_with_q_zero_falls_back_to_gzip(served: Served) -> None:
    response = served.get(served.url("css/app.css"), "br;q=0, gzip")
    assert response.header("Content-Encoding") == "gzip"
    assert response.decoded() == SOURCES[0].data


@pytest.mark.parametrize("accept", [None, "gzip", "br", "gzip, br"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.logical)
def test_every_response_for_a_file_with_siblings_varies_on_accept_encoding_once(
    served: Served, source, accept
) -> None:
    response = served.get(served.url(source.logical), accept)
    vary = [v.strip().lower() for value in response.all("Vary") for v in value.split(",")]
    if source.encodings:
        assert vary == ["accept-encoding"]
    else:
        assert response.header("Content-Encoding") is None


@pytest.mark.parametrize("accept", [None, "gzip", "br"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.logical)
def test_cache_control_follows_the_manifest_not_the_file_name(served: Served, source, accept) -> None:
    response = served.get(served.url(source.logical), accept)
    expected = IMMUTABLE if served.manifest.entry(source.logical).immutable else "no-cache"
    assert response.header("Cache-Control") == expected


def test_an_unhashed_file_whose_name_looks_hashed_is_not_immutable(served: Served) -> None:
    response = served.get(served.url("css/x.0123456789ab.css"), "br")
    assert response.header("Cache-Control") == "no-cache"


def test_a_previous_builds_file_is_served_but_not_marked_immutable(served: Served) -> None:
    response = served.get(f"/static/{OLD_FILE}")
    assert response.status == 200
    assert response.header("Cache-Control") == "no-cache"


@pytest.mark.parametrize("path", ["missing.css", "css/app.ffffffffffff.css", "css/missing/", "nope/x.js"])
def test_a_missing_file_is_a_plain_404_without_cache_headers(served: Served, path: str) -> None:
    response = served.get(f"/static/{path}", "br, gzip")
    assert response.status == 404
    assert response.header("Cache-Control") is None
    assert response.header("Content-Encoding") is None
    assert b"index" not in response.body


@pytest.mark.parametrize("path", ["", "css/", "css"])
def test_a_directory_is_a_404_never_an_index_page(served: Served, path: str) -> None:
    response = served.get(f"/static/{path}")
    assert response.status == 404
    assert b"index" not in response.body
    assert response.header("Cache-Control") is None


def test_the_manifest_is_not_served(served: Served) -> None:
    response = served.get("/static/manifest.json")
    assert response.status in (403, 404)
    assert b'"assets"' not in response.body


def test_the_manifest_is_served_without_caching_when_asked_for(served: Served) -> None:
    response = served.get("/open/manifest.json", "br, gzip")
    assert response.status == 200
    assert response.header("Cache-Control") == "no-cache"
    assert Manifest.loads(response.decoded().decode()).base_url == "/open/"


def test_the_served_manifest_snippet_serves_the_same_files(served: Served) -> None:
    entry = served.manifest.entry("css/app.css")
    response = served.get(f"/open/{entry.path}", "br")
    assert response.header("Content-Encoding") == "br"
    assert response.header("Cache-Control") == IMMUTABLE


@pytest.mark.parametrize("path", [TEMP_FILE, "css/.hidden.css", ".well-known/.hidden", ".well-knownx"])
def test_dot_files_are_never_served(served: Served, path: str) -> None:
    (served.out / path).write_bytes(b"secret")
    response = served.get(f"/static/{path}")
    assert response.status in (403, 404)
    assert b"secret" not in response.body


def test_a_revalidated_immutable_file_keeps_its_cache_and_vary_headers(served: Served) -> None:
    first = served.get(served.url("css/app.css"), "br")
    validator = first.header("ETag")
    assert validator is not None
    again = served.get(served.url("css/app.css"), "br", headers={"If-None-Match": validator})
    assert again.status == 304
    assert again.header("Cache-Control") == IMMUTABLE
    assert [v.lower() for v in again.all("Vary")] == ["accept-encoding"]


def test_head_requests_carry_the_same_headers(served: Served) -> None:
    response = served.get(served.url("css/app.css"), "br", method="HEAD")
    assert response.status == 200
    assert response.header("Content-Encoding") == "br"
    assert response.header("Cache-Control") == IMMUTABLE
    assert response.body == b""


def test_the_well_known_folder_is_served_without_caching(served: Served) -> None:
    response = served.get(served.url(".well-known/security.txt"))
    assert response.status == 200
    assert response.body == b"Contact: mailto:a@example.com\n"
    assert response.header("Cache-Control") == "no-cache"
