"""Content digests and hashed names, always of the final (rewritten) bytes.

Phoenix and Propshaft once hashed pre-rewrite bytes and served changed CSS under an unchanged URL; here
the name is computed from exactly what is written, so ``verify`` can recompute it.

The name carries 12 hex digits (48 bits) of SHA-384. A name only has to differ between versions of the
same logical path: with a million versions of one file the chance of any two sharing a name is about
n^2 / 2^49 ~ 2e-3; with the realistic thousands it is ~1e-9. Integrity uses the full SHA-384.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from dataclasses import dataclass

HASH_LENGTH = 12
# The stem is lazy so that ``x.<hash>.<12 hex digits>`` reads as extension, not hash: hashed_path only
# puts the hash last for a name without an extension.
# DOTALL and fullmatch: a file name may contain a newline, which "." and "$" would otherwise mishandle.
_HASHED = re.compile(r"(?P<stem>.+?)\.(?P<hash>[0-9a-f]{12})(?P<ext>\.[^./]+)?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    hash: str
    integrity: str
    size: int


def fingerprint(data: bytes) -> Fingerprint:
    """One SHA-384 pass gives both the name's digest and the SRI value."""
    digest = hashlib.sha384(data).digest()
    return Fingerprint(
        hash=digest.hex()[:HASH_LENGTH],
        integrity="sha384-" + base64.b64encode(digest).decode("ascii"),
        size=len(data),
    )


def hashed_path(logical_path: str, digest: str) -> str:
    """``css/app.css`` -> ``css/app.<hash>.css``; the hash goes before the last extension only."""
    directory, name = posixpath.split(logical_path)
    stem, dot, ext = name.rpartition(".")
    new_name = f"{name}.{digest}" if not dot or not stem else f"{stem}.{digest}.{ext}"
    return posixpath.join(directory, new_name) if directory else new_name


def parse_hashed_path(path: str) -> tuple[str, str] | None:
    """(logical path, hash) for a hashed path, or None if it carries no hash."""
    directory, name = posixpath.split(path)
    m = _HASHED.fullmatch(name)
    if m is None:
        return None
    logical = m.group("stem") + (m.group("ext") or "")
    return (posixpath.join(directory, logical) if directory else logical), m.group("hash")
