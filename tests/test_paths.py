"""paths: one resolve with one clear error, logical paths, and the one rule for hidden names."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetpipe.errors import ConfigError, SourceError
from assetpipe.paths import is_hidden, is_hidden_name, logical_path, resolve_path


@pytest.mark.parametrize(
    ("name", "hidden"),
    [
        (".env", True),
        (".git", True),
        (".assetpipe", True),
        (".assetpipe-tmp-abc", True),
        (".", True),
        (".well-known", False),
        (".well-knownx", True),
        ("well-known", False),
        ("app.css", False),
        ("", False),
    ],
)
def test_a_dot_name_is_hidden_unless_it_is_well_known(name: str, hidden: bool) -> None:
    assert is_hidden_name(name) is hidden


@pytest.mark.parametrize(
    ("path", "hidden"),
    [
        ("css/app.css", False),
        (".well-known/security.txt", False),
        ("docs/.well-known/x", False),
        (".git/config", True),
        ("css/.env", True),
        ("a/.hidden/b.css", True),
        (".well-known/.secret", True),
    ],
)
def test_a_path_is_hidden_when_any_segment_is(path: str, hidden: bool) -> None:
    assert is_hidden(path) is hidden


def test_resolve_turns_a_symlink_loop_into_the_error_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ConfigError, match="cannot resolve output directory") as info:
        resolve_path(tmp_path / "a" / "x", "output directory")
    assert info.value.path == str(tmp_path / "a" / "x")
    with pytest.raises(SourceError, match="cannot resolve symlink"):
        resolve_path(tmp_path / "a", "symlink", SourceError)


def test_resolve_makes_a_path_absolute_through_its_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert resolve_path(tmp_path / "link" / "x.css") == (tmp_path / "real" / "x.css").resolve()


def test_a_logical_path_is_posix_and_relative_and_none_outside_the_root(tmp_path: Path) -> None:
    assert logical_path(tmp_path / "css" / "app.css", tmp_path) == "css/app.css"
    assert logical_path(tmp_path, tmp_path) == ""
    assert logical_path(tmp_path.parent / "elsewhere", tmp_path) is None
    assert logical_path(Path(str(tmp_path) + "-sibling") / "x", tmp_path) is None
