"""Test support shared by the modules that walk OUT."""

from __future__ import annotations

import os
from pathlib import Path


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
