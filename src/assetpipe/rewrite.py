"""Splice new URLs into the spans the scanners recorded; every other character stays as it was."""

from __future__ import annotations

from collections.abc import Sequence


def splice(text: str, replacements: Sequence[tuple[int, int, str]]) -> str:
    """Replace each (start, end) span of ``text`` with its new string; spans must not overlap."""
    if not replacements:
        return text
    parts: list[str] = []
    pos = 0
    for start, end, new in sorted(replacements):
        if start < pos:
            raise ValueError(f"overlapping spans at {start}")
        parts.append(text[pos:start])
        parts.append(new)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
