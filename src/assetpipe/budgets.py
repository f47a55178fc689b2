"""Size budgets: ``budgets`` in the config caps what the build serves, and a build over budget fails.

    [budgets]
    "js/**" = "150 kB br"        # all matching files together, as served with brotli
    "img/**" = "each 200 kB"     # every matching file on its own, raw bytes
    total = "2 MB gzip"          # the whole build

A file's size in an encoding is its sibling's size, or its own when it has no sibling (the server then
sends it as it is). Units: B, kB/MB (1000), KiB/MiB (1024). Patterns are the config's glob patterns.
Budgets see entries through a structural type, so this module sits below the manifest and config can
parse them when it loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from assetpipe.errors import AssetpipeError, ConfigError
from assetpipe.patterns import path_set

TOTAL = "total"
#: Accepted spellings -> the encoding's name in the manifest (None: the raw file).
ENCODINGS: Mapping[str, str | None] = {"": None, "raw": None, "br": "br", "gzip": "gzip", "gz": "gzip"}
UNITS: Mapping[str, int] = {"b": 1, "kb": 1000, "mb": 1000**2, "kib": 1024, "mib": 1024**2}
_SPEC = re.compile(r"\s*(each\s+)?(\d+(?:\.\d+)?)\s*([a-z]+)?\s*([a-z]+)?\s*", re.IGNORECASE)


class BudgetExceeded(AssetpipeError):
    """The build serves more than a budget in the config allows."""


@dataclass(frozen=True, slots=True)
class Budget:
    """One ``pattern = "size [encoding]"`` line of the config."""

    pattern: str  # as written; "total" is every file
    limit: int  # bytes
    encoding: str | None  # "br", "gzip", or None for raw bytes
    each: bool  # every matching file on its own, rather than all of them together
    spec: str  # the value as written, for messages

    def matches(self, logical_path: str) -> bool:
        return self.pattern == TOTAL or path_set((self.pattern,)).matches(logical_path)


class _Sibling(Protocol):
    @property
    def size(self) -> int: ...


class Sized(Protocol):
    """What a budget reads of a manifest entry."""

    @property
    def size(self) -> int: ...
    @property
    def encodings(self) -> Mapping[str, _Sibling]: ...


@dataclass(frozen=True, slots=True)
class BudgetResult:
    """A budget measured against a build: the bytes counted and, when over, the files to blame."""

    budget: Budget
    size: int  # all matches together; with ``each``, the largest match
    files: tuple[tuple[str, int], ...]  # matching files, largest first
    measured: bool = True  # False: the build wrote no siblings in the budget's encoding

    @property
    def over(self) -> bool:
        return self.measured and self.size > self.budget.limit

    @property
    def offenders(self) -> tuple[tuple[str, int], ...]:
        if not self.budget.each:
            return self.files
        return tuple((name, size) for name, size in self.files if size > self.budget.limit)


def parse_budget(pattern: str, value: object, where: str) -> Budget:
    """``("js/**", "150 kB br")`` -> Budget; ConfigError naming the key and the file otherwise."""
    if not isinstance(value, str):
        raise ConfigError(f'budget {pattern!r} must be a string like "150 kB br"', path=where)
    match = _SPEC.fullmatch(value)
    unit, encoding = ((match.group(3) or ""), (match.group(4) or "")) if match else ("", "")
    if unit.lower() in ENCODINGS and unit.lower() not in UNITS and not encoding:
        unit, encoding = "", unit  # "150000 br": bytes
    if match is None or unit.lower() not in {"", *UNITS} or encoding.lower() not in ENCODINGS:
        raise ConfigError(
            f"budget {pattern!r}: cannot read {value!r}",
            path=where,
            hint='write ["each "]SIZE UNIT [br|gzip], e.g. "150 kB br" or "each 50 KiB"',
        )
    if not pattern.strip():
        raise ConfigError("a budget needs a pattern (or 'total')", path=where)
    limit = round(float(match.group(2)) * UNITS.get(unit.lower(), 1))
    return Budget(pattern, limit, ENCODINGS[encoding.lower()], bool(match.group(1)), value.strip())


def parse_budgets(table: Mapping[str, object], where: str) -> tuple[Budget, ...]:
    """The config's ``budgets`` table, in the order written."""
    return tuple(parse_budget(str(pattern), value, where) for pattern, value in table.items())


def served_size(entry: Sized, encoding: str | None) -> int:
    """Bytes a client gets: the sibling in ``encoding`` if there is one, else the file itself."""
    sibling = entry.encodings.get(encoding) if encoding is not None else None
    return sibling.size if sibling is not None else entry.size


def measure(
    budgets: Iterable[Budget], assets: Mapping[str, Sized], encodings: Iterable[str] | None = None
) -> tuple[BudgetResult, ...]:
    """Each budget against ``assets``. ``encodings``: those the build wrote siblings in (None: all); a
    budget in another encoding is reported unmeasured rather than judged on raw sizes."""
    written = None if encodings is None else frozenset(encodings)
    results = []
    for budget in budgets:
        matched = (name for name in assets if budget.matches(name))
        sizes = [(name, served_size(assets[name], budget.encoding)) for name in matched]
        sizes.sort(key=lambda item: (-item[1], item[0]))
        size = max((s for _, s in sizes), default=0) if budget.each else sum(s for _, s in sizes)
        measured = budget.encoding is None or written is None or budget.encoding in written
        results.append(BudgetResult(budget, size, tuple(sizes), measured))
    return tuple(results)


def enforce(
    budgets: Iterable[Budget],
    assets: Mapping[str, Sized],
    encodings: Iterable[str] | None = None,
    *,
    where: str | None = None,
) -> tuple[BudgetResult, ...]:
    """measure(), raising BudgetExceeded (every budget over, with the largest files) if any is over."""
    results = measure(budgets, assets, encodings)
    over = [r for r in results if r.over]
    if over:
        raise BudgetExceeded("; ".join(describe(r) for r in over), path=where)
    return results


def describe(result: BudgetResult) -> str:
    """``budget 'js/**' (150 kB br) exceeded: 163.2 kB br (js/vendor.js 120.1 kB, js/app.js 43.1 kB)``."""
    budget = result.budget
    encoding = f" {budget.encoding}" if budget.encoding else ""
    blamed = result.offenders
    names = ", ".join(f"{name} {format_size(size)}" for name, size in blamed[:3])
    more = f" and {len(blamed) - 3} more" if len(blamed) > 3 else ""
    files = "1 file" if len(blamed) == 1 else f"{len(blamed)} files"
    what = f"{files} over it" if budget.each else format_size(result.size) + encoding
    return f"budget {budget.pattern!r} ({budget.spec}) exceeded: {what} ({names}{more})"


def format_size(n: int) -> str:
    """Bytes in the units the budgets use: ``812 B``, ``163.2 kB``, ``2.41 MB``."""
    if n < 1000:
        return f"{n} B"
    if n < 1000**2:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1000**2:.2f} MB"


__all__ = [
    "Budget",
    "BudgetExceeded",
    "BudgetResult",
    "enforce",
    "format_size",
    "measure",
    "parse_budget",
    "parse_budgets",
    "served_size",
]
