"""Find the module specifiers and asset URLs an ES module references.

A small lexer (comments, strings, template literals with nested ``${}``, regex literals told apart from
division by the previous token) produces tokens; references are recognised only in statement shapes:
``import ... from "x"``, ``import "x"``, ``export * from "x"``, ``export {...} from "x"``, ``import("x")``
and ``import.meta.resolve("x")`` with one string literal, ``new URL("x", import.meta.url)`` (which is how
``new Worker``, ``new SharedWorker`` and ``navigator.serviceWorker.register`` name a module-relative
script), and the source-map comment as ECMA-426 defines it: the last ``//# sourceMappingURL=`` (or ``//@``,
or a ``/*# ... */``) comment followed by nothing but comments and whitespace, code before it on its line
allowed. ``new Worker("w.js")`` with a plain string is resolved against the page, not the module: it is
recorded as ``Kind.PAGE_RELATIVE`` (never rewritten; the build warns). A specifier in any other string,
comment or template is never touched. Malformed input never raises.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from assetpipe.asset import Kind, Reference
from assetpipe.references.text import JS_SPACE as _JS_SPACE
from assetpipe.references.text import SOURCE_MAP_COMMENT as _SOURCE_MAP
from assetpipe.references.text import LineIndex

_IDENT_START = re.compile(r"[A-Za-z_$\u0080-\uffff]")
# A string's body up to its closing quote; an escape (a CRLF continuation included) never ends it, a bare
# line end does (unterminated: stop there; U+2028/9 are allowed inside strings). Regexes, not a char loop:
# vendor icon bundles hold megabytes of string data.
_STRING_BODY = {q: re.compile(r"(?:[^" + q + r"\\\r\n]|\\\r\n|\\[\s\S])*") for q in "\"'"}
_WHITESPACE = re.compile(r"[ \t\r\n\u00a0\ufeff\u2028\u2029]+")
_IDENT = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER = re.compile(r"\.?[0-9][0-9A-Za-z_.]*")
# After these keywords a '/' starts a regular expression, not a division.
_REGEX_AFTER_WORDS = frozenset(
    {
        "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do",
        "else", "yield", "await",
    }
)  # fmt: skip
_ASCII_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
# Punctuators with no effect on the lexer's state ('/', '.', brackets, quotes and parens have one).
_PLAIN_PUNCT = frozenset(",;:=+-*%&|^!~?<>[]")
# Punctuators after which a "{" opens an object literal ("(" also stands for a template's "${").
_EXPRESSION_BEFORE_BRACE = frozenset("(,=:+-*/%&|^!~?<>[")
_LINE_ENDS = "\n\r\u2028\u2029"
_LINE_END = re.compile("[\n\r\u2028\u2029]")
_CONDITION_WORDS = frozenset({"if", "while", "for", "with"})
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


class _Token(NamedTuple):
    """A tuple, not a dataclass: a minified bundle makes hundreds of thousands of them."""

    kind: str  # "name", "string", "punct", "template", "regex", "number"
    text: str  # identifier or punctuator; decoded value for strings
    start: int  # for strings: start of the content (after the quote)
    end: int  # for strings: end of the content (before the quote)


def _decode_js_string(raw: str) -> str:
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", raw[i + 2 : i + 4]):
            out.append(chr(int(raw[i + 2 : i + 4], 16)))
            i += 4
        elif nxt == "u" and raw.startswith("{", i + 2):
            close = raw.find("}", i + 3)
            digits = raw[i + 3 : close] if close != -1 else ""
            if re.fullmatch(r"[0-9a-fA-F]{1,6}", digits) and int(digits, 16) <= 0x10FFFF:
                out.append(chr(int(digits, 16)))
                i = close + 1
            else:
                out.append(nxt)
                i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2 : i + 6]):
            out.append(chr(int(raw[i + 2 : i + 6], 16)))
            i += 6
        elif nxt == "\r" and raw.startswith("\n", i + 2):
            i += 3  # a line continuation with a CRLF ending
        elif nxt in _LINE_ENDS:
            i += 2
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.tokens: list[_Token] = []
        # The last source-map comment so far: (url, start, end, number of tokens before it). It is the
        # file's link only if no token follows it.
        self.source_map: tuple[str, int, int, int] | None = None
        # For each open "(": whether it follows if/while/for/with, whose ")" ends a condition, after which
        # a "/" starts a regular expression (``if (x) /re/.test(y)``), unlike after a call's ")".
        self._parens: list[bool] = []
        self._condition_ends: set[int] = set()  # indices of tokens that are such a ")"
        # For each open "{": whether it starts an expression (an object literal, ``x = {a: 1} / 2``), whose
        # "}" is followed by a division, unlike a block's (``if (x) {} /re/.test(y)``).
        self._braces: list[bool] = []
        self._object_ends: set[int] = set()  # indices of "}" tokens that close an object literal

    def _source_map_comment(self, start: int, end: int) -> None:
        m = _SOURCE_MAP.match(self.text, start, end)  # anchored: fails at once unless it starts "#" or "@"
        if m is not None:
            self.source_map = (m.group(1), m.start(1), m.end(1), len(self.tokens))

    def source_map_link(self) -> tuple[str, int, int] | None:
        """ECMA-426, through parsing: the last comment's URL when only comments follow it."""
        if self.source_map is None or self.source_map[3] != len(self.tokens):
            return None
        return self.source_map[:3]

    def _regex_allowed(self) -> bool:
        if not self.tokens:
            return True
        last = self.tokens[-1]
        if last.kind in ("string", "template", "regex", "number"):
            return False
        if last.kind == "name":
            return last.text in _REGEX_AFTER_WORDS
        if last.text == ")":
            return len(self.tokens) - 1 in self._condition_ends
        if last.text == "}":
            return len(self.tokens) - 1 not in self._object_ends
        if last.text in "+-" and len(self.tokens) >= 2:
            before = self.tokens[-2]
            if before.kind == "punct" and before.text == last.text and before.end == last.start:
                return False  # postfix ``a++ / 2`` divides
        return last.text != "]"

    def _expression_expected(self) -> bool:
        """Whether a "{" here opens an object literal rather than a block.

        After an operator, an opening bracket, a comma or an operator keyword an expression follows; after
        ``)``, ``=>``, ``;``, another brace, a label's or a case's ``:`` or at the start, a block does. A
        ``:`` is read as an object's (``{a: {}}``, ``c ? {} : {}``): a labelled block followed by a regex
        is far rarer than a nested object followed by a division.
        """
        if not self.tokens:
            return False
        last = self.tokens[-1]
        if last.kind == "name":
            return last.text in _REGEX_AFTER_WORDS and last.text not in ("do", "else")
        if last.kind != "punct":
            return False
        if last.text == ">" and len(self.tokens) >= 2:
            before = self.tokens[-2]
            if before.text == "=" and before.end == last.start:
                return False  # an arrow function's body
        return last.text in _EXPRESSION_BEFORE_BRACE

    def _skip_string(self, i: int) -> int:
        """Index of the closing quote (or of the line end of an unterminated string, or the text's end)."""
        m = _STRING_BODY[self.text[i]].match(self.text, i + 1)
        assert m is not None  # the pattern matches the empty string
        return min(m.end(), self.n)

    def _skip_regex(self, i: int) -> int:
        j = i + 1
        in_class = False
        text, n = self.text, self.n
        while j < n:
            ch = text[j]
            if ch == "\\":
                j += 2
                continue
            if ch in _LINE_ENDS:
                return j
            if in_class:
                if ch == "]":
                    in_class = False
            elif ch == "[":
                in_class = True
            elif ch == "/":
                j += 1
                m = _IDENT.match(text, j)
                return m.end() if m else j
            j += 1
        return n

    def run(self) -> None:
        text, n = self.text, self.n
        brace_stack: list[str] = []  # "{" for code blocks, "${" for template substitutions
        i = 0
        template_resume = False
        while i < n:
            if template_resume:
                i = self._template_body(i, brace_stack)
                template_resume = False
                continue
            ch = text[i]
            # The two commonest cases first: names and plain punctuators (most of a minified bundle).
            if ch in _ASCII_NAME_START:
                end = _IDENT.match(text, i + 1).end()  # type: ignore[union-attr]  # matches ""
                self.tokens.append(_Token("name", text[i:end], i, end))
                i = end
            elif ch in _PLAIN_PUNCT:
                self.tokens.append(_Token("punct", ch, i, i + 1))
                i += 1
            elif ch in " \t\r\n\u00a0\ufeff\u2028\u2029":
                m_ws = _WHITESPACE.match(text, i)
                i = m_ws.end() if m_ws else i + 1
            elif ch == "/" and text.startswith("//", i):
                m_end = _LINE_END.search(text, i)
                end = n if m_end is None else m_end.start()  # a lone CR ends a comment too
                self._source_map_comment(i + 2, end)
                i = end
            elif ch == "/" and text.startswith("/*", i):
                end = text.find("*/", i + 2)
                if end != -1:  # an unclosed comment is no comment token (a syntax error)
                    self._source_map_comment(i + 2, end)
                i = n if end == -1 else end + 2
            elif ch == "/" and self._regex_allowed():
                end = self._skip_regex(i)
                self.tokens.append(_Token("regex", "", i, end))
                i = end
            elif ch in "\"'":
                close = self._skip_string(i)
                raw = text[i + 1 : close]
                self.tokens.append(_Token("string", _decode_js_string(raw), i + 1, close))
                i = close + 1
            elif ch == "`":
                self.tokens.append(_Token("template", "", i, i))
                i = self._template_body(i + 1, brace_stack)
            elif ch == "{":
                brace_stack.append("{")
                self._braces.append(self._expression_expected())
                self.tokens.append(_Token("punct", "{", i, i + 1))
                i += 1
            elif ch == "}":
                if brace_stack and brace_stack[-1] == "${":
                    brace_stack.pop()
                    template_resume = True
                    i += 1
                    continue
                if brace_stack:
                    brace_stack.pop()
                if self._braces and self._braces.pop():
                    self._object_ends.add(len(self.tokens))
                self.tokens.append(_Token("punct", "}", i, i + 1))
                i += 1
            elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
                m = _NUMBER.match(text, i)
                end = m.end() if m else i + 1
                self.tokens.append(_Token("number", "", i, end))
                i = end
            elif _IDENT_START.match(ch) or ch == "\\":
                m = _IDENT.match(text, i + 1)
                end = m.end() if m else i + 1
                self.tokens.append(_Token("name", text[i:end], i, end))
                i = end
            elif ch == "#":
                m = _IDENT.match(text, i + 1)
                end = m.end() if m else i + 1
                self.tokens.append(_Token("name", text[i:end], i, end))
                i = end
            else:
                if ch == "(":
                    prev = self.tokens[-1] if self.tokens else None
                    self._parens.append(
                        prev is not None and prev.kind == "name" and prev.text in _CONDITION_WORDS
                    )
                elif ch == ")" and self._parens and self._parens.pop():
                    self._condition_ends.add(len(self.tokens))
                self.tokens.append(_Token("punct", ch, i, i + 1))
                i += 1

    def _template_body(self, i: int, brace_stack: list[str]) -> int:
        """Skip template text from ``i``; stop after the closing backtick or at a ``${``."""
        text, n = self.text, self.n
        while i < n:
            ch = text[i]
            if ch == "\\":
                i += 2
            elif ch == "`":
                self.tokens.append(_Token("template", "", i, i + 1))
                return i + 1
            elif ch == "$" and text.startswith("${", i):
                brace_stack.append("${")
                self.tokens.append(_Token("punct", "(", i, i + 2))  # a substitution acts as an expression
                return i + 2
            else:
                i += 1
        return n


