"""Hostile characters in the root, the base URL and file names: quoted so the real server serves them, or
refused with ConfigError; never a config that means something else.

Each server starts once with one snippet per accepted root character (each its own OUT under its own base
URL) plus a site whose file names carry the characters, so "quoted correctly" is proven by serving.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from assetpipe.errors import AssetpipeError, ConfigError
from assetpipe.manifest import Manifest
from assetpipe.snippets import RENDERERS, render

from .support import SERVERS, SourceFile, fetch, make_out, public_tempdir

HOSTILE = [
    '"',
    "'",
    ";",
    "{",
    "}",
    " ",
    "$",
    "\\",
    "#",
    "*",
    "?",
    "[",
    "]",
    "`",
    "%",
    "<",
    ">",
    "&",
    "|",
    "ü",
]
CONTROL = ["\n", "\r", "\t", "\x00", "\x7f"]
FILE_CHARS = [
    " ",
    "'",
    '"',
    ";",
    "{",
    "}",
    "$",
    "#",
    "?",
    "%",
    "+",
    "&",
    "(",
    "[",
    "@",
    ",",
    "=",
    "ü",
    "\\",
    "*",
]
DATA = b"a { color: red }\n" * 50
IMMUTABLE = "public, max-age=31536000, immutable"


def one_file_site(out: Path, base_url: str, logical: str = "css/app.css") -> Manifest:
    return make_out(out, (SourceFile(logical, DATA, "text/css; charset=utf-8"),), base_url=base_url)


@dataclass(frozen=True, slots=True)
class Hostile:
    port: int
    accepted: dict[str, Manifest]  # character -> manifest of the OUT whose root contains it
    refused: dict[str, str]  # character -> error message
    files: dict[str, Manifest]  # character -> manifest of a site whose file name contains it
    files_refused: dict[str, str]


@pytest.fixture(scope="module", params=sorted(SERVERS))
def hostile(request: pytest.FixtureRequest) -> Iterator[tuple[str, Hostile]]:
    server = str(request.param)
    work = public_tempdir(f"assetpipe-quoting-{server}-")
    try:
        snippets: list[Path] = []
        accepted: dict[str, Manifest] = {}
        refused: dict[str, str] = {}
        for index, char in enumerate(HOSTILE):
            root = work / f"out{char}{index}"
            manifest = one_file_site(root, f"/q{index}/")
            try:
                text = render(server, manifest, root=str(root))
            except ConfigError as exc:
                refused[char] = str(exc)
                continue
            snippet = work / f"q{index}.snippet"
            snippet.write_text(text)
            snippets.append(snippet)
            accepted[char] = manifest
        files: dict[str, Manifest] = {}
        files_refused: dict[str, str] = {}
        for index, char in enumerate(FILE_CHARS):
            root = work / f"files{index}"
            manifest = one_file_site(root, f"/f{index}/", logical=f"f/n{char}x.css")
            try:
                text = render(server, manifest, root=str(root))
            except ConfigError as exc:
                files_refused[char] = str(exc)
                continue
            snippet = work / f"f{index}.snippet"
            snippet.write_text(text)
            snippets.append(snippet)
            files[char] = manifest
        with SERVERS[server](work, snippets) as port:
            yield server, Hostile(port, accepted, refused, files, files_refused)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.server
@pytest.mark.parametrize("char", HOSTILE)
def test_a_hostile_character_in_the_root_is_served_or_refused(
    hostile: tuple[str, Hostile], char: str
) -> None:
    server, site = hostile
    if char in site.refused:
        assert repr(char) in site.refused[char]
        return
    manifest = site.accepted[char]
    response = fetch(site.port, manifest.url("css/app.css"), "br")
    assert response.status == 200, f"{server} did not serve a root containing {char!r}"
    assert response.header("Content-Encoding") == "br"
    assert response.decoded() == DATA
    assert response.header("Cache-Control") == IMMUTABLE


@pytest.mark.server
def test_only_characters_the_syntax_cannot_quote_are_refused(hostile: tuple[str, Hostile]) -> None:
    server, site = hostile
    unquotable = {
        "nginx": {"$"},
        "caddy": {"{", "}", "\\", "*", "?", "[", "]"},
        "apache": {"$", "*", "?", "[", "]"},
    }
    assert set(site.refused) == unquotable[server]


@pytest.mark.server
@pytest.mark.parametrize("char", FILE_CHARS)
def test_a_file_name_with_a_hostile_character_gets_its_sibling_and_headers(
    hostile: tuple[str, Hostile], char: str
) -> None:
    server, site = hostile
    if server == "caddy" and char == "\\":
        assert repr(char) in site.files_refused[char]
        return
    url = site.files[char].url(f"f/n{char}x.css")
    response = fetch(site.port, quote(url, safe="/"), "br")
    assert response.status == 200, f"{server}: {url!r}"
    assert response.header("Content-Encoding") == "br"
    assert response.decoded() == DATA
    assert response.header("Cache-Control") == IMMUTABLE
    assert [v.lower() for v in response.all("Vary")] == ["accept-encoding"]


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_a_control_character_in_the_root_is_refused(tmp_path: Path, server: str, char: str) -> None:
    manifest = one_file_site(tmp_path / "out", "/static/")
    with pytest.raises(ConfigError, match="control character"):
        render(server, manifest, root=f"/srv/out{char}x")


@pytest.mark.parametrize("char", [*HOSTILE, *CONTROL, "/./", "/../", "//"])
@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_a_hostile_base_url_is_refused_by_every_renderer(tmp_path: Path, server: str, char: str) -> None:
    manifest = one_file_site(tmp_path / "out", f"/sta{char}tic/")
    with pytest.raises(ConfigError, match="base URL"):
        render(server, manifest, root="/srv/out")


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_a_relative_root_is_refused(tmp_path: Path, server: str) -> None:
    manifest = one_file_site(tmp_path / "out", "/static/")
    with pytest.raises(ConfigError, match="not an absolute path"):
        render(server, manifest, root="dist")


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_a_control_character_in_a_file_name_is_refused(tmp_path: Path, server: str) -> None:
    manifest = one_file_site(tmp_path / "out", "/static/", logical="css/a\nb.css")
    with pytest.raises(AssetpipeError, match="unsafe output path"):
        render(server, manifest, root="/srv/out")
