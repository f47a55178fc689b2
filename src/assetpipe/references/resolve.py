"""Decide what a raw URL points at, and what it becomes once its target has a hashed name.

Only relative URLs and root-relative URLs under the base path that land inside SRC are ours. Bare JS
specifiers (``react``), any ``scheme:``, protocol-relative ``//host/x``, ``data:`` and fragment-only
``#id`` are left exactly as written.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote, unquote

from assetpipe.asset import Kind, Reference
from assetpipe.errors import BrokenReference, EscapesSource

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# Characters left as they are when a path is written back; everything else is percent-encoded, which
# also keeps quotes, parentheses, spaces and backslashes out of CSS and JS string contexts.
_SAFE = "/-._~!$&*+,;=:@"


@dataclass(frozen=True, slots=True)
class Target:
    """A reference resolved to a logical path, with what must survive the rewrite."""

    logical_path: str
    suffix: str  # query and fragment, kept verbatim ("?#iefix")
    root_relative: bool
    dot_slash: bool  # written as "./x": keep the prefix (JS requires it)


def _split_suffix(url: str) -> tuple[str, str]:
    cut = len(url)
    for mark in "?#":
        pos = url.find(mark)
        if pos != -1:
            cut = min(cut, pos)
    return url[:cut], url[cut:]


def resolve(
    referrer: str,
    ref: Reference,
    base_path: str,
    known: Collection[str],
) -> Target | None:
    """The target of ``ref`` in ``referrer``, or None when the URL is not ours to rewrite.

    Raises EscapesSource for a URL that climbs out of SRC and BrokenReference for one naming a file that
    is not in the build.
    """
    if ref.kind is Kind.PAGE_RELATIVE:
        return None  # resolved against the page, which the build does not know: left as written
    url = ref.url.strip()
    if not url or url.startswith("#") or url.startswith("//") or _SCHEME.match(url):
        return None
    is_js = ref.kind in (Kind.MODULE, Kind.DYNAMIC)
    root_relative = url.startswith("/")
    if is_js and not (root_relative or url.startswith("./") or url.startswith("../")):
        return None  # a bare specifier, resolved by an import map or a bundler, not by us
    path, suffix = _split_suffix(url)
    if not path:
        return None
    decoded = unquote(path)
    if root_relative:
        if not decoded.startswith(base_path):
            return None  # another part of the site, not served from OUT
        joined = decoded[len(base_path) :]
    else:
        joined = posixpath.join(posixpath.dirname(referrer), decoded)
    if "\\" in joined or "\0" in joined:
        raise BrokenReference(
            f"unsupported character in reference {ref.url!r}", path=referrer, line=ref.line, column=ref.column
        )
    normal = posixpath.normpath(joined) if joined else ""
    if normal.startswith("../") or normal == ".." or normal.startswith("/"):
        raise EscapesSource(
            f"reference {ref.url!r} resolves outside the source root; it is never read",
            path=referrer,
            line=ref.line,
            column=ref.column,
        )
    if normal not in known:
        hint = _suggestion(normal, known, is_js)
        raise BrokenReference(
            f"broken reference {ref.url!r}: no file {normal!r} in the source root",
            path=referrer,
            line=ref.line,
            column=ref.column,
            hint=hint,
        )
    return Target(normal, suffix, root_relative, url.startswith("./"))


def _suggestion(missing: str, known: Collection[str], is_js: bool) -> str | None:
    """The did-you-mean of a broken reference: for an import written for a bundler (``./util``), the
    file a bundler would pick (``./util.js``, ``./util/index.js``), else the closest name."""
    if is_js:
        for candidate in (f"{missing}.js", f"{missing}.mjs", f"{missing}/index.js", f"{missing}/index.mjs"):
            if candidate in known:
                return f"did you mean {candidate!r}?"
    import difflib  # only for an error's did-you-mean: not at start-up

    close = difflib.get_close_matches(missing, list(known), n=1, cutoff=0.75)
    return f"did you mean {close[0]!r}?" if close else None


def new_url(referrer: str, target: Target, output_path: str, base_path: str) -> str:
    """The URL to write in place of the original, in the same style (relative stays relative)."""
    if target.root_relative:
        return base_path + quote(output_path, safe=_SAFE) + target.suffix
    rel = posixpath.relpath(output_path, posixpath.dirname(referrer) or ".")
    if target.dot_slash and not rel.startswith("../"):
        rel = "./" + rel
    return quote(rel, safe=_SAFE) + target.suffix