def _skip_group(tokens: list[_Token], i: int) -> int:
    """Index after the ``}`` matching the ``{`` at ``i``, or -1."""
    depth = 0
    for j in range(i, min(len(tokens), i + 10_000)):
        t = tokens[j].text if tokens[j].kind == "punct" else ""
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


def _from_clause(tokens: list[_Token], i: int) -> int:
    """After an import/export head, find ``from "x"``: index of the string token, or -1."""
    n = len(tokens)
    steps = 0
    while i < n and steps < 64:
        steps += 1
        t = tokens[i]
        if t.kind == "name" and t.text == "from" and i + 1 < n and tokens[i + 1].kind == "string":
            return i + 1
        if t.kind == "name" and t.text in ("import", "export"):
            return -1  # the next statement: "import \nimport x from 'y'" has one reference, not two
        if t.kind == "punct" and t.text == "{":
            i = _skip_group(tokens, i)
            if i == -1:
                return -1
            continue
        if t.kind == "name" or (t.kind == "punct" and t.text in ",*"):
            i += 1
            continue
        return -1
    return -1


def _literal_at(text: str, tokens: list[_Token], j: int) -> tuple[_Token, int] | None:
    """The string at token ``j`` (a quoted string, or a template literal with no substitution and no
    escapes, as in ``import(`./a.js`)``) as a string token, and the index of the token after it."""
    if j >= len(tokens):
        return None
    tok = tokens[j]
    if tok.kind == "string":
        return tok, j + 1
    if tok.kind != "template" or tok.start != tok.end or j + 1 >= len(tokens):
        return None
    close = tokens[j + 1]
    if close.kind != "template" or close.end != close.start + 1:
        return None  # a substitution follows: the specifier is computed at run time
    body = text[tok.start + 1 : close.start]
    if "\\" in body:
        return None
    return _Token("string", body, tok.start + 1, close.start), j + 2


