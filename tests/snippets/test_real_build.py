"""A real build of example_site, with the snippets the build itself writes (snippets_dir), served by each
real server: every manifest entry arrives in every encoding with the bytes on disk and its cache header."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.snippets import FILE_NAMES

from .support import DECODERS, SERVERS, fetch, public_tempdir

pytestmark = pytest.mark.server

EXAMPLE = Path(__file__).resolve().parents[2] / "example_site" / "assets"


@pytest.fixture(scope="module")
def built() -> Iterator[tuple[Path, Manifest]]:
    work = public_tempdir("assetpipe-real-build-")
    try:
        config = Config(source=EXAMPLE, output=work / "out", snippets_dir=work / "snippets")
        report = build(config)
        yield work, report.manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_build_writes_every_snippet_outside_the_served_folder(built: tuple[Path, Manifest]) -> None:
    work, _ = built
    assert sorted(p.name for p in (work / "snippets").iterdir()) == sorted(FILE_NAMES.values())
    assert not any((work / "out" / name).exists() for name in FILE_NAMES.values())


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_every_built_file_is_served_in_every_encoding_by_the_build_s_own_snippet(
    built: tuple[Path, Manifest], server: str
) -> None:
    work, manifest = built
    server_dir = work / server
    server_dir.mkdir(exist_ok=True)
    snippet = work / "snippets" / FILE_NAMES[server]
    with SERVERS[server](server_dir, [snippet]) as port:
        for logical, entry in manifest.assets.items():
            original = (work / "out" / entry.path).read_bytes()
            for accept, encoding in (("br, gzip", "br"), ("gzip", "gzip"), (None, "")):
                response = fetch(port, manifest.url(logical), accept)
                assert response.status == 200, logical
                expected = encoding if encoding in entry.encodings else ""
                assert (response.header("Content-Encoding") or "") == expected, (logical, accept)
                assert DECODERS[expected](response.body) == original, (logical, accept)
                cache = "public, max-age=31536000, immutable" if entry.immutable else "no-cache"
                assert response.header("Cache-Control") == cache, logical
        assert fetch(port, "/static/manifest.json").status in (403, 404)
        assert fetch(port, "/static/.assetpipe/lock").status in (403, 404)
