"""Shares of the sibling work for CI matrix jobs: disjoint, covering, balanced, order-independent."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from assetpipe.errors import ConfigError
from assetpipe.shard import FILE_WEIGHT, Shard, parse_shard, share
from tests.conftest import write_tree

OUTPUTS = [(f"f{i:03d}.js", random.Random(i).randrange(100, 200_000)) for i in range(300)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_the_shares_of_n_jobs_cover_every_output_exactly_once(count: int) -> None:
    shares = [share(OUTPUTS, Shard(k, count)) for k in range(1, count + 1)]
    assert sum(len(s) for s in shares) == len(OUTPUTS)
    assert frozenset().union(*shares) == {path for path, _ in OUTPUTS}


def test_shares_are_balanced_by_size() -> None:
    weights = {path: size + FILE_WEIGHT for path, size in OUTPUTS}
    loads = [sum(weights[p] for p in share(OUTPUTS, Shard(k, 4))) for k in range(1, 5)]
    assert max(loads) - min(loads) <= max(weights.values())  # the greedy bound: at most one file apart
    assert max(loads) / min(loads) < 1.05


def test_a_share_depends_on_the_set_of_outputs_not_their_order() -> None:
    shuffled = OUTPUTS[:]
    random.Random(7).shuffle(shuffled)
    assert share(shuffled, Shard(2, 3)) == share(OUTPUTS, Shard(2, 3))


def test_one_huge_file_gets_a_share_of_its_own() -> None:
    outputs = [("huge.json", 5_000_000)] + [(f"s{i}.css", 1_000) for i in range(100)]
    assert share(outputs, Shard(1, 2)) == {"huge.json"}


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", ""])
def test_a_shard_is_k_of_n(text: str) -> None:
    with pytest.raises(ConfigError, match="must be K/N"):
        parse_shard(text)


def test_parse_shard_reads_k_of_n() -> None:
    assert parse_shard(" 2/4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"


def test_build_shard_on_the_command_line_publishes_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {f"css/{i}.css": f".c{i} {{ color: red }}\n" * 50 for i in range(6)})
    run = [sys.executable, "-m", "assetpipe", "build", "-s", "src", "-o", "out", "--cache-dir", "cache"]
    result = subprocess.run([*run, "--shard", "1/2"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("shard 1/2: 6 compressed") and "nothing published" in result.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
    subprocess.run([*run, "--shard", "2/2"], cwd=tmp_path, check=True, capture_output=True)
    final = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True)
    assert "0 compressed, 12 cache hits" in final.stderr
    bad = subprocess.run([*run, "--shard", "3/2"], cwd=tmp_path, capture_output=True, text=True)
    assert (
        bad.returncode == 2 and bad.stderr == "error: --shard '3/2' must be K/N with 1 <= K <= N, e.g. 2/4\n"
    )


def test_a_shard_without_compression_does_nothing_and_says_so(tmp_path: Path) -> None:
    from assetpipe.config import Config
    from assetpipe.pipeline import build

    write_tree(tmp_path / "src", {"css/a.css": ".a { color: red }\n" * 50})
    config = Config(source=tmp_path / "src", output=tmp_path / "out", compress=False)
    report = build(config, shard=Shard(1, 2))
    assert report.compressed == 0 and report.summary().startswith("shard 1/2: nothing to compress in ")
    assert not (tmp_path / "out" / "manifest.json").exists()