def _call_argument(text: str, tokens: list[_Token], j: int) -> _Token | None:
    """The fixed string that is a call's whole first argument at token ``j`` (``(\"x\")`` or ``("x", ...)``);
    None when it is computed (``"./" + name``, a tagged template, a substitution)."""
    literal = _literal_at(text, tokens, j)
    if literal is None or literal[1] >= len(tokens):
        return None
    after = tokens[literal[1]]
    return literal[0] if after.kind == "punct" and after.text in (")", ",") else None


def _starts_statement(text: str, prev: _Token | None, tok: _Token) -> bool:
    """Whether ``tok`` can begin a top-level declaration: first, after ``;`` or ``}``, or on a new line.

    Static import/export are declarations, so ``a / import "x"`` (an error in any case) is not one.
    """
    if prev is None:
        return True
    if prev.kind == "punct" and prev.text in ";}":
        return True
    between = text[prev.end : tok.start]  # for a string this starts at its closing quote: harmless
    return any(mark in between for mark in _LINE_ENDS)


_META_URL_ARGUMENT = (",", "import", ".", "meta", ".", "url")
_META_RESOLVE = (".", "meta", ".", "resolve", "(")
_WORKERS = frozenset({"Worker", "SharedWorker"})
# Text that may start a reference: ``import`` before a specifier, a name, a brace, a star or a paren,
# ``import.meta.url`` (for ``new URL(..., import.meta.url)``), ``import.meta.resolve``, ``export`` before a
# brace or a star; a "/"
# admits a comment in between. The name after ``import`` is only looked at, not consumed: a rejected
# match must not swallow the start of the next one (``// re-import\nimport "./a.js"``). Never after a
# name character, "-", "." or a quote (checked by hand: a lookbehind would cost this search its literal
# prefix, 10x): icon bundles hold thousands of strings such as "file-import", and ``"a"import`` or
# ``-import`` are not statements.
_MODULE_SYNTAX = re.compile(
    r"import(?:\s*[\"'`({*/]|\s+(?=[A-Za-z_$\\\u0080-\uffff])|\s*\.\s*meta\s*\.\s*(?:url|resolve))"
    r"|export\s*[{*/]"
)
# A worker made from a plain string (for its warning); searched apart: in the pattern above, an alternative
# that does not start with import/export would cost it its literal prefix, and the search 10x.
_WORKER_CALL = re.compile(r"Worker\s*\(")
_NOT_BEFORE_KEYWORD = frozenset("$.'\"-_")


