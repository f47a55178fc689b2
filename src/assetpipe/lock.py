"""One writer per output directory: builds and cleans on the same OUT never interleave.

An ``fcntl.flock`` on OUT/.assetpipe/lock, not a pid file: the kernel drops the lock when its holder dies
(even by SIGKILL), so a crashed build never leaves OUT locked and there is nothing stale to break.
The lock belongs to an open file, so a second ``output_lock`` on the same OUT in the same process
waits like any other process would; don't nest them.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from assetpipe.errors import LockBusy, OutputError
from assetpipe.layout import STATE_DIR

LOCK_NAME = "lock"


def lock_path(out_dir: Path) -> Path:
    """OUT/.assetpipe/lock."""
    return out_dir / STATE_DIR / LOCK_NAME


def _holder(fd: int) -> str:
    """' (pid N)' from the lock file, for the message; best effort, the pid is only a hint."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def _record_holder(fd: int) -> None:
    """Write our pid into the lock file, only to name the holder in a waiter's message.

    Best effort: the lock is the flock, not this text, so a full disk must not fail the build here.
    """
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass


@contextmanager
def output_lock(
    out_dir: Path, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[Path]:
    """Hold OUT's lock for the ``with`` body; wait for it (telling ``on_wait`` once) or raise LockBusy."""
    path = lock_path(out_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot open the lock file: {exc.strerror or exc}", path=str(path)) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(f"cannot lock: {exc.strerror or exc}", path=str(path)) from exc
            message = f"{path}: another build or clean is using this output directory{_holder(fd)}"
            if not wait:
                raise LockBusy(
                    f"another build or clean is using this output directory{_holder(fd)}",
                    path=str(path),
                    hint="try again when it finishes, or run without --no-wait to wait for it",
                ) from None
            if on_wait is not None:
                on_wait(message + "; waiting for it to finish")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:  # ENOLCK on some network filesystems
                raise OutputError(f"cannot lock: {exc.strerror or exc}", path=str(path)) from exc
        _record_holder(fd)
        yield path
    finally:
        os.close(fd)  # closing the last descriptor releases the flock
