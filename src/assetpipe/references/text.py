"""Text helpers shared by the scanners: decoding with a useful error, and offsets to line:column."""

from __future__ import annotations

import bisect
import codecs
import posixpath
import re

from assetpipe.errors import InvalidEncoding

# ECMA-426's "match a Source Map URL in a comment", ^[@#]\s*sourceMappingURL=(\S*?)\s*$, applied to a
# comment's text (match with the comment's end as endpos), with JavaScript's \s rather than Python's.
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
SOURCE_MAP_COMMENT = re.compile(f"[@#][{JS_SPACE}]*sourceMappingURL=([^{JS_SPACE}]*)[{JS_SPACE}]*\\Z")


# SVG icon sets hold old files in other 8-bit encodings. One that holds none of the words a reference
# needs (svg.find's own quick test) cannot refer, so it is decoded as Latin-1, which maps every byte to
# one character: its references are found (none), and the build copies its bytes as they are.
_MAY_REFER = {".svg": (b"href", b"url(", b"@import", b"&")}


# What an 8-bit stylesheet or SVG may declare its encoding with: CSS's @charset (exactly at the start, as
# the spec has it) and the XML declaration.
_XML_DECLARATION = re.compile(
    rb"""\A(?:\xef\xbb\xbf)?<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z][\w.:-]*)["']"""
)
_DECLARATIONS = {
    ".css": re.compile(rb'\A@charset "([A-Za-z][\w.:-]*)";'),
    ".svg": _XML_DECLARATION,
    ".xml": _XML_DECLARATION,
}
_ASCII = bytes(range(128))


def declared_encoding(data: bytes, logical_path: str) -> str | None:
    """The encoding a stylesheet (``@charset``) or an SVG/XML file (its XML declaration) declares, when it
    is one Python knows that reads ASCII as ASCII and is not UTF-8; else None."""
    pattern = _DECLARATIONS.get(posixpath.splitext(logical_path)[1].lower())
    found = pattern.match(data) if pattern is not None else None
    if found is None:
        return None
    try:
        name = codecs.lookup(found.group(1).decode("ascii")).name
        ascii_compatible = _ASCII.decode(name) == _ASCII.decode("ascii")
    except (LookupError, UnicodeDecodeError, ValueError):
        return None
    return name if ascii_compatible and name != "utf-8" else None


def decode_source(data: bytes, logical_path: str) -> tuple[str, str]:
    """Decode a scanned file: (text, the encoding to write it back in). UTF-8, or the 8-bit encoding the
    file declares (``@charset "iso-8859-1";``, ``<?xml ... encoding="windows-1252"?>``), which older
    vendor stylesheets and icon sets use; else InvalidEncoding naming the file, line and byte offset."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        declared = declared_encoding(data, logical_path)
        if declared is not None:
            try:
                return data.decode(declared), declared
            except UnicodeDecodeError:
                pass  # not even in the encoding it declares: the UTF-8 error below names the byte
        words = _MAY_REFER.get(logical_path[logical_path.rfind(".") :].lower())
        if words is not None and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            low = data.lower()
            if not any(word in low for word in words):
                return data.decode("latin-1"), "latin-1"
        line = data.count(b"\n", 0, exc.start) + 1
        raise InvalidEncoding(
            f"not valid UTF-8 at byte offset {exc.start} (byte 0x{data[exc.start]:02x})",
            path=logical_path,
            line=line,
            hint="save the file as UTF-8, or declare its encoding (@charset, <?xml encoding=...?>)",
        ) from None


def decode_utf8(data: bytes, logical_path: str) -> str:
    """The text of a scanned file (see :func:`decode_source`)."""
    return decode_source(data, logical_path)[0]


class LineIndex:
    """Maps a character offset to a 1-based (line, column) in O(log lines)."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        starts = [0]
        pos = text.find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = text.find("\n", pos + 1)
        self._starts = starts

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self._starts, offset) - 1
        return index + 1, offset - self._starts[index] + 1