def _has_module_syntax(text: str) -> bool:
    for m in _MODULE_SYNTAX.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        if not (before.isalnum() or before in _NOT_BEFORE_KEYWORD):
            return True
    if "Worker" in text:
        for m in _WORKER_CALL.finditer(text):
            start = m.start() - 6 if text.startswith("Shared", m.start() - 6) else m.start()
            before = text[start - 1] if start else " "
            if not (before.isalnum() or before in _NOT_BEFORE_KEYWORD):
                return True
    return False


# One step of ECMA-426's "extract a Source Map URL from JavaScript without parsing" on one line: a
# // comment (the rest of the line), a closed /* */ comment, an unclosed one, the end, or code.
_LINE_STEP = re.compile(
    f"[{_JS_SPACE}]*(?://(?P<single>.*)|/\\*(?P<multi>.*?)\\*/|/\\*.*|\\Z|(?P<code>[^/]+|/))", re.DOTALL
)
_UNCHANGED = ("", -1, -1)  # a line of nothing but whitespace and non-matching comments


def _line_link(text: str, start: int, end: int) -> tuple[str, int, int] | None:
    """The line's effect on ECMA-426's lastURL: a link, None (code follows any link) or _UNCHANGED."""
    last: tuple[str, int, int] | None = _UNCHANGED
    pos = start
    while pos < end:
        m = _LINE_STEP.match(text, pos, end)
        assert m is not None  # one alternative always matches
        pos = m.end() if m.end() > pos else end
        group = "single" if m.start("single") != -1 else "multi" if m.start("multi") != -1 else ""
        if group:
            link = _SOURCE_MAP.match(text, m.start(group), m.end(group))
            if link is not None:
                last = (link.group(1), link.start(1), link.end(1))
        elif m.start("code") != -1:
            last = None
    return last


