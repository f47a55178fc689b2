"""gcpolicy: a build (and each of its helper processes) runs with the collector's raised thresholds, and
the caller's own thresholds come back afterwards."""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from assetpipe import child
from assetpipe.config import Config
from assetpipe.gcpolicy import THRESHOLDS, fewer_collections
from assetpipe.pipeline import build
from tests.conftest import write_tree


@pytest.fixture
def own_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(555, 7, 9)  # a web app's own, say
    yield (555, 7, 9)
    gc.set_threshold(*before)


def test_the_block_runs_with_the_raised_thresholds_and_gives_back_the_callers_even_on_error(
    own_thresholds: tuple[int, int, int],
) -> None:
    with fewer_collections():
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == own_thresholds
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failed build")
    assert gc.get_threshold() == own_thresholds


class _Watching:
    """A reporter that notes the collector's thresholds while the build runs."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, int]] = []

    def start(self, total: int) -> None:
        self.seen.append(gc.get_threshold())

    def advance(self, count: int = 1) -> None:
        self.seen.append(gc.get_threshold())

    def finish(self) -> None:
        pass

    def waiting(self, message: str) -> None:
        pass


def test_a_build_runs_with_the_raised_thresholds_and_leaves_the_callers(
    tmp_path: Path, own_thresholds: tuple[int, int, int]
) -> None:
    write_tree(tmp_path / "src", {"app.css": "body { color: red }\n", "app.js": "export const a = 1;\n"})
    watching = _Watching()
    build(Config(source=tmp_path / "src", output=tmp_path / "out", compress=False), reporter=watching)
    assert watching.seen and set(watching.seen) == {THRESHOLDS}
    assert gc.get_threshold() == own_thresholds


def answer_thresholds(requests: IO[bytes], answers: IO[bytes]) -> None:
    """A helper's program for the test below: its thresholds once it has started as every helper does."""
    child.serve_start(requests)
    pickle.dump(gc.get_threshold(), answers)
    answers.flush()


def test_a_helper_process_runs_with_the_raised_thresholds(own_thresholds: tuple[int, int, int]) -> None:
    proc = child.spawn(f"{__name__}.answer_thresholds")
    assert proc is not None and proc.stdout is not None
    try:
        assert pickle.load(proc.stdout) == THRESHOLDS
    finally:
        child.stop(proc)


def test_two_builds_overlapping_on_two_threads_give_back_the_callers_thresholds(
    own_thresholds: tuple[int, int, int],
) -> None:
    """A enters, B enters, A leaves, B leaves (two OUTs built from two threads of one web process): B saw
    the raised thresholds as "the caller's" and must not leave them behind, nor lose them while it runs."""
    import threading

    b_entered, a_left = threading.Event(), threading.Event()
    seen_by_b: list[tuple[int, int, int]] = []

    def second() -> None:
        with fewer_collections():
            b_entered.set()
            a_left.wait(timeout=10)
            seen_by_b.append(gc.get_threshold())

    thread = threading.Thread(target=second)
    with fewer_collections():
        thread.start()
        assert b_entered.wait(timeout=10)
    a_left.set()
    thread.join(timeout=10)
    assert seen_by_b == [THRESHOLDS], "B's build lost the raised thresholds when A's ended"
    assert gc.get_threshold() == own_thresholds, "the caller's thresholds were not given back"


def test_nested_blocks_give_back_the_callers_thresholds(own_thresholds: tuple[int, int, int]) -> None:
    with fewer_collections():
        with fewer_collections():
            assert gc.get_threshold() == THRESHOLDS
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == own_thresholds
