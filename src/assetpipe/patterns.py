"""Glob patterns over logical paths, with gitignore's two conventions users already know.

``**`` spans directories, ``*`` and ``?`` stay inside one segment, and a pattern without a ``/`` matches the
last segment at any depth (``*.map`` matches ``js/app.js.map``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache


def _char_class(body: str) -> str:
    """A ``[...]`` body as a regex; one that is no valid class (``[z-a]``) matches its text literally."""
    negate = body.startswith(("!", "^"))
    if negate:
        body = body[1:]
    # Escape everything but "-" so regex set syntax ("&&", "[:", "\\") stays literal; "-" keeps ranges.
    escaped = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
    regex = f"(?!/)[{'^' if negate else ''}{escaped}]"
    try:
        re.compile(regex)
    except re.error:
        return re.escape("[" + ("!" if negate else "") + body + "]")
    return regex


@lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    pat = pattern.strip()
    # As in .gitignore: a "/" at the start or in the middle anchors the pattern at SRC; a trailing one
    # alone does not ("build/" is any directory called build).
    anchored = "/" in pat.rstrip("/")
    pat = pat.lstrip("/")
    if not anchored:
        pat = "**/" + pat
    if pat.endswith("/"):
        pat += "**"
    out: list[str] = []
    i = 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pat.startswith("**", i):
            out.append(".*")
            i += 2
        elif pat[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pat[i] == "?":
            out.append("[^/]")
            i += 1
        elif pat[i] == "[":
            close = pat.find("]", i + 2)
            if close == -1:
                out.append(re.escape("["))
                i += 1
            else:
                out.append(_char_class(pat[i + 1 : close]))
                i = close + 1
        else:
            out.append(re.escape(pat[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class PathSet:
    """A set of logical paths given by glob patterns."""

    patterns: tuple[str, ...]

    def matches(self, logical_path: str) -> bool:
        return _combined(self.patterns).match(logical_path) is not None


@lru_cache(maxsize=128)
def _combined(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """All patterns as one alternation: one regex call per path instead of one per pattern."""
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join(f"(?:{_compile(p).pattern})" for p in patterns), re.DOTALL)


def path_set(patterns: Iterable[str]) -> PathSet:
    return PathSet(tuple(patterns))
