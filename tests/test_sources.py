"""sources: what a scan publishes, by the one hidden-name rule, and symlinks that must not be followed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.errors import ConfigError, EscapesSource
from assetpipe.sources import check_layout, scan
from tests.conftest import Tree


def scanned(src: Path, tmp_path: Path) -> list[str]:
    return [a.logical_path for a in scan(Config(source=src, output=tmp_path / "out"))]


def test_dot_names_are_skipped_at_any_depth_but_well_known_is_published(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "a.css": "",
            ".env": "SECRET=1",
            "css/.cache/x.css": "",
            ".well-known/security.txt": "Contact: x\n",
            "docs/.well-known/x.txt": "",
            ".well-known/.hidden": "",
        }
    )
    assert scanned(src, tmp_path) == [".well-known/security.txt", "a.css", "docs/.well-known/x.txt"]


def test_a_symlink_to_a_hidden_file_is_refused_naming_the_link(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".secrets/key.txt": "k", "a.css": ""})
    (src / "key.txt").symlink_to(src / ".secrets" / "key.txt")
    with pytest.raises(EscapesSource, match="hidden file or folder") as info:
        scan(Config(source=src, output=tmp_path / "out"))
    assert info.value.path == "key.txt"


def test_a_symlink_into_well_known_is_published_under_its_own_name(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".well-known/security.txt": "Contact: x\n"})
    (src / "security.txt").symlink_to(src / ".well-known" / "security.txt")
    assert scanned(src, tmp_path) == [".well-known/security.txt", "security.txt"]


def test_a_symlink_out_of_the_source_is_refused(make_source: Callable[[Tree], Path], tmp_path: Path) -> None:
    src = make_source({"a.css": ""})
    (tmp_path / "outside.txt").write_text("x")
    (src / "b.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "src-sibling").mkdir()
    (src / "c").symlink_to(tmp_path / "src-sibling")  # a name that merely starts like SRC's
    with pytest.raises(EscapesSource, match="outside the source root"):
        scan(Config(source=src, output=tmp_path / "out"))


def test_a_source_behind_a_symlink_loop_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ConfigError, match="cannot resolve source directory"):
        check_layout(Config(source=tmp_path / "a" / "src", output=tmp_path / "out"))
