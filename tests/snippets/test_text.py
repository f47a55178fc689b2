"""The snippets as text: the package API, the Axum source (no crates registry here to compile it),
the ``_headers`` file, and what every renderer shares (deterministic, manifest-driven, base URL path)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from assetpipe.cli import cli
from assetpipe.errors import ConfigError
from assetpipe.manifest import Manifest
from assetpipe.snippets import FILE_NAMES, MODULES, RENDERERS, SnippetOptions, render, write_all
from assetpipe.snippets.site import base_path

from .support import SOURCES, make_out


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return make_out(tmp_path / "out")


def urls(manifest: Manifest, *, immutable: bool | None = None, siblings: bool = False) -> list[str]:
    return sorted(
        manifest.url(logical)
        for logical, entry in manifest.assets.items()
        if (immutable is None or entry.immutable == immutable) and (not siblings or entry.encodings)
    )


# -- package API -----------------------------------------------------------------------------------


def test_every_server_the_cli_offers_has_a_renderer_and_a_file_name() -> None:
    offered = cli.commands["snippet"].params[0].type.choices  # type: ignore[attr-defined]
    assert set(RENDERERS) == {"nginx", "caddy", "apache", "axum", "headers"}
    assert set(offered) == set(RENDERERS) | set(MODULES) == {*RENDERERS, "rust"}
    assert set(FILE_NAMES) == set(RENDERERS)


def test_an_unknown_server_is_a_config_error(manifest: Manifest) -> None:
    with pytest.raises(ConfigError, match="unknown server 'lighttpd'"):
        render("lighttpd", manifest, root="/srv/out")


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_rendering_is_deterministic_and_ends_with_a_newline(manifest: Manifest, server: str) -> None:
    first = render(server, manifest, root="/srv/out")
    assert first == render(server, manifest, root="/srv/out")
    assert first.endswith("\n") and not first.endswith("\n\n")


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_the_manifest_order_does_not_change_the_snippet(manifest: Manifest, server: str) -> None:
    reversed_assets = dict(reversed(list(manifest.assets.items())))
    shuffled = replace(manifest, assets=reversed_assets)
    assert render(server, shuffled, root="/srv/out") == render(server, manifest, root="/srv/out")


def test_write_all_writes_one_file_per_server(manifest: Manifest, tmp_path: Path) -> None:
    target = tmp_path / "snippets"
    written = write_all(manifest, target, root="/srv/out")
    assert sorted(p.name for p in written) == sorted(FILE_NAMES.values())
    for server, name in FILE_NAMES.items():
        assert (target / name).read_text() == render(server, manifest, root="/srv/out")


def test_write_all_writes_nothing_when_a_renderer_refuses_the_root(
    manifest: Manifest, tmp_path: Path
) -> None:
    target = tmp_path / "snippets"
    with pytest.raises(ConfigError):
        write_all(manifest, target, root="/srv/$out")
    assert not target.exists()


def test_the_cli_prints_the_snippet_and_only_the_snippet(manifest: Manifest, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["snippet", "nginx", "--manifest", str(tmp_path / "out" / "manifest.json"), "--root", "/srv/x"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == render("nginx", manifest, root="/srv/x")


def test_the_cli_reports_a_refused_root_as_an_error(manifest: Manifest, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["snippet", "nginx", "--manifest", str(tmp_path / "out" / "manifest.json"), "--root", "/srv/$x"]
    )
    assert result.exit_code == ConfigError.exit_code
    assert result.stdout == ""
    assert "'$'" in result.stderr


# -- base URL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("/static/", "/static/"),
        ("/static", "/static/"),
        ("/", "/"),
        ("https://cdn.example.com/assets/v1/", "/assets/v1/"),
        ("https://cdn.example.com", "/"),
        ("//cdn.example.com/s/", "/s/"),
    ],
)
def test_the_base_url_path_is_what_servers_match(base_url: str, expected: str) -> None:
    assert base_path(base_url) == expected


@pytest.mark.parametrize("base_url", ["static/", "/static/?v=1", "/static/#x", "/st%20atic/", "/a/../b/"])
def test_a_base_url_servers_cannot_match_literally_is_refused(base_url: str) -> None:
    with pytest.raises(ConfigError, match="base URL"):
        base_path(base_url)


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_a_cdn_base_url_serves_its_path_part(manifest: Manifest, server: str) -> None:
    cdn = replace(manifest, base_url="https://cdn.example.com/assets/")
    text = render(server, cdn, root="/srv/out")
    assert "/assets/" in text
    assert "cdn.example.com" not in text


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_a_manifest_entry_on_the_manifests_own_path_is_refused(tmp_path: Path, server: str) -> None:
    manifest = make_out(tmp_path / "out")
    entry = next(iter(manifest.assets.values()))
    clash = replace(manifest, assets={"manifest.json": replace(entry, path="manifest.json", encodings={})})
    with pytest.raises(ConfigError, match="manifest"):
        render(server, clash, root="/srv/out")


# -- nginx / caddy / apache text -------------------------------------------------------------------


def test_nginx_uses_a_prefix_location_that_regex_locations_cannot_steal(manifest: Manifest) -> None:
    text = render("nginx", manifest, root="/srv/out")
    assert 'location ^~ "/static/" {' in text
    assert "expires" not in text  # expires max would send no 'immutable'


def test_nginx_lists_every_entry_exactly_with_its_full_header_set(manifest: Manifest) -> None:
    text = render("nginx", manifest, root="/srv/out")
    blocks = re.findall(r'location = "([^"]+)" \{\n(.*?)\n    \}', text, re.S)
    by_url = dict(blocks)
    for logical, entry in manifest.assets.items():
        body = by_url[manifest.url(logical)]
        assert "add_header Cache-Control" in body  # nested add_header drops the outer ones: all repeated
        assert ('add_header Vary "Accept-Encoding"' in body) == bool(entry.encodings)


def test_caddy_sets_headers_only_after_answering_404_for_missing_files(manifest: Manifest) -> None:
    text = render("caddy", manifest, root="/srv/out")
    assert text.index("respond @assetpipe_missing 404") < text.index("header Cache-Control")


def test_apache_removes_debians_breton_language_and_x_gzip_type(manifest: Manifest) -> None:
    text = render("apache", manifest, root="/srv/out")
    assert "RemoveLanguage .br" in text
    assert "RemoveType .br .gz" in text
    assert "AddEncoding gzip .gz" in text


def test_apache_splits_long_path_lists_into_several_short_lines(tmp_path: Path) -> None:
    from .support import SourceFile

    sources = tuple(SourceFile(f"css/f{i}.css", b"x" * 200 + bytes([i]), "text/css") for i in range(250))
    manifest = make_out(tmp_path / "out", sources)
    lines = render("apache", manifest, root="/srv/out").splitlines()
    immutable_lines = [line for line in lines if "immutable" in line and "expr=" in line]
    assert len(immutable_lines) == 8  # 250 files + 500 siblings, 100 a line
    assert max(len(line) for line in lines) < 16_000


# -- axum ------------------------------------------------------------------------------------------


def rust_array(text: str, name: str) -> list[str]:
    body = re.search(rf"static {name}: &\[&str\] = &\[\n(.*?)\n\];", text, re.S)
    assert body is not None, name
    return re.findall(r'^    "((?:[^"\\]|\\.)*)",$', body.group(1), re.M)


def test_axum_serves_precompressed_siblings_with_tower_http_serve_dir(manifest: Manifest) -> None:
    text = render("axum", manifest, root="/srv/out")
    assert "ServeDir::new(ROOT)\n        .precompressed_br()\n        .precompressed_gzip()" in text
    assert ".append_index_html_on_directories(false)" in text
    assert 'nest_service("/static", files)' in text
    assert 'pub const ROOT: &str = "/srv/out";' in text


def test_axum_lists_immutable_urls_from_the_manifest_sorted_for_binary_search(manifest: Manifest) -> None:
    text = render("axum", manifest, root="/srv/out")
    listed = rust_array(text, "IMMUTABLE_URLS")
    assert listed == urls(manifest, immutable=True)
    assert listed == sorted(listed)
    assert "/static/css/x.0123456789ab.css" not in listed


def test_axum_adds_vary_itself_because_tower_http_0_6_does_not(manifest: Manifest) -> None:
    text = render("axum", manifest, root="/srv/out")
    assert rust_array(text, "URLS_WITH_SIBLINGS") == urls(manifest, siblings=True)
    assert 'headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"))' in text


def test_axum_sets_cache_headers_only_on_success_and_hides_the_manifest(manifest: Manifest) -> None:
    text = render("axum", manifest, root="/srv/out")
    assert "if !(status.is_success() || status == StatusCode::NOT_MODIFIED)" in text
    assert 'const MANIFEST_URL: &str = "/static/manifest.json";' in text
    assert "const HIDE_MANIFEST: bool = true;" in text
    shown = render("axum", manifest, root="/srv/out", serve_manifest=True)
    assert "const HIDE_MANIFEST: bool = false;" in shown


def test_axum_at_the_root_base_url_uses_a_fallback_service(manifest: Manifest) -> None:
    text = render("axum", replace(manifest, base_url="/"), root="/srv/out")
    assert "fallback_service(files)" in text
    assert "nest_service" not in text


def test_axum_escapes_quotes_and_backslashes_in_rust_strings(manifest: Manifest) -> None:
    text = render("axum", manifest, root='/srv/a"b\\c')
    assert 'pub const ROOT: &str = "/srv/a\\"b\\\\c";' in text


def test_axum_source_has_balanced_delimiters(manifest: Manifest) -> None:
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', render("axum", manifest, root="/srv/o{u}t"))
    code = re.sub(r"//.*", "", code)
    code = re.sub(r"'.'", "", code)
    for open_, close in ("{}", "()", "[]"):
        assert code.count(open_) == code.count(close)


# -- _headers --------------------------------------------------------------------------------------


def header_rules(text: str) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("/"):
            current = rules.setdefault(line, [])
        elif line.startswith("  "):
            current.append(line.strip())
    return rules


def test_headers_file_has_one_exact_rule_per_entry_and_no_catch_all(manifest: Manifest) -> None:
    rules = header_rules(render("headers", manifest, root="/srv/out"))
    assert sorted(rules) == urls(manifest)
    assert not any("*" in path or ":" in path for path in rules)
    for logical, entry in manifest.assets.items():
        cache = "public, max-age=31536000, immutable" if entry.immutable else "no-cache"
        assert rules[manifest.url(logical)] == [
            "! Cache-Control",
            f"Cache-Control: {cache}",
            "! Access-Control-Allow-Origin",
            "Access-Control-Allow-Origin: *",
        ]


def test_headers_file_says_the_platform_handles_encoding(manifest: Manifest) -> None:
    text = render("headers", manifest, root="/srv/out")
    assert "Content-Encoding" in text
    assert not any(line.strip().startswith("Content-Encoding:") for line in text.splitlines())


def test_headers_file_percent_encodes_characters_with_a_meaning_in_rules(tmp_path: Path) -> None:
    from .support import SourceFile

    manifest = make_out(tmp_path / "out", (SourceFile("a b/:x*#.css", b"x" * 100, "text/css"),))
    rules = header_rules(render("headers", manifest, root="/srv/out"))
    (path,) = rules
    assert path.startswith("/static/a%20b/%3Ax%2A%23.")


def test_headers_file_serves_the_manifest_without_caching_only_when_asked(manifest: Manifest) -> None:
    hidden = header_rules(render("headers", manifest, root="/srv/out"))
    assert "/static/manifest.json" not in hidden
    shown = header_rules(render("headers", manifest, root="/srv/out", serve_manifest=True))
    assert shown["/static/manifest.json"] == ["! Cache-Control", "Cache-Control: no-cache"]


def test_snippet_options_default_to_hiding_the_manifest() -> None:
    assert SnippetOptions(root="/srv/out").serve_manifest is False
    assert len(SOURCES) > 0
