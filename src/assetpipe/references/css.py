"""Find the URLs a stylesheet references, with a tokenizer rather than a regex.

Regex rewriters (Django's among them) crash on ``url( 'a.png' )``, miss bare strings in image-set() and
rewrite inside comments. Walking the text once, aware of comments, strings, escapes and the function
each token sits in, finds exactly: url() in every form, @import "x" / @import url(x), the strings directly
inside image-set() / -webkit-image-set(), and ``/*# sourceMappingURL=... */`` when, as ECMA-426 has it,
nothing but whitespace and comments follows it (one mid-stylesheet is a comment). Everything else, URLs in
comments and other strings included, is left alone. Malformed CSS never raises: like a browser, the
scanner recovers (an unterminated string or comment runs to the end of the file).
"""

from __future__ import annotations

import re

from assetpipe.asset import Kind, Reference
from assetpipe.references.text import SOURCE_MAP_COMMENT, LineIndex

_WS = " \t\n\r\f"
_IMAGE_SET = frozenset({"image-set", "-webkit-image-set"})
_HEX = "0123456789abcdefABCDEF"
# Runs the tokenizer may pass over in one step: no comment, string, at-rule, bracket, block end, escape or
# name start among them (digits are skipped: a name never starts with one). Megabyte utility stylesheets
# are mostly names and such runs, so regexes here instead of a loop per character.
_NAME_START = r"A-Za-z_\-\x80-\U0010ffff"
_NAME_CHAR = r"A-Za-z0-9_\-\x80-\U0010ffff"
_PLAIN = rf"[^\"'/@()}};\\{_NAME_START}]"
# ...and whole names that call no function and hold no escape (a property, a keyword, a unit): the bulk of
# any stylesheet, one step for a run of them instead of one loop turn each (half the scanning time of the
# benchmark's stylesheets). Outside any function a block or declaration end is plain too (it closes none).
_NAME = rf"[{_NAME_START}][{_NAME_CHAR}]*+(?![(\\])"
_SKIP_NESTED = re.compile(rf"(?:{_PLAIN}+|{_NAME})+")
_SKIP_TOP = re.compile(rf"(?:{_PLAIN}+|{_NAME}|[}};])+")
_NAME_RUN = re.compile(rf"[{_NAME_CHAR}]*")


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "-_" or ord(ch) > 0x7F


def _read_escape(text: str, i: int) -> tuple[str, int]:
    """Decode the CSS escape whose backslash is at ``i``; return (decoded, index after it)."""
    n = len(text)
    j = i + 1
    if j >= n:
        return "\ufffd", n
    if text[j] in _HEX:
        k = j
        while k < n and k - j < 6 and text[k] in _HEX:
            k += 1
        code = int(text[j:k], 16)
        if k < n and text[k] in _WS:
            k += 2 if text.startswith("\r\n", k) else 1
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return "\ufffd", k
        return chr(code), k
    return text[j], j + 1


def _read_string(text: str, i: int) -> tuple[str, int, int]:
    """Read the string whose quote is at ``i``: (decoded value, end of content, index after the string)."""
    quote = text[i]
    n = len(text)
    j = i + 1
    out: list[str] = []
    while j < n:
        ch = text[j]
        if ch == quote:
            return "".join(out), j, j + 1
        if ch == "\\":
            if j + 1 < n and text[j + 1] in "\n\r\f":
                # an escaped newline (CRLF counts as one) continues the string
                j += 3 if text.startswith("\r\n", j + 1) else 2
                continue
            decoded, j = _read_escape(text, j)
            out.append(decoded)
            continue
        if ch in "\n\r\f":
            return "".join(out), j, j  # bad string: ends at the newline (CR and FF are newlines too)
        out.append(ch)
        j += 1
    return "".join(out), n, n


