"""Test support shared by several test modules: OUT walks, and a small filesystem to fill."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def make_unlistable_directory(root: Path) -> Path:
    """A directory under ``root`` whose path is longer than PATH_MAX: listing it fails even as root.

    Returns its first component under ``root``; remove it with shutil.rmtree (which works by descriptor).
    """
    segment = "d" * 250
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(20):  # 20 x 251 characters > 4096
            os.mkdir(segment, dir_fd=fd)
            child = os.open(segment, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)
    return root / segment


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (made here), to run out of space on for real; unmounted
    after. Skips where it cannot be mounted (needs root), and fails under CI=true, where it must run."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs in CI: {mounted.stderr!r}")
        pytest.skip("cannot mount a tmpfs here (needs root); the injected-error tests cover the logic")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def assert_helper_dies_with_its_build(script: str, fifo: Path, helper: str) -> None:
    """Run ``script`` (a build that prints its ``helper`` process's pid, then SIGKILLs itself on a line from
    stdin) once the helper is stuck reading ``fifo``, held open here: only the kernel's parent-death signal
    can end the helper then, and it must end."""
    import signal
    import sys
    import time

    build = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert build.stdout is not None and build.stdin is not None
    pid = int(build.stdout.readline())
    writer = -1
    deadline = time.monotonic() + 60
    while writer < 0 and time.monotonic() < deadline:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds once it is reading the FIFO
        except OSError:
            time.sleep(0.01)
    try:
        assert writer >= 0, f"the {helper} never read its first file"
        build.stdin.write(b"now\n")
        build.stdin.close()
        assert build.wait() == -signal.SIGKILL
        deadline = time.monotonic() + 30  # not a timing: without the signal it would never end
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(pid)
    finally:
        if writer >= 0:
            os.close(writer)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
