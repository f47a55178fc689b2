"""Regression tests for defects a safety review found (stale siblings, .well-known in snippets, symlinks,
odd file names, umask, sibling-name collisions); each names the behaviour that must hold."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.errors import AssetpipeError
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.snippets import RENDERERS, render
from assetpipe.verify import verify

from .conftest import Tree, validate_manifest


def config_for(src: Path, out: Path, **kw: object) -> Config:
    kw.setdefault("compress", False)
    kw.setdefault("cache_dir", out.parent / "cache")
    return Config(source=src.resolve(), output=out.resolve(), **kw)  # type: ignore[arg-type]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assetpipe", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


ROBOTS_V1 = "User-agent: *\n" + "Disallow: /a\n" * 50
ROBOTS_V2 = "User-agent: *\n" + "Disallow: /b\n" * 50


# -- stale siblings of unhashed files ----------------------------------------------------------------


def test_a_build_without_compression_leaves_no_stale_sibling_of_a_changed_unhashed_file(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"robots.txt": ROBOTS_V1})
    out = tmp_path / "out"
    build(config_for(src, out, compress=True, gzip_backend="zlib"))
    assert (out / "robots.txt.br").exists()
    (src / "robots.txt").write_text(ROBOTS_V2, encoding="utf-8")
    build(config_for(src, out, compress=False))
    # nginx brotli_static / gzip_static and Caddy's precompressed pick NAME.br by existence alone.
    for suffix in (".br", ".gz"):
        sibling = out / ("robots.txt" + suffix)
        assert not sibling.exists(), f"{sibling.name} still holds the old robots.txt"


def test_a_compressed_build_after_an_uncompressed_one_names_only_siblings_that_match(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"sw.js": "// v1\n" + "self.addEventListener('fetch', () => {});\n" * 20})
    out = tmp_path / "out"
    build(config_for(src, out, compress=True, gzip_backend="zlib"))
    (src / "sw.js").write_text(
        "// v2\n" + "self.addEventListener('fetch', () => {});\n" * 20, encoding="utf-8"
    )
    build(config_for(src, out, compress=False))  # what `assetpipe watch` does by default
    build(config_for(src, out, compress=True, gzip_backend="zlib"))
    report = verify(out)
    assert report.ok, report.lines()


# -- .well-known and the snippets --------------------------------------------------------------------


@pytest.mark.parametrize("server", sorted(RENDERERS))
def test_snippets_render_for_a_build_with_a_well_known_folder(
    server: str, make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".well-known/security.txt": "Contact: mailto:a@example.com\n", "a.css": "a{}"})
    out = tmp_path / "out"
    manifest = build(config_for(src, out)).manifest
    assert ".well-known/security.txt" in manifest.assets
    render(server, manifest, root="/srv/static")


def test_a_build_with_snippets_dir_succeeds_when_the_source_has_a_well_known_folder(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".well-known/security.txt": "Contact: mailto:a@example.com\n"})
    out = tmp_path / "out"
    build(config_for(src, out, snippets_dir=tmp_path / "snippets"))
    assert (out / "manifest.json").is_file()


# -- the walk of SRC ---------------------------------------------------------------------------------


def test_a_directory_symlink_does_not_hide_the_real_directory(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"css/app.css": "a{}"})
    (src / "aaa").symlink_to("css")
    manifest = build(config_for(src, tmp_path / "out")).manifest
    assert "css/app.css" in manifest.assets


@pytest.mark.parametrize("key", ["snippets_dir", "cache_dir"])
def test_a_snippets_or_cache_dir_holding_the_source_does_not_drop_its_subdirectories(
    key: str, make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"a.css": "a{}", "sub/keep.txt": "x"})
    out = tmp_path / "out"
    try:
        manifest = build(config_for(src, out, **{key: tmp_path})).manifest
    except AssetpipeError:
        return  # refusing the layout is a fine answer too
    assert "sub/keep.txt" in manifest.assets


def test_a_snippets_dir_inside_the_output_is_refused(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"a.css": "a{}"})
    out = tmp_path / "out"
    with pytest.raises(AssetpipeError):
        build(config_for(src, out, snippets_dir=out / "snippets"))


def test_a_symlink_to_a_dotfile_does_not_publish_it(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".env": "SECRET=1\n", ".git/config": "[core]\n", "a.css": "a{}"})
    (src / "public.txt").symlink_to(".env")
    (src / "repo").symlink_to(".git")
    try:
        manifest = build(config_for(src, tmp_path / "out")).manifest
    except AssetpipeError:
        return  # refusing is fine too
    assert "public.txt" not in manifest.assets
    assert "repo/config" not in manifest.assets


def test_an_unhashed_source_named_like_a_sibling_is_never_overwritten(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".well-known/a.txt": "hello world\n" * 100, ".well-known/a.txt.gz": b"ORIGINAL"})
    out = tmp_path / "out"
    try:
        build(config_for(src, out, compress=True, gzip_backend="zlib"))
    except AssetpipeError:
        return  # a collision error is the other acceptable answer
    assert (out / ".well-known/a.txt.gz").read_bytes() == b"ORIGINAL"
    assert verify(out).ok


# -- one error line, never a traceback ---------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_gives_one_error_line(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.css").write_text("a{}", encoding="utf-8")
    with open(os.path.join(os.fsencode(src), b"caf\xe9.css"), "wb") as fh:
        fh.write(b"a{}")
    result = cli("build", "-s", "src", "-o", "out", "--no-compress", "-q", cwd=tmp_path)
    if result.returncode == 0:  # skipping the file with a warning would also do, if the manifest is fine
        Manifest.load(tmp_path / "out" / "manifest.json")
        return
    assert_one_error_line(result)


def test_a_symlink_loop_inside_the_source_gives_one_error_line(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.css").write_text("a{}", encoding="utf-8")
    (src / "loop1").symlink_to("loop2")
    (src / "loop2").symlink_to("loop1")
    result = cli("build", "-s", "src", "-o", "out", "--no-compress", "-q", cwd=tmp_path)
    assert_one_error_line(result)


@pytest.mark.parametrize("option", ["--source", "--output", "--config", "--cache-dir"])
def test_an_option_naming_a_symlink_loop_gives_one_error_line(option: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.css").write_text("a{}", encoding="utf-8")
    (tmp_path / "l1").symlink_to("l2")
    (tmp_path / "l2").symlink_to("l1")
    args = {"--source": "src", "--output": "out"}
    args[option] = "l1"
    flat = [x for pair in args.items() for x in pair]
    result = cli("build", *flat, "--no-compress", "-q", cwd=tmp_path)
    assert_one_error_line(result)


# -- the schema --------------------------------------------------------------------------------------


def test_every_manifest_a_build_writes_matches_the_schema_even_for_a_name_with_a_newline(
    make_source: Callable[[Tree], Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    src = make_source({"img/a\nb.png": b"x"})
    # Out of tmp_path, so the autouse schema check does not turn this xfail into a teardown error.
    out = tmp_path_factory.mktemp("review") / "out"
    try:
        build(config_for(src, out))
    except AssetpipeError:
        return  # refusing control characters in names at scan time is the other fix
    validate_manifest(out / "manifest.json")


# -- permissions -------------------------------------------------------------------------------------


def test_output_directories_are_readable_by_the_web_server_whatever_the_umask(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"css/app.css": "a{}"})
    out = tmp_path / "out"
    old = os.umask(0o077)
    try:
        build(config_for(src, out))
    finally:
        os.umask(old)
    for directory in (out, out / "css"):
        assert directory.stat().st_mode & 0o005 == 0o005, oct(directory.stat().st_mode)
