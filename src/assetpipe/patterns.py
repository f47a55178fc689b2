"""Glob patterns over logical paths with .gitignore's semantics, by pathspec (a well-kept implementation).

As in .gitignore: ``**`` spans directories (``foo**bar`` does not: there ``**`` is two ``*``), ``*``,
``?`` and ``[...]`` stay inside one segment, a pattern without a ``/`` (``*.map``) matches at any depth, a
leading or middle ``/`` anchors it at SRC, ``dir/`` matches that folder at any depth, ``\\*`` is a literal
star, and a list is read top to bottom with the last matching pattern deciding: ``!pattern`` takes back
what an earlier one matched (``["**", "!secret/**"]`` is everything but ``secret/``). Unlike git, which
never looks inside an excluded folder, a ``!`` pattern can also take back a file under a folder matched
by an earlier ``dir/`` pattern: assetpipe matches each file's path, never skips folders; and a negated
class (``x[!a]y``) can match a ``/`` (pathspec's reading, rare enough not to hand-patch). Surrounding
whitespace is dropped (a TOML string with a stray space is a typo, not a pattern).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pathspec import GitIgnoreSpec

from assetpipe.errors import ConfigError


@dataclass(frozen=True, slots=True)
class PathSet:
    """A set of logical paths given by gitignore-style patterns, read in order."""

    patterns: tuple[str, ...]

    def matches(self, logical_path: str) -> bool:
        return _compiled(self.patterns).match_file(logical_path)


@lru_cache(maxsize=128)
def _compiled(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    lines = [p.strip() for p in patterns]
    return GitIgnoreSpec.from_lines([line for line in lines if line])


def path_set(patterns: Iterable[str]) -> PathSet:
    """The patterns as a PathSet; ConfigError names a pattern that is not a valid glob."""
    paths = PathSet(tuple(patterns))
    for pattern in paths.patterns:
        try:
            _compiled((pattern,))
        except Exception as exc:  # pathspec raises its own error types and re.error
            raise ConfigError(f"invalid pattern {pattern!r}: {exc}") from None
    _compiled(paths.patterns)
    return paths
