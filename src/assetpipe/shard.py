"""Sharded compression: which outputs' siblings CI job K of N makes (``assetpipe build --shard K/N``).

Every job builds the same sources, so every job sees the same outputs and computes the same assignment;
the N shares are disjoint and together cover every output exactly once. Jobs fill the caches (local and
remote) and publish nothing; an ordinary build afterwards finds every sibling in the cache.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from assetpipe.errors import ConfigError

#: Added to each file's size when balancing: a compressor call has a fixed cost (about 1.5 ms for
#: brotli-11 on a tiny file, as much as compressing ~1 KB), so a share of many small files is not cheap.
FILE_WEIGHT = 1024


@dataclass(frozen=True, slots=True)
class Shard:
    """Job ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"2/4"`` -> Shard(2, 4); ConfigError for anything else (K must be in 1..N)."""
    index, sep, count = text.strip().partition("/")
    try:
        shard = Shard(int(index), int(count)) if sep else None
    except ValueError:
        shard = None
    if shard is None or not 1 <= shard.index <= shard.count:
        raise ConfigError(f"--shard {text!r} must be K/N with 1 <= K <= N, e.g. 2/4")
    return shard


def share(outputs: Iterable[tuple[str, int]], shard: Shard) -> frozenset[str]:
    """The output paths of ``shard``'s share of ``outputs`` (path, size), balanced by size.

    Largest first, each to the share with the least weight so far (ties: the lowest index), ordered by
    (size, path) so the result depends on the set of outputs alone, not on the order they were given.
    """
    loads = [(0, i) for i in range(shard.count)]  # (weight so far, share index 0-based): a min-heap
    mine: set[str] = set()
    for path, size in sorted(outputs, key=lambda item: (-item[1], item[0])):
        weight, index = heapq.heappop(loads)
        if index == shard.index - 1:
            mine.add(path)
        heapq.heappush(loads, (weight + size + FILE_WEIGHT, index))
    return frozenset(mine)
