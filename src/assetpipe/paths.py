"""Paths: the one way to resolve a path on disk, to name it as a logical (POSIX) path, and to tell
whether a name is ever published.

Dot names (``.env``, ``.git/``, write_atomic's temp files, OUT/.assetpipe/) are never published and
never served, except ``.well-known/`` (RFC 8615): sources, watch and the snippets apply this one rule.
"""

from __future__ import annotations

from pathlib import Path

from assetpipe.errors import AssetpipeError, ConfigError

#: The one dot folder a build publishes: clients ask for /.well-known/... at fixed URLs (RFC 8615).
WELL_KNOWN = ".well-known"


def is_hidden_name(name: str) -> bool:
    """True for a file or folder name that is never published: a dot name other than ``.well-known``."""
    return name.startswith(".") and name != WELL_KNOWN


def is_hidden(posix_path: str) -> bool:
    """True when any segment of a POSIX path (a logical path, or one relative to OUT) is a hidden name."""
    return any(is_hidden_name(segment) for segment in posix_path.split("/"))


def resolve_path(path: Path, what: str = "path", error: type[AssetpipeError] = ConfigError) -> Path:
    """``path`` made absolute with symlinks resolved; a loop (RuntimeError on Python 3.11) or an OS error
    becomes one ``error`` naming the path."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:
        raise error(f"cannot resolve {what}: {exc}", path=str(path)) from None


def logical_path(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` as a POSIX string ("" for ``root`` itself), or None if outside it.

    Both must be in the same form (both resolved, or both as walked from ``root``): this is a comparison
    of path components, it does not touch the disk.
    """
    if not path.is_relative_to(root):
        return None
    relative = path.relative_to(root).as_posix()
    return "" if relative == "." else relative