def _source_map_without_parsing(text: str) -> tuple[str, int, int] | None:
    """ECMA-426's extraction without parsing, walking lines from the end: the first line that sets or
    clears the link decides (a script's tail is short; its megabytes of code are never walked)."""
    ends = {c: text.rfind(c) for c in _LINE_ENDS}
    line_end = len(text)
    while True:
        line_start = max(ends.values()) + 1
        found = _line_link(text, line_start, line_end)
        if found is not _UNCHANGED:
            return found
        if line_start == 0:
            return None
        line_end = line_start - 1
        for c, at in ends.items():
            if at >= line_end:
                ends[c] = text.rfind(c, 0, line_end)


def _trailing_source_map(text: str) -> tuple[Reference, ...]:
    """The source-map link of a classic script, whose lexer is skipped.

    Without import/export a file holds no other reference, so the lexer is skipped: vendor bundles run to
    megabytes. ECMA-426 gives two methods that agree on every file a tool emits; this is the one that
    reads lines from the end instead of tokens from the start.
    """
    if "sourceMappingURL" not in text:
        return ()
    found = _source_map_without_parsing(text)
    if found is None:
        return ()
    url, start, end = found
    if any(quote in url for quote in "\"'`"):
        return ()  # the marker sits in a string literal, where parsing finds no comment: the methods disagree
    line, column = LineIndex(text).position(start)
    return (Reference(url, start, end, line, column, Kind.SOURCE_MAP),)


