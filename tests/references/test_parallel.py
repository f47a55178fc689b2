"""The plan's second scanner: a helper process that scans from the last file back. What it answers is what
the plan would have found itself, byte for byte; a file it cannot scan, or a helper that dies, leaves the
plan to do the work (and to name the file that is wrong)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import types
from pathlib import Path

import pytest
from tests.conftest import write_tree
from tests.support import assert_helper_dies_with_its_build

from assetpipe import references
from assetpipe.config import Config
from assetpipe.errors import InvalidEncoding, MalformedSource
from assetpipe.pipeline import build
from assetpipe.references import parallel
from assetpipe.references.parallel import Ahead
from assetpipe.references.text import decode_utf8

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40


def many_files(n: int = 240) -> dict[str, str | bytes]:
    """A tree past the helper's thresholds: modules importing each other, stylesheets with images."""
    tree: dict[str, str | bytes] = {"img/a.png": PNG, "zz.css": "p {}\n"}  # the helper's first answer
    for i in range(n):
        pad = "/* " + "x" * 9000 + " */\n"  # past AHEAD_BYTES in all
        # Enough tokens that the plan is still scanning when the helper has started (about 0.2 s).
        code = f"export const t{i} = [{', '.join(map(str, range(1500)))}];\n"
        last = i == n - 1  # a chain: each module imports the next
        head = "" if last else f'import "./m{i + 1}.js";\n'
        tree[f"js/m{i}.js"] = f"{head}export const v{i} = {i};\n{code}"
        tree[f"css/s{i}.css"] = f"{pad}.c{i} {{ background: url(../img/a.png); }}\n"
    return tree


def outputs(out: Path) -> dict[str, bytes]:
    files = sorted(p for p in out.rglob("*") if p.is_file() and ".assetpipe" not in p.parts)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in files}


