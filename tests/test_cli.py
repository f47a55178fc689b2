"""The command line as a user runs it: a real subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import json
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
    assert lines[0].startswith("error: css/app.css:2:")
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


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a.css": "a{}"})
    result = assetpipe("build", "-s", "src", "-o", "out", cwd=tmp_path)
    assert "building" not in result.stderr and result.stderr.startswith("built 1 files")