def _skip_ws_and_comments(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        if text[i] in _WS:
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
        else:
            break
    return i


def find_css_references(text: str) -> tuple[Reference, ...]:
    """Every rewritable URL in ``text``, in order of appearance."""
    if "\\" not in text:
        # Nothing can refer without one of these words (escapes could spell them otherwise): skip the
        # tokenizer, which matters for multi-megabyte utility stylesheets that reference nothing.
        low = text.lower()
        if not any(word in low for word in ("url(", "@import", "image-set", "sourcemappingurl")):
            return ()
    refs: list[Reference] = []
    lines = LineIndex(text)
    n = len(text)
    stack: list[str] = []  # enclosing function names ("" for plain parentheses)
    source_map: tuple[str, int, int, int] | None = None  # url, start, end, index after the comment
    i = 0

    def add(url: str, start: int, end: int, kind: Kind) -> None:
        line, column = lines.position(start)
        refs.append(Reference(url=url, start=start, end=end, line=line, column=column, kind=kind))

    def take_url(body: int, kind: Kind) -> int | None:
        """Read the url( body at ``body``; record it, and return where scanning goes on (None: read
        ``url(`` as an ordinary function instead)."""
        found = _read_url(text, body)
        if found is None or isinstance(found, int):
            return found  # malformed quoted body, or the end of a bad-url token (nothing recorded)
        value, start, end, after = found
        add(value, start, end, kind)
        return after

    while i < n:
        run = (_SKIP_NESTED if stack else _SKIP_TOP).match(text, i)
        if run is not None:
            i = run.end()
            continue
        ch = text[i]
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            body_end = n if end == -1 else end
            match = SOURCE_MAP_COMMENT.match(text, i + 2, body_end) if end != -1 else None
            if match is not None:  # the last one, if only comments and whitespace follow it (ECMA-426)
                source_map = (match.group(1), match.start(1), match.end(1), end + 2)
            i = n if end == -1 else end + 2
        elif ch in "\"'":
            value, content_end, after = _read_string(text, i)
            if stack and stack[-1] in _IMAGE_SET:
                add(value, i + 1, content_end, Kind.URL)
            i = after
        elif ch == "@":
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            if text[i + 1 : j].lower() == "import":
                k = _skip_ws_and_comments(text, j)
                if k < n and text[k] in "\"'":
                    value, content_end, after = _read_string(text, k)
                    add(value, k + 1, content_end, Kind.IMPORT)
                    i = after
                    continue
                if text[k : k + 4].lower() == "url(":
                    after_url = take_url(k + 4, Kind.IMPORT)
                    if after_url is not None:
                        i = after_url
                        continue
            i = j
        elif ch == "(":
            stack.append("")
            i += 1
        elif ch == ")":
            if stack:
                stack.pop()
            i += 1
        elif ch == "}" or ch == ";":
            # a block or declaration end closes any function a malformed value left open
            stack.clear()
            i += 1
        elif (_is_name_char(ch) and not ch.isdigit()) or ch in "-\\":
            # an escape may start a name too: \75rl( is url(
            j = _NAME_RUN.match(text, i).end()  # type: ignore[union-attr]  # matches ""
            if j < n and text[j] == "\\":
                j, name = _read_name(text, i)
            else:
                name = text[i:j].lower()
            if j < n and text[j] == "(":
                if name == "url":
                    after_url = take_url(j + 1, Kind.URL)
                    if after_url is not None:
                        i = after_url
                        continue
                stack.append(name)
                i = j + 1
                continue
            i = j
        else:
            i += 1  # a "/" that starts no comment
    if source_map is not None and _skip_ws_and_comments(text, source_map[3]) == n:
        add(source_map[0], source_map[1], source_map[2], Kind.SOURCE_MAP)
        refs.sort(key=lambda r: r.start)
    return tuple(refs)


def _read_name(text: str, i: int) -> tuple[int, str]:
    """Read the name at ``i`` with its escapes decoded (``u\\72l(`` is ``url(``): (index after it, name)."""
    n = len(text)
    j = i
    chars: list[str] = []
    while j < n and (_is_name_char(text[j]) or text[j] == "\\"):
        if text[j] == "\\":
            decoded, j = _read_escape(text, j)
            chars.append(decoded)
        else:
            chars.append(text[j])
            j += 1
    return j, "".join(chars).lower()


def _read_url(text: str, i: int) -> tuple[str, int, int, int] | int | None:
    """Read a url( body starting just after the parenthesis: (value, start, end, index after ')').

    A quoted body that is not followed by ')' gives None: the tokenizer then reads ``url(`` as an
    ordinary function. An unquoted body with a quote, '(' or inner whitespace is a bad-url token, as in
    the CSS Syntax spec: the browser drops it up to the next ')' (escapes honoured), so its remnants are
    skipped and the index after them returned. Either way nothing is rewritten.
    """
    n = len(text)
    j = i
    while j < n and text[j] in _WS:
        j += 1
    if j < n and text[j] in "\"'":
        value, content_end, after = _read_string(text, j)
        k = _skip_ws_and_comments(text, after)
        if k < n and text[k] == ")":
            return value, j + 1, content_end, k + 1
        return None
    start = j
    out: list[str] = []
    while j < n:
        ch = text[j]
        if ch == ")":
            return "".join(out), start, j, j + 1
        if ch in _WS:
            end = j
            k = j
            while k < n and text[k] in _WS:
                k += 1
            if k < n and text[k] == ")":
                return "".join(out), start, end, k + 1
            return _bad_url_end(text, k)
        if ch in "\"'(":
            return _bad_url_end(text, j)
        if ch == "\\":
            decoded, j = _read_escape(text, j)
            out.append(decoded)
            continue
        out.append(ch)
        j += 1
    return None


def _bad_url_end(text: str, i: int) -> int:
    """Index after the remnants of a bad url: up to and including the next ')', skipping escapes."""
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == ")":
            return i + 1
        if ch == "\\":
            _, i = _read_escape(text, i)
            continue
        i += 1
    return n


find = find_css_references


def context(text: str, ref: Reference) -> str:
    """How ``ref`` is written: ``"comment"`` (a source map), ``'"'`` or ``"'"`` (quoted), ``""`` (bare)."""
    if ref.kind is Kind.SOURCE_MAP:
        return "comment"
    before = text[ref.start - 1] if ref.start else ""
    return before if before in "\"'" else ""


def escape_in(where: str, url: str) -> str:
    """``url`` written so that it reads back as itself in the context ``where`` (see context())."""
    if where == "comment":
        return url.replace("*/", "*%2F")
    out: list[str] = []
    for ch in url:
        if ch == "\\" or ch == where or (not where and ch in "\"'()"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f" or (not where and ch == " "):
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return "".join(out)


def escape(text: str, ref: Reference, url: str) -> str:
    """``url`` as it must be written in ``ref``'s span of ``text``."""
    return escape_in(context(text, ref), url)
