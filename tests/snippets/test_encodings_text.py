"""Which encodings each snippet names, as text: the ones the manifest lists, where the server can serve them."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetpipe.manifest import Manifest
from assetpipe.snippets import render

from .support import TEXT, SourceFile, make_out

WITH_ZSTD = (
    SourceFile("css/app.css", TEXT, "text/css; charset=utf-8", True, ("zstd", "br", "gzip")),
    SourceFile("js/only.js", b"console.log(1);\n" * 80, "text/javascript; charset=utf-8", True, ("zstd",)),
)
WITHOUT_ZSTD = (SourceFile("css/app.css", TEXT, "text/css; charset=utf-8", True, ("br", "gzip")),)


def site(tmp_path: Path, sources: tuple[SourceFile, ...]) -> Manifest:
    return make_out(tmp_path / "out", sources)


def test_caddy_serves_zstd_first_when_the_manifest_lists_it(tmp_path: Path) -> None:
    text = render("caddy", site(tmp_path, WITH_ZSTD), root="/srv/out")
    assert "\t\t\tprecompressed zstd br gzip\n" in text


def test_caddy_names_no_zstd_when_the_manifest_lists_none(tmp_path: Path) -> None:
    # An old .zst left on disk by a build with zstd on is then never served.
    text = render("caddy", site(tmp_path, WITHOUT_ZSTD), root="/srv/out")
    assert "\t\t\tprecompressed br gzip\n" in text
    assert "zstd" not in text


def test_a_file_with_only_a_zstd_sibling_gets_vary_from_caddy(tmp_path: Path) -> None:
    manifest = site(tmp_path, WITH_ZSTD)
    text = render("caddy", manifest, root="/srv/out")
    vary_line = next(line for line in text.splitlines() if line.startswith("\t\t@assetpipe_vary "))
    assert manifest.entry("js/only.js").path.split(".")[1] in vary_line


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_nginx_and_apache_ignore_zstd_siblings(tmp_path: Path, server: str) -> None:
    manifest = site(tmp_path, WITH_ZSTD)
    text = render(server, manifest, root="/srv/out")
    assert "zst" not in text
    only = manifest.url("js/only.js")
    if server == "nginx":
        block = text[text.index(f'location = "{only}"') :].split("}", 1)[0]
        assert "Vary" not in block, "nginx serves no sibling of it"
    else:
        vary = [line for line in text.splitlines() if "Header merge Vary" in line]
        assert vary and not any(only in line for line in vary), "Apache serves no sibling of it"


def test_axum_asks_serve_dir_for_zstd_only_when_the_manifest_lists_it(tmp_path: Path) -> None:
    with_zstd = render("axum", site(tmp_path / "a", WITH_ZSTD), root="/srv/out")
    assert ".precompressed_zstd()\n        .precompressed_br()\n        .precompressed_gzip()" in with_zstd
    without = render("axum", site(tmp_path / "b", WITHOUT_ZSTD), root="/srv/out")
    assert "zstd" not in without
