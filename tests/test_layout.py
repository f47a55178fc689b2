"""layout: the one walk over OUT that verify and clean share, and what in OUT is assetpipe's own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assetpipe.errors import OutputError
from assetpipe.files import TEMP_PREFIX
from assetpipe.layout import STATE_DIR, walk_output
from assetpipe.manifest import Manifest
from tests.conftest import write_tree
from tests.support import make_unlistable_directory


def test_the_walk_leaves_out_the_state_dir_and_manifest_and_sets_temp_files_apart(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "manifest.json": Manifest(base_url="/static/", assets={}).dumps(),
            f"{STATE_DIR}/lock": "1\n",
            f"{STATE_DIR}/builds/abc.json": "{}",
            "css/app.0123456789ab.css": "a{}",
            "css/app.0123456789ab.css.br": b"\x00",
            f"css/{TEMP_PREFIX}x1": "half",
            f"{TEMP_PREFIX}manifest": "{",
            "robots.txt": "",
        },
    )
    tree = walk_output(tmp_path)
    assert tree.files == ("css/app.0123456789ab.css", "css/app.0123456789ab.css.br", "robots.txt")
    assert tree.temps == (f"{TEMP_PREFIX}manifest", f"css/{TEMP_PREFIX}x1")
    assert tree.directories == ("css",)


def test_only_the_top_level_manifest_and_state_dir_are_assetpipes_own(tmp_path: Path) -> None:
    # A source file at docs/manifest.json or a vendor's .assetpipe folder lower down is ordinary output.
    write_tree(tmp_path, {"docs/manifest.json": "{}", f"vendor/{STATE_DIR}/lock": "x"})
    tree = walk_output(tmp_path)
    assert tree.files == ("docs/manifest.json", f"vendor/{STATE_DIR}/lock")
    assert tree.directories == ("docs", "vendor", f"vendor/{STATE_DIR}")


def test_the_walk_is_sorted_whatever_the_creation_order(tmp_path: Path) -> None:
    for name in ("z.css", "b/y.css", "a/x.css", "a/b/w.css", "m.css"):
        write_tree(tmp_path, {name: ""})
    tree = walk_output(tmp_path)
    assert tree.files == ("a/b/w.css", "a/x.css", "b/y.css", "m.css", "z.css")
    assert tree.directories == ("a", "a/b", "b")


def test_a_symlinked_directory_is_not_followed(tmp_path: Path) -> None:
    outside = write_tree(tmp_path / "outside", {"secret.txt": "x"})
    out = write_tree(tmp_path / "out", {"a.css": ""})
    (out / "linked").symlink_to(outside, target_is_directory=True)
    tree = walk_output(out)
    assert tree.files == ("a.css",)
    assert tree.directories == ()


def test_a_relative_output_directory_gives_the_same_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path / "dist", {"css/a.css": "", "manifest.json": "{}"})
    monkeypatch.chdir(tmp_path / "dist")
    assert walk_output(Path(".")).files == ("css/a.css",)
    monkeypatch.chdir(tmp_path)
    assert walk_output(Path("dist")).files == ("css/a.css",)


def test_a_directory_the_walk_cannot_list_is_an_error_naming_it(tmp_path: Path) -> None:
    # Skipping it silently would let clean leave its files forever and verify call them all referenced.
    out = write_tree(tmp_path / "out", {"a.css": ""})
    deep = make_unlistable_directory(out)
    try:
        with pytest.raises(OutputError, match="cannot list directory: File name too long") as info:
            walk_output(out)
        assert info.value.path is not None and info.value.path.startswith(str(deep))
    finally:
        shutil.rmtree(deep)
