"""files: disk primitives fail as OutputError naming the path, never as a bare OSError."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from assetpipe.errors import OutputError
from assetpipe.files import TEMP_PREFIX, Flush, ensure_directory, make_durable, write_atomic, write_new


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


def test_write_new_writes_a_free_name_in_place_with_its_mode_and_mtime(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        written = write_new(tmp_path / "css" / "app.1234.css", b"a{}", mtime_ns=1_000_000_000)
    finally:
        os.umask(old)
    target = tmp_path / "css" / "app.1234.css"
    assert written is not None and written.st_ino == target.stat().st_ino
    assert target.read_bytes() == b"a{}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.stat().st_mtime_ns == written.st_mtime_ns == 1_000_000_000
    assert sorted(p.name for p in (tmp_path / "css").iterdir()) == ["app.1234.css"]  # no temp file


def test_write_new_leaves_a_taken_name_alone_for_the_caller_to_check(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_bytes(b"a partial fi")
    assert write_new(tmp_path / "app.css", b"a{}") is None
    assert (tmp_path / "app.css").read_bytes() == b"a partial fi"


def test_write_new_under_a_file_is_an_output_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "css").write_text("a file")
    with pytest.raises(OutputError, match="Not a directory"):
        write_new(tmp_path / "css" / "app.css", b"a{}")


def test_make_durable_waits_for_the_flush_started_after_the_files_instead_of_syncing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[tuple[str, float, float]] = []

    def slow_sync() -> None:  # the real os.sync, made slow enough to see who waits for it
        start = time.monotonic()
        time.sleep(0.3)
        real_sync()
        syncs.append((threading.current_thread().name, start, time.monotonic()))

    real_sync = os.sync
    monkeypatch.setattr(os, "sync", slow_sync)
    paths = [tmp_path / f"{i}.txt" for i in range(100)]
    for path in paths:
        write_atomic(path, b"x", fsync=False)
    flush = Flush()
    make_durable(paths, flushed=flush)
    returned = time.monotonic()
    assert len(syncs) == 1, "one sync, on the flush's thread, not a second one"
    name, _, ended = syncs[0]
    assert name != threading.current_thread().name
    assert returned >= ended, "make_durable returned before the flush had synced"


def test_make_durable_without_a_flush_syncs_many_files_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_sync = os.sync
    monkeypatch.setattr(os, "sync", lambda: (calls.append("sync"), real_sync())[1])
    paths = [tmp_path / f"{i}.txt" for i in range(100)]
    for path in paths:
        write_atomic(path, b"x", fsync=False)
    make_durable(paths)
    assert calls == ["sync"]
