"""files: disk primitives fail as OutputError naming the path, never as a bare OSError."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from assetpipe.errors import OutputError
from assetpipe.files import TEMP_PREFIX, ensure_directory, write_atomic


def test_a_directory_that_cannot_be_created_is_an_output_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "css").write_text("a file where a folder should be")
    with pytest.raises(OutputError, match="cannot create directory: Not a directory") as info:
        ensure_directory(tmp_path / "css" / "vendor" / "x")
    assert info.value.path == str(tmp_path / "css" / "vendor")


def test_write_atomic_under_a_file_fails_cleanly_and_leaves_no_temp_file(tmp_path: Path) -> None:
    (tmp_path / "css").write_text("a file")
    with pytest.raises(OutputError, match="Not a directory"):
        write_atomic(tmp_path / "css" / "app.css", b"a{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["css"]


def test_directories_it_creates_are_readable_by_the_web_server_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "a" / "b" / "x.css", b"a{}")
    finally:
        os.umask(old)
    for path in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "a" / "b" / "x.css").stat().st_mode) == 0o644
    assert not any(p.name.startswith(TEMP_PREFIX) for p in (tmp_path / "a" / "b").iterdir())
