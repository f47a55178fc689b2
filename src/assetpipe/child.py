"""A build's helper processes: a fresh ``python -I`` that imports from the caller's ``sys.path`` and dies with
the caller, even on SIGKILL (no orphan goes on reading sources or writing into OUT).

A helper runs ``module.function(requests, answers)`` on its stdin and stdout (binary pipes); the caller's
``sys.path`` comes first on stdin, pickled, then whatever the function reads. The compressor's lookup
process and the plan's second scanner start this way.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys

from assetpipe import gcpolicy

_BOOT = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "import importlib, pickle, sys\n"
    "sys.path[:] = pickle.load(sys.stdin.buffer)\n"
    "module, name = sys.argv[1].rsplit('.', 1)\n"
    "getattr(importlib.import_module(module), name)(sys.stdin.buffer, sys.stdout.buffer)\n"
)


def spawn(function: str) -> subprocess.Popen[bytes] | None:
    """Start a helper running ``function`` (``"package.module.function"``); None where none can start
    (no interpreter to run, a frozen application, no process left): the caller does the work itself."""
    if not sys.executable or getattr(sys, "frozen", False):
        return None
    # -I: no user site, no PYTHON* variables; sys.path is the caller's, sent first.
    flags = ["-I", "-B"] if sys.dont_write_bytecode else ["-I"]
    try:
        proc = subprocess.Popen(
            [sys.executable, *flags, "-c", _BOOT, function],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,  # not the output lock: it must be free once the build is gone
        )
    except OSError:
        return None
    assert proc.stdin is not None
    try:
        pickle.dump(sys.path, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(os.getpid(), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.flush()
    except (OSError, ValueError):
        stop(proc)
        return None
    except BaseException:  # Ctrl-C before the caller holds it: stopped here, not left waiting
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` (if it still runs) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def serve_start(requests: object) -> None:
    """In the helper, first: read the caller's pid and die with it; stdout is the answers' alone."""
    gcpolicy.for_helper()
    parent = pickle.load(requests)  # type: ignore[arg-type]
    die_with(parent)
    sys.stdout = sys.stderr


def die_with(parent: int) -> None:
    """Be killed when ``parent`` dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(0)  # it died before that was set
