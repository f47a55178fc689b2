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