def find_js_references(text: str) -> tuple[Reference, ...]:
    """Every rewritable specifier or URL in ``text``, in order of appearance."""
    if not _has_module_syntax(text):
        return _trailing_source_map(text)  # a classic script: only its source-map comment can refer
    lexer = _Lexer(text)
    lexer.run()
    tokens = lexer.tokens
    lines = LineIndex(text)
    found: list[tuple[_Token, Kind]] = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        if tok.kind != "name":
            continue
        prev = tokens[i - 1] if i else None
        if prev is not None and prev.kind == "punct" and prev.text in (".", "?."):
            continue  # a property named import/export/URL
        nxt = tokens[i + 1] if i + 1 < n else None
        if nxt is None:
            continue
        if tok.text == "import":
            if nxt.kind == "string":
                if _starts_statement(text, prev, tok):
                    found.append((nxt, Kind.MODULE))
            elif nxt.kind == "punct" and nxt.text == "(":
                specifier = _call_argument(text, tokens, i + 2)
                if specifier is not None:
                    found.append((specifier, Kind.DYNAMIC))
            elif nxt.kind == "punct" and nxt.text == ".":
                if tuple(t.text for t in tokens[i + 1 : i + 6]) == _META_RESOLVE:
                    specifier = _call_argument(text, tokens, i + 6)
                    if specifier is not None:
                        found.append((specifier, Kind.DYNAMIC))
            elif (nxt.kind == "name" or (nxt.kind == "punct" and nxt.text in "{*")) and _starts_statement(
                text, prev, tok
            ):
                k = _from_clause(tokens, i + 1)
                if k != -1:
                    found.append((tokens[k], Kind.MODULE))
        elif (
            tok.text == "export"
            and nxt.kind == "punct"
            and nxt.text in "{*"
            and _starts_statement(text, prev, tok)
        ):
            k = _from_clause(tokens, i + 1)
            if k != -1:
                found.append((tokens[k], Kind.MODULE))
        elif (
            tok.text == "URL"
            and prev is not None
            and prev.kind == "name"
            and prev.text == "new"
            and nxt.kind == "punct"
            and nxt.text == "("
            and (literal := _literal_at(text, tokens, i + 2)) is not None
            and tuple(t.text for t in tokens[literal[1] : literal[1] + 6]) == _META_URL_ARGUMENT
        ):
            found.append((literal[0], Kind.URL))
        elif (
            tok.text in _WORKERS
            and prev is not None
            and prev.kind == "name"
            and prev.text == "new"
            and nxt.kind == "punct"
            and nxt.text == "("
            and (worker := _call_argument(text, tokens, i + 2)) is not None
        ):
            found.append((worker, Kind.PAGE_RELATIVE))
    refs: list[Reference] = []
    for tok, kind in found:
        line, column = lines.position(tok.start)
        refs.append(Reference(tok.text, tok.start, tok.end, line, column, kind))
    link = lexer.source_map_link()
    if link is not None:
        url, start, end = link
        line, column = lines.position(start)
        refs.append(Reference(url, start, end, line, column, Kind.SOURCE_MAP))
    return tuple(sorted(refs, key=lambda r: r.start))


find = find_js_references
_STRING_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def escape(text: str, ref: Reference, url: str) -> str:
    """``url`` as it must be written in ``ref``'s span of ``text``: inside the same quotes or template."""
    if ref.kind is Kind.SOURCE_MAP:
        return url.replace("*/", "*%2F")  # in a // comment nothing else can end it early
    quote = text[ref.start - 1] if ref.start else ""
    if quote not in "\"'`":
        return url
    out = "".join(_STRING_ESCAPES.get(ch, ch) for ch in url).replace(quote, "\\" + quote)
    return out.replace("${", "\\${") if quote == "`" else out
