"""The command line as a user runs it: a real subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_tree

ROOT = Path(__file__).resolve().parent.parent


def assetpipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assetpipe", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_build_writes_the_manifest_and_a_summary_on_stderr(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a{background:url(../img/x.svg)}", "img/x.svg": "<svg/>"})
    result = assetpipe("build", "--source", "src", "--output", "out", "--no-compress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "built 2 files" in result.stderr
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert sorted(manifest["assets"]) == ["css/app.css", "img/x.svg"]


def test_bad_input_is_one_line_naming_the_file_and_no_traceback(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a{}\nb{background:url(missing.png)}"})
    result = assetpipe("build", "-s", "src", "-o", "out", "--no-compress", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: src/css/app.css:2:")  # as the user would type it, from the cwd
    assert "missing.png" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out/manifest.json").exists()


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.css": "@import 'b.css';", "b.css": "@import 'a.css';"})
    result = assetpipe("build", "-s", "src", "-o", "out", "--no-compress", "--verbose", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "reference cycle: a.css -> b.css -> a.css" in result.stderr


def test_config_errors_exit_2(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\ncolour = 1\n')
    result = assetpipe("build", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown key 'colour'" in result.stderr and "Traceback" not in result.stderr


def test_the_example_site_builds(tmp_path: Path) -> None:
    result = assetpipe(
        "build", "--config", str(ROOT / "example_site/assetpipe.toml"), "--output", str(tmp_path / "dist"),
        "--no-compress", "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "dist/manifest.json").read_text())
    for logical in ("css/app.css", "js/main.js", "img/logo.svg", "favicon.ico", "fonts/open-sans-700.woff2"):
        assert logical in manifest["assets"]
    assert manifest["assets"]["favicon.ico"]["path"] == "favicon.ico"


def test_the_progress_bar_draws_building_then_compressing_and_clears_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from assetpipe.cli import TerminalReporter

    bar = TerminalReporter(quiet=False, verbose=False)
    bar.enabled, bar.DELAY = True, 0.0  # as on a terminal, for a build past the one-second mark
    bar.start(4)
    for _ in range(4):
        bar.drawn = 0.0  # no redraw throttling in the test
        bar.advance()
    bar.start(2)
    bar.drawn = 0.0
    bar.advance(2)
    bar.finish()
    err = capsys.readouterr().err
    assert "building    [" in err and "4/4" in err
    assert "compressing [" in err and "2/2" in err
    assert err.endswith("\r")


def test_a_build_that_starts_over_draws_building_again_not_compressing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A build that meets an untrue record starts over (pipeline): its second pass is building again."""
    from assetpipe.cli import TerminalReporter

    bar = TerminalReporter(quiet=False, verbose=False)
    bar.enabled, bar.DELAY = True, 0.0
    bar.start(4)  # the first pass, cut short
    bar.finish()
    capsys.readouterr()
    bar.start(4)  # the pass that starts over
    bar.drawn = 0.0
    bar.advance()
    err = capsys.readouterr().err
    assert "building    [" in err and "compressing" not in err


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.css": "a{}"})
    result = assetpipe("build", "-s", "src", "-o", "out", cwd=tmp_path)
    assert "building" not in result.stderr and result.stderr.startswith("built 1 files")


# -- every command reads the same config -----------------------------------------------------------------


def configured_site(root: Path) -> Path:
    """A project whose assetpipe.toml builds assets/ into public/, with a stale dist/ beside it."""
    write_tree(root / "assets", {"css/app.css": "a{background:url(../img/x.png)}", "img/x.png": b"\x89PNG"})
    (root / "assetpipe.toml").write_text('source = "assets"\noutput = "public"\ncompress = false\n')
    (root / "dist").mkdir()
    (root / "dist/manifest.json").write_text('{"version": 1, "base_url": "/static/", "assets": {}}')
    return root


def test_verify_clean_and_snippet_use_the_configured_output_not_dist(tmp_path: Path) -> None:
    root = configured_site(tmp_path)
    assert assetpipe("build", cwd=root).returncode == 0
    (root / "public/img").joinpath(next(p.name for p in (root / "public/img").iterdir())).write_bytes(
        b"tampered"
    )
    verify = assetpipe("verify", cwd=root)
    assert verify.returncode == 1 and "public" in verify.stdout
    clean = assetpipe("clean", "--dry-run", cwd=root)
    assert clean.returncode == 0 and str(root / "public") in clean.stdout
    snippet = assetpipe("snippet", "nginx", cwd=root)
    assert snippet.returncode == 0 and "css/app." in snippet.stdout and str(root / "public") in snippet.stdout


