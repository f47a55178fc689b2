"""The CORS lines of every renderer as text: present, absent, quoted through quoting.py, hostile values refused.

What the lines do is proven on the real servers in test_cors.py; here is what no server can show: the Axum
source and the ``_headers`` file, refusals, and the CLI's flags.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from assetpipe.cli import cli
from assetpipe.cors import Cors
from assetpipe.errors import ConfigError
from assetpipe.manifest import Manifest
from assetpipe.snippets import FILE_NAMES, RENDERERS, render, write_all

from .support import make_out

ALLOW = "Access-Control-Allow-Origin"
LISTED = ["https://b.example", "https://a.example:8443"]
HOSTILE = [
    'https://a.example"',
    "https://a.example'",
    "https://a.example\n",
    "https://a.example\r\nX-Evil: 1",
    "https://a .example",
    "https://a.example;",
    "https://{a}.example",
    "https://$a.example",
    "https://a.example\\",
    "https://a.example/",
    "https://a.example%0a",
    "*.example",
]


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return make_out(tmp_path / "out")


def code_lines(text: str) -> list[str]:
    """Lines that are configuration, not comments."""
    return [line for line in text.splitlines() if not line.lstrip().startswith(("#", "//"))]


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_the_default_sends_any_origin(manifest: Manifest, server: str) -> None:
    text = render(server, manifest, root="/srv/out")
    assert text == render(server, manifest, root="/srv/out", cors="*")
    assert any(ALLOW in line or "ACCESS_CONTROL_ALLOW_ORIGIN" in line for line in code_lines(text))
    assert "Origin" not in " ".join(line for line in code_lines(text) if "Vary" in line)


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_cors_off_writes_no_cors_line(manifest: Manifest, server: str) -> None:
    text = "\n".join(code_lines(render(server, manifest, root="/srv/out", cors=False)))
    assert ALLOW not in text
    assert "ACCESS_CONTROL_ALLOW_ORIGIN" not in text
    assert "Origin" not in text


@pytest.mark.parametrize("server", sorted(RENDERERS))
@pytest.mark.parametrize("origin", HOSTILE)
def test_a_hostile_origin_is_refused_by_every_renderer(manifest: Manifest, server: str, origin: str) -> None:
    with pytest.raises(ConfigError, match="cors origin"):
        render(server, manifest, root="/srv/out", cors=[origin])


@pytest.mark.parametrize("server", ["nginx", "caddy", "apache", "axum"])
def test_an_allow_list_names_every_origin_quoted_and_varies_on_origin(
    manifest: Manifest, server: str
) -> None:
    text = render(server, manifest, root="/srv/out", cors=LISTED)
    for origin in LISTED:
        assert f'"{origin}"' in text or f"'{origin}'" in text
    assert "Origin" in " ".join(line for line in code_lines(text) if "Vary" in line or "VARY" in line)


def test_nginx_names_the_origin_variable_after_the_list(manifest: Manifest) -> None:
    def variables(cors: list[str]) -> set[str]:
        return set(re.findall(r"\$assetpipe_cors_[0-9a-f]+", render("nginx", manifest, root="/x", cors=cors)))

    assert len(variables(LISTED)) == 1
    assert variables(LISTED) == variables(list(LISTED))
    assert variables(LISTED) != variables(LISTED[:1])


def test_nginx_sets_the_origin_at_server_level_with_exact_comparisons(manifest: Manifest) -> None:
    text = render("nginx", manifest, root="/srv/out", cors=LISTED)
    before_location = text.split("location ^~", 1)[0]
    assert 'if ($http_origin = "https://b.example")' in before_location
    assert 'if ($http_origin = "https://a.example:8443")' in before_location
    # Never an `if` inside a location: try_files does not survive one.
    assert "if (" not in text.split("location ^~", 1)[1]


def test_axum_lists_the_allowed_origins_sorted_for_binary_search(manifest: Manifest) -> None:
    text = render("axum", manifest, root="/srv/out", cors=LISTED)
    listed = re.search(r"static ALLOWED_ORIGINS: &\[&str\] = &\[\n(.*?)\];", text, re.S)
    assert listed is not None
    assert re.findall(r'"([^"]+)"', listed.group(1)) == sorted(LISTED)
    assert 'headers.append(header::VARY, HeaderValue::from_static("Origin"))' in text


@pytest.mark.parametrize(("cors", "present"), [("*", False), (False, False), (LISTED, True)])
def test_axum_declares_the_origin_list_only_when_it_uses_it(manifest: Manifest, cors, present: bool) -> None:
    text = render("axum", manifest, root="/srv/out", cors=cors)
    assert ("ALLOWED_ORIGINS" in text) is present
    assert ("let origin = request" in text) is present


def test_axum_skips_the_manifest_and_error_responses(manifest: Manifest) -> None:
    text = render("axum", manifest, root="/srv/out", serve_manifest=True)
    header_at = text.index("ACCESS_CONTROL_ALLOW_ORIGIN")
    assert text.index("return response;") < header_at  # non-2xx/304 returned before any header is set
    assert "if !is_manifest {" in text[:header_at]


def header_rules(text: str) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("/"):
            current = rules.setdefault(line, [])
        elif line.startswith("  "):
            current.append(line.strip())
    return rules


def test_headers_file_sends_a_single_origin_as_its_fixed_value(manifest: Manifest) -> None:
    rules = header_rules(render("headers", manifest, root="/srv/out", cors=["https://a.example"]))
    for lines in rules.values():
        assert lines[-2:] == [f"! {ALLOW}", f"{ALLOW}: https://a.example"]


def test_headers_file_cannot_choose_among_origins_and_says_so(manifest: Manifest) -> None:
    text = render("headers", manifest, root="/srv/out", cors=LISTED)
    assert f"{ALLOW}:" not in text
    assert "# NO CORS: cors lists 2 origins" in text


def test_headers_file_never_gives_the_manifest_cors(manifest: Manifest) -> None:
    rules = header_rules(render("headers", manifest, root="/srv/out", serve_manifest=True))
    assert not any(ALLOW in line for line in rules["/static/manifest.json"])


def test_write_all_passes_cors_to_every_renderer(manifest: Manifest, tmp_path: Path) -> None:
    written = write_all(manifest, tmp_path / "snippets", root="/srv/out", cors=Cors(("https://a.example",)))
    assert len(written) == len(FILE_NAMES)
    for server, name in FILE_NAMES.items():
        expected = render(server, manifest, root="/srv/out", cors=["https://a.example"])
        assert (tmp_path / "snippets" / name).read_text() == expected


def test_write_all_writes_nothing_for_a_hostile_origin(manifest: Manifest, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_all(manifest, tmp_path / "snippets", root="/srv/out", cors=['https://a.example"'])
    assert not (tmp_path / "snippets").exists()


# -- the CLI ---------------------------------------------------------------------------------------


def snippet(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    manifest = str(tmp_path / "out" / "manifest.json")
    result = CliRunner().invoke(cli, ["snippet", "nginx", "--manifest", manifest, "--root", "/srv/x", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_takes_origins_star_or_none(manifest: Manifest, tmp_path: Path) -> None:
    def expected(cors: object) -> str:
        return render("nginx", manifest, root="/srv/x", cors=cors)  # type: ignore[arg-type]

    assert snippet(tmp_path, "--cors", "*")[1] == expected("*")
    assert snippet(tmp_path, "--cors", LISTED[0], "--cors", LISTED[1])[1] == expected(LISTED)
    assert snippet(tmp_path, "--no-cors")[1] == expected(False)


def test_the_cli_reads_cors_from_the_config_file(
    manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "assetpipe.toml").write_text('cors = ["https://a.example"]\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = snippet(tmp_path)
    assert code == 0
    assert out == render("nginx", manifest, root="/srv/x", cors=["https://a.example"])
    # A flag wins over the file.
    assert snippet(tmp_path, "--cors", "*")[1] == render("nginx", manifest, root="/srv/x")


def test_the_cli_refuses_a_hostile_origin_in_one_line(manifest: Manifest, tmp_path: Path) -> None:
    code, out, err = snippet(tmp_path, "--cors", "https://a.example\nadd_header X y;")
    assert code == ConfigError.exit_code
    assert out == ""
    assert err.startswith("error: cors origin ") and "Traceback" not in err


def test_the_cli_refuses_cors_and_no_cors_together(manifest: Manifest, tmp_path: Path) -> None:
    code, out, err = snippet(tmp_path, "--cors", "*", "--no-cors")
    assert code == 2 and out == ""
    assert "--cors and --no-cors" in err