def test_the_helper_answers_what_the_plan_finds_itself(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", many_files())
    files = [(p.relative_to(src).as_posix(), str(p), p.stat().st_size) for p in sorted(src.rglob("*.*s"))]
    ahead = Ahead(files)
    try:
        deadline = time.monotonic() + 60
        while ahead.take(files[0][0]) is None and time.monotonic() < deadline:
            time.sleep(0.01)  # it answers from the last file back: the first is its last answer
        for logical, where, _ in files:
            raw = Path(where).read_bytes()
            expected = (hashlib.sha256(raw).digest(), references.find(logical, decode_utf8(raw, logical)))
            assert ahead.take(logical) == expected
    finally:
        ahead.close()


def test_a_build_with_the_helper_publishes_exactly_what_one_without_it_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_tree(tmp_path / "src", many_files())
    taken: list[bool] = []
    real_take = Ahead.take

    def counting(self: Ahead, logical: str) -> object:
        deadline = time.monotonic() + 60
        started = self._proc is not None
        while started and not taken and real_take(self, "zz.css") is None and time.monotonic() < deadline:
            time.sleep(0.01)  # a slow machine: the first file waits for the helper's first answer
        found = real_take(self, logical)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(Ahead, "take", counting)
    with_helper = build(Config(source=src, output=tmp_path / "with", compress=False))
    assert any(taken)  # the helper answered for some files: the path under test was taken
    monkeypatch.setattr(parallel, "AHEAD_FILES", 10**9)
    taken.clear()
    without = build(Config(source=src, output=tmp_path / "without", compress=False))
    assert not any(taken)
    assert with_helper.manifest == without.manifest
    assert outputs(tmp_path / "with") == outputs(tmp_path / "without")


@pytest.mark.parametrize(
    ("bad", "content", "error"),
    [
        ("js/zz.js", b"export const a = '\xff';\n", InvalidEncoding),
        ("css/zz.css", b'.a { background: url("\n', None),  # recovers, as a browser does: no error
        ("zz.webmanifest", b"{ not json", MalformedSource),  # the last file: the helper's first
    ],
)
def test_a_file_the_helper_cannot_scan_is_scanned_by_the_plan_which_names_it(
    tmp_path: Path, bad: str, content: bytes, error: type[Exception] | None
) -> None:
    tree = many_files()
    tree[bad] = content
    src = write_tree(tmp_path / "src", tree)
    config = Config(source=src, output=tmp_path / "out", compress=False)
    if error is None:
        assert bad in build(config).manifest.assets
        return
    with pytest.raises(error) as caught:
        build(config)
    assert caught.value.path == bad  # type: ignore[attr-defined]
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_helper_that_dies_leaves_the_plan_to_scan_everything(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", many_files())
    files = [(p.relative_to(src).as_posix(), str(p), p.stat().st_size) for p in sorted(src.rglob("*.*s"))]
    ahead = Ahead(files)
    assert ahead._proc is not None
    ahead._proc.kill()
    ahead._proc.wait()
    try:
        for logical, _, _ in files:
            ahead.take(logical)  # whatever it answered before it died may be taken; nothing hangs
    finally:
        ahead.close()
    assert ahead._proc is None  # it saw the end of the pipe and stopped asking


def test_small_builds_start_no_helper(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"js/app.js": 'import "./lib.js";\n', "js/lib.js": "export {};\n"})
    files = [(p.relative_to(src).as_posix(), str(p), p.stat().st_size) for p in src.rglob("*.js")]
    ahead = Ahead(files)
    assert ahead._proc is None
    assert ahead.take("js/app.js") is None


def test_a_helper_dies_with_a_build_killed_by_sigkill(tmp_path: Path) -> None:
    # Its first file (the last of the list) is a FIFO this test holds open: the helper is stuck reading
    # it, and only the kernel's parent-death signal can end it once the build is gone.
    src = write_tree(tmp_path / "src", many_files())
    fifo = src / "zz.css"
    fifo.unlink()
    os.mkfifo(fifo)
    script = f"""
import os, signal, sys
from pathlib import Path
from assetpipe.references.parallel import Ahead
src = Path({str(src)!r})
files = [(p.relative_to(src).as_posix(), str(p), 10**6) for p in sorted(src.rglob("*.*s"))]
ahead = Ahead(files)
print(ahead._proc.pid, flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)
"""
    assert_helper_dies_with_its_build(script, fifo, "helper")



def test_a_helper_that_writes_garbage_is_dropped_and_the_plan_scans_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Something in the helper's interpreter (a sitecustomize, a .pth file) printed to its stdout before
    # the answers began: not a frame the build can read, and no traceback for it.
    (tmp_path / "noisy_helper.py").write_text(
        "import sys\n"
        "from assetpipe.references import parallel\n"
        "def serve(requests, answers):\n"
        "    answers.write(b'\\0\\0\\0\\x05hello')\n"
        "    answers.flush()\n"
        "    parallel.serve(requests, answers)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real_spawn = parallel.child.spawn
    monkeypatch.setattr(parallel.child, "spawn", lambda function: real_spawn("noisy_helper.serve"))
    src = write_tree(tmp_path / "src", many_files())
    files = [(p.relative_to(src).as_posix(), str(p), p.stat().st_size) for p in sorted(src.rglob("*.*s"))]
    ahead = Ahead(files)
    assert ahead._proc is not None
    try:
        deadline = time.monotonic() + 60
        while ahead._proc is not None and time.monotonic() < deadline:
            ahead.take(files[0][0])  # reads what it wrote: the garbage ends it
            time.sleep(0.01)
        assert ahead._proc is None
        assert ahead.take(files[0][0]) is None  # nothing it said is believed
    finally:
        ahead.close()


def test_a_build_in_a_process_holding_many_files_open_takes_the_helpers_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server or watcher that holds more than a thousand descriptors: the helper's pipe is past what
    # select() can watch, and the plan still takes its answers, with no ValueError.
    monkeypatch.setattr(parallel, "AHEAD_FILES", 0)
    monkeypatch.setattr(parallel, "AHEAD_BYTES", 0)
    src = write_tree(tmp_path / "src", {"a.css": "p { background: url(b.png); }\n", "b.png": PNG})
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        ahead = Ahead([("a.css", str(src / "a.css"), 1)])
        try:
            assert ahead._proc is not None and ahead._proc.stdout is not None
            assert ahead._proc.stdout.fileno() >= 1024
            deadline = time.monotonic() + 60
            while ahead.take("a.css") is None and time.monotonic() < deadline:
                time.sleep(0.01)
            raw = (src / "a.css").read_bytes()
            expected = (hashlib.sha256(raw).digest(), references.find("a.css", decode_utf8(raw, "a.css")))
            assert ahead.take("a.css") == expected
        finally:
            ahead.close()
    finally:
        for fd in held:
            os.close(fd)


def test_a_helper_started_when_the_build_is_interrupted_is_stopped_and_reaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C lands just after the helper started, before the plan holds it: the helper must not be left
    # waiting for its list of files (nor as a zombie) in a process that goes on (a watcher, a server).
    monkeypatch.setattr(parallel, "AHEAD_FILES", 0)
    monkeypatch.setattr(parallel, "AHEAD_BYTES", 0)
    started: list[subprocess.Popen[bytes]] = []
    real_spawn = parallel.child.spawn

    def spawn(function: str) -> subprocess.Popen[bytes] | None:
        proc = real_spawn(function)
        if proc is not None:
            started.append(proc)
        return proc

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel.child, "spawn", spawn)
    monkeypatch.setattr(parallel, "threading", types.SimpleNamespace(Thread=interrupted))
    src = write_tree(tmp_path / "src", {"a.css": "p { background: url(b.png); }\n", "b.png": PNG})
    with pytest.raises(KeyboardInterrupt):
        build(Config(source=src, output=tmp_path / "out", compress=False))
    assert len(started) == 1
    assert started[0].returncode is not None  # killed and reaped


def test_a_helper_that_imported_another_copy_of_assetpipe_answers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The caller names its own scanner module; a helper whose import found another file says nothing.
    src = write_tree(tmp_path / "src", many_files())
    files = [(p.relative_to(src).as_posix(), str(p), p.stat().st_size) for p in sorted(src.rglob("*.*s"))]
    monkeypatch.setattr(parallel, "__file__", str(tmp_path / "elsewhere" / "parallel.py"))
    ahead = Ahead(files)
    try:
        deadline = time.monotonic() + 60
        while ahead._proc is not None and time.monotonic() < deadline:
            ahead.take(files[0][0])  # until it has ended: the end of its pipe closes it
            time.sleep(0.01)
        assert ahead._proc is None
        assert all(ahead.take(logical) is None for logical, _, _ in files)
    finally:
        ahead.close()