def test_every_command_accepts_config_and_flags_override_it(tmp_path: Path) -> None:
    root = configured_site(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(root / "assetpipe.toml")
    assert assetpipe("build", "--config", config, cwd=elsewhere).returncode == 0
    assert assetpipe("verify", "--config", config, cwd=elsewhere).returncode == 0
    assert assetpipe("snippet", "caddy", "--config", config, cwd=elsewhere).returncode == 0
    assert assetpipe("clean", "--config", config, "--dry-run", cwd=elsewhere).returncode == 0
    # --output wins over the file: dist/ has an empty (valid) manifest
    assert (
        "0 entries"
        in assetpipe("verify", "--config", config, "--output", str(root / "dist"), cwd=elsewhere).stdout
    )


def test_without_a_config_the_commands_still_default_to_dist(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.css": "a{}"})
    assert assetpipe("build", "-s", "src", "-o", "dist", "--no-compress", cwd=tmp_path).returncode == 0
    result = assetpipe("verify", cwd=tmp_path)
    assert result.returncode == 0 and "1 entries" in result.stdout


# -- per-file detail and JSON ----------------------------------------------------------------------------


def test_verbose_lists_every_file_with_its_output_name_and_siblings(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a{color:red}" * 100, "img/x.png": b"\x89PNG"})
    result = assetpipe("build", "-s", "src", "-o", "out", "--verbose", "--cache-dir", "cache", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    css = manifest["assets"]["css/app.css"]
    assert f"  css/app.css -> {css['path']} (1.2 kB; br " in result.stderr
    assert f"  img/x.png -> {manifest['assets']['img/x.png']['path']} (4 B)" in result.stderr


def test_build_json_prints_the_summary_and_a_record_per_file_on_stdout(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a{background:url(../img/x.png)}", "img/x.png": b"\x89PNG"})
    result = assetpipe("build", "-s", "src", "-o", "out", "--no-compress", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert report["summary"]["files"] == 2 and report["summary"]["written"] == 2
    assert report["summary"]["manifest_path"] == str(tmp_path / "out/manifest.json")
    assert report["warnings"] == []
    assert [f["logical_path"] for f in report["files"]] == ["css/app.css", "img/x.png"]
    first = report["files"][0]
    assert first["path"] == manifest["assets"]["css/app.css"]["path"] and first["immutable"] is True
    assert result.stderr.startswith("built 2 files")  # the human summary stays on stderr


# -- wording -----------------------------------------------------------------------------------------------


def test_an_unknown_config_key_suggests_the_one_meant(tmp_path: Path) -> None:
    (tmp_path / "assetpipe.toml").write_text('source = "src"\noutput = "out"\nexlude = ["*.map"]\n')
    result = assetpipe("build", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: assetpipe.toml: unknown key 'exlude' (did you mean 'exclude'?)\n"


def test_error_paths_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    root = configured_site(tmp_path)
    (root / "assets/css/app.css").write_text("a{}\nb{background:url(../img/gone.png)}")
    result = assetpipe("build", cwd=root)
    assert result.returncode == 1
    assert result.stderr.startswith("error: assets/css/app.css:2:18: broken reference '../img/gone.png'")
    outside = assetpipe("build", "--config", str(root / "assetpipe.toml"), cwd=tmp_path.parent)
    assert outside.stderr.startswith(f"error: {tmp_path.name}/assets/css/app.css:2:18: ")


def test_a_source_that_is_a_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text("a{}")
    result = assetpipe("build", "-s", "app.css", "-o", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: app.css: source directory is a file, not a directory\n"


def test_a_symlink_out_of_the_source_root_says_the_build_stops(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.css": "a{}"})
    (tmp_path / "secret.txt").write_text("key")
    (tmp_path / "src/link.txt").symlink_to(tmp_path / "secret.txt")
    result = assetpipe("build", "-s", "src", "-o", "out", "--no-compress", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: src/link.txt: symlink leads outside the source root (to ")
    assert "so the build stops: nothing outside SRC is read or published" in result.stderr


def test_build_json_says_per_file_what_happened(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"css/app.css": "a{background:url(../img/x.svg)}" * 40, "img/x.svg": "<svg/>"})
    args = ("build", "-s", "src", "-o", "out", "--cache-dir", "cache", "--gzip-backend", "zlib", "--json")
    first = json.loads(assetpipe(*args, cwd=tmp_path).stdout)
    assert {f["logical_path"]: f["actions"] for f in first["files"]} == {
        "css/app.css": ["read", "written", "compressed"],
        "img/x.svg": ["read", "written"],  # under min_size: no sibling to make
    }
    shutil.rmtree(tmp_path / "out")  # an empty OUT with a warm cache: siblings come from the cache
    again = json.loads(assetpipe(*args, cwd=tmp_path).stdout)
    assert {f["logical_path"]: f["actions"][-1] for f in again["files"]}["css/app.css"] == "cache"
