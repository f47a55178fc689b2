"""Finding the references of many files on two cores: a helper process scans from the last file back while
the plan scans from the first, until they meet.

Scanning is pure Python (the GIL allows one scanner per process), and a build that reads every text file
(a cold build, or CI's fresh checkout with a restored cache, where no record vouches for a source) spends
0.6 s of the benchmark corpus's warm build in it while the second core has nothing to do yet. The helper
answers one file at a time, in reverse order; the plan asks :meth:`Ahead.take` before it scans a file
itself, and takes the helper's answer once it has come. What the helper found is a pure function of the
bytes it read, and their digest goes with it, so emit proves the file it publishes is those bytes, as it
does for the plan's own reads. A file the helper could not read or scan is scanned by the plan (which
raises the error, naming the file, in the plan's order); a helper that cannot start or dies only leaves
the plan to do the rest. Small builds never start one (its start costs about 0.2 s of CPU).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import threading
from typing import IO

from assetpipe import child
from assetpipe.asset import Reference

#: Start a helper only for at least this many files to scan, holding at least AHEAD_BYTES.
AHEAD_FILES = 200
AHEAD_BYTES = 2_000_000
_FRAME = struct.Struct("!I")

Found = tuple[bytes, tuple[Reference, ...]]  # the digest of the bytes read, and their references


class Ahead:
    """The helper's answers for files the plan will scan; empty when none was started."""

    def __init__(self, files: list[tuple[str, str, int]]) -> None:
        """``files``: (logical path, location, size) of each file to scan, in the plan's order."""
        self._found: dict[str, Found | None] = {}
        self._buffer = b""
        self._proc = None
        if len(files) < AHEAD_FILES or sum(size for _, _, size in files) < AHEAD_BYTES:
            return
        self._proc = child.spawn("assetpipe.references.parallel.serve")
        if self._proc is None:
            return
        try:
            assert self._proc.stdout is not None
            # Read without waiting (not select(): a process holding over 1024 descriptors is past it).
            os.set_blocking(self._proc.stdout.fileno(), False)
            # With this module's own file: a helper that imported another copy of assetpipe (a relative
            # sys.path entry after a chdir, an embedding interpreter) could find other references.
            todo = pickle.dumps((__file__, [(logical, where) for logical, where, _ in reversed(files)]))
            # Sent on a thread: the list is larger than a pipe holds, and the helper reads it only once it
            # has started (0.2 s), which the plan spends scanning from the other end.
            threading.Thread(target=_send, args=(self._proc.stdin, todo), daemon=True).start()
        except BaseException:  # Ctrl-C before the plan holds it: stopped here, not left waiting
            self.close()
            raise

    def take(self, logical: str) -> Found | None:
        """The helper's digest and references for ``logical`` if it has answered for it by now."""
        if self._proc is not None and logical not in self._found:
            self._read_ready()
        return self._found.get(logical)

    def close(self) -> None:
        """Stop the helper (the plan is done, or failed): whatever it is scanning now is not needed."""
        if self._proc is not None:
            child.stop(self._proc)
            self._proc = None

    def _read_ready(self) -> None:
        """Book every answer already in the pipe, without waiting for more."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return  # nothing more yet
            except OSError:
                chunk = b""
            if not chunk:  # it is done, or gone: the plan scans what it did not answer
                self.close()
                return
            self._buffer += chunk
            self._book_frames()
            if self._proc is None:
                return

    def _book_frames(self) -> None:
        while len(self._buffer) >= _FRAME.size:
            (length,) = _FRAME.unpack_from(self._buffer)
            if len(self._buffer) < _FRAME.size + length:
                return
            frame = self._buffer[_FRAME.size : _FRAME.size + length]
            self._buffer = self._buffer[_FRAME.size + length :]
            try:
                logical, found = pickle.loads(frame)
            except Exception:  # not an answer (its interpreter printed first): believe nothing more of it
                self._buffer = b""
                self.close()
                return
            self._found[logical] = found


def _send(pipe: IO[bytes] | None, data: bytes) -> None:
    assert pipe is not None
    try:
        pipe.write(data)
        pipe.close()
    except (OSError, ValueError):
        pass  # it is gone: the plan scans what it did not answer


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The helper: the files to scan, then one answer per file (None where it could not)."""
    from assetpipe import references
    from assetpipe.references.text import decode_utf8

    child.serve_start(requests)
    origin, files = pickle.load(requests)
    if origin != __file__:
        return  # not the caller's assetpipe: it answers nothing, and the plan scans every file
    for logical, where in files:
        found: Found | None
        try:
            with open(where, "rb") as fh:
                raw = fh.read()
            found = (hashlib.sha256(raw).digest(), references.find(logical, decode_utf8(raw, logical)))
        except Exception:  # the plan scans it again and says what is wrong, in its order
            found = None
        frame = pickle.dumps((logical, found), protocol=pickle.HIGHEST_PROTOCOL)
        answers.write(_FRAME.pack(len(frame)) + frame)
        answers.flush()
