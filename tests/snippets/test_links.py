"""``assetpipe snippet headers --link ROUTE=asset,asset``: preload Link headers for HTML routes in _headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assetpipe.cli import cli
from assetpipe.errors import AssetpipeError, ConfigError, UnknownAsset
from assetpipe.hints import link_header
from assetpipe.manifest import Manifest
from assetpipe.snippets import render

from ..test_hints import parse_link_header
from .support import make_out


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return make_out(tmp_path / "out")


def rules(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("/"):
            current = found.setdefault(line, [])
        elif line.startswith("  "):
            current.append(line.strip())
    return found


def test_each_route_gets_one_link_line_per_hint_matching_the_helper(manifest: Manifest) -> None:
    links = {"/": ["css/app.css", "js/mod.mjs"], "/blog/*": ["img/logo.png"]}
    found = rules(render("headers", manifest, root="/srv/out", links=links))
    for route, names in links.items():
        values = [line.removeprefix("Link: ") for line in found[route]]
        assert all(line.startswith("Link: ") for line in found[route])
        # Joined, the lines are exactly the helper's header value: one place renders a hint.
        assert ", ".join(values) == link_header(manifest, names)
        assert [link.target for link in parse_link_header(", ".join(values))] == [
            manifest.url(name) for name in names
        ]


def test_routes_keep_placeholders_and_splats(manifest: Manifest) -> None:
    found = rules(render("headers", manifest, root="/x", links={"/posts/:slug/*": ["css/app.css"]}))
    assert "/posts/:slug/*" in found


@pytest.mark.parametrize("route", ["blog", "/a b", "/a\n/b", "/ü", "/a#b", "/a?b", "", "/a\\b"])
def test_a_route_a_headers_file_cannot_carry_is_refused(manifest: Manifest, route: str) -> None:
    with pytest.raises(ConfigError, match="is not a _headers path"):
        render("headers", manifest, root="/x", links={route: ["css/app.css"]})


def test_an_unknown_asset_or_one_without_a_preload_is_an_error(manifest: Manifest) -> None:
    with pytest.raises(UnknownAsset):
        render("headers", manifest, root="/x", links={"/": ["css/ap.css"]})
    with pytest.raises(AssetpipeError, match="no preload hint"):
        render("headers", manifest, root="/x", links={"/": ["robots.txt"]})


def test_a_route_with_no_assets_is_refused(manifest: Manifest) -> None:
    with pytest.raises(ConfigError, match="names no assets"):
        render("headers", manifest, root="/x", links={"/": []})


def test_links_belong_to_the_headers_snippet_only(manifest: Manifest) -> None:
    with pytest.raises(ConfigError, match="not by nginx"):
        render("nginx", manifest, root="/x", links={"/": ["css/app.css"]})


def test_a_string_instead_of_a_list_is_refused(manifest: Manifest) -> None:
    with pytest.raises(ConfigError, match="list of logical paths"):
        render("headers", manifest, root="/x", links={"/": "css/app.css"})  # type: ignore[dict-item]


def test_without_links_the_file_is_unchanged(manifest: Manifest) -> None:
    assert render("headers", manifest, root="/x", links={}) == render("headers", manifest, root="/x")


def invoke(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    manifest = str(tmp_path / "out" / "manifest.json")
    result = CliRunner().invoke(cli, ["snippet", "headers", "--manifest", manifest, "--root", "/x", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_takes_route_equals_assets(manifest: Manifest, tmp_path: Path) -> None:
    code, out, _ = invoke(tmp_path, "--link", "/=css/app.css, js/mod.mjs", "--link", "/about/=img/logo.png")
    assert code == 0
    expected = {"/": ["css/app.css", "js/mod.mjs"], "/about/": ["img/logo.png"]}
    assert out == render("headers", manifest, root="/x", links=expected)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--link", "/"], "expected ROUTE=ASSET,ASSET"),
        (["--link", "/=css/app.css", "--link", "/=js/mod.mjs"], "given twice"),
        (["--link", "/=css/nope.css"], "unknown asset 'css/nope.css'"),
        (["--link", "/=,"], "names no assets"),
    ],
)
def test_the_cli_refuses_bad_links_in_one_line(
    manifest: Manifest, tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = invoke(tmp_path, *args)
    assert code != 0 and out == ""
    assert message in err and "Traceback" not in err
