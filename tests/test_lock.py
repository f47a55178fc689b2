"""The output lock: one build or clean per OUT at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assetpipe.errors import LockBusy
from assetpipe.lock import lock_path, output_lock

HOLDER = """
import sys
from pathlib import Path
from assetpipe.lock import output_lock
with output_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def hold_in_child(out: Path) -> subprocess.Popen[str]:
    """A separate process holding OUT's lock until its stdin closes (or it is killed)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "held\n"
    return child


def test_the_lock_file_lives_in_the_state_dir_which_it_creates(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    with output_lock(out) as path:
        assert path == out / ".assetpipe" / "lock"
        assert path.is_file()
        assert path.read_text() == f"{os.getpid()}\n"


def test_the_lock_is_free_again_after_the_with_block(tmp_path: Path) -> None:
    with output_lock(tmp_path):
        pass
    with output_lock(tmp_path, wait=False):
        pass


def test_no_wait_fails_at_once_naming_the_lock_and_its_holder(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    try:
        with pytest.raises(LockBusy) as info, output_lock(tmp_path, wait=False):
            pass
    finally:
        child.communicate("")
    assert info.value.path == str(lock_path(tmp_path))
    assert f"another build or clean is using this output directory (pid {child.pid})" in str(info.value)


def test_a_waiter_is_told_once_and_gets_the_lock_when_the_holder_leaves(tmp_path: Path) -> None:
    messages: list[str] = []
    told = threading.Event()
    acquired = threading.Event()

    def on_wait(message: str) -> None:
        messages.append(message)
        told.set()

    def second() -> None:
        with output_lock(tmp_path, on_wait=on_wait):
            acquired.set()

    with output_lock(tmp_path):
        waiter = threading.Thread(target=second)
        waiter.start()
        assert told.wait(timeout=60), "the waiter was never told"
        assert not acquired.is_set()
    waiter.join()
    assert acquired.is_set()
    assert len(messages) == 1
    assert messages[0].startswith(f"{lock_path(tmp_path)}: another build or clean")
    assert messages[0].endswith("waiting for it to finish")


def test_an_uncontended_lock_says_nothing(tmp_path: Path) -> None:
    messages: list[str] = []
    with output_lock(tmp_path, on_wait=messages.append):
        pass
    assert messages == []


def test_a_killed_holder_never_leaves_the_directory_locked(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.stdin is not None and child.stdout is not None
    child.stdin.close()
    child.stdout.close()
    with output_lock(tmp_path, wait=False):
        pass


def test_the_lock_is_released_when_the_body_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), output_lock(tmp_path):
        raise RuntimeError("build failed")
    with output_lock(tmp_path, wait=False):
        pass
