"""XML for the scanners (svg.py, browserconfig.py): expat parses, and each value keeps its span in the text.

expat decides what the document is (well-formedness, namespaces, entities, attribute-value
normalisation); a small scan of the raw start tag then finds where each attribute's value is written,
so a reference can be spliced in place. Every value is decoded a second time from its raw text, with a
map from each decoded character back to the raw text, and must equal what expat gave: a value that
cannot be mapped exactly is an error, never a guess.

Entity expansion is the classic XML attack. External entities are refused (nothing is ever fetched or
read), and so is an entity whose value names another entity, the only way to nest expansions ("billion
laughs"); internal entities with plain values, which editors such as Illustrator write into SVG
(``<!ENTITY ns_svg "http://www.w3.org/2000/svg">``), are expanded as browsers do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from xml.parsers import expat

from assetpipe.asset import Kind, Reference
from assetpipe.errors import MalformedSource
from assetpipe.references.text import LineIndex

_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
_NAME = r"[^\s/>=\"']+"
_TAG_NAME = re.compile(r"<(" + _NAME + ")")
_ATTRIBUTE = re.compile(r"\s+(" + _NAME + r")\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_REFERENCE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[^\s;&]+);")
_MAX_ENTITY_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Decoded:
    """A value as the parser gives it, and for each of its characters where it is written in the text.

    ``starts[i]``/``ends[i]`` are the raw span that produced decoded character ``i`` (an entity's whole
    reference for each character it expands to).
    """

    value: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    raw_end: int

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """The raw span of decoded ``[start, end)``, or None when it cuts through an entity's expansion."""
        if start == end:
            at = self.starts[start] if start < len(self.starts) else self.raw_end
            return at, at
        raw_start, raw_end = self.starts[start], self.ends[end - 1]
        if start > 0 and self.starts[start - 1] == raw_start:
            return None
        if end < len(self.ends) and self.ends[end] == raw_end:
            return None
        return raw_start, raw_end


@dataclass(frozen=True, slots=True)
class Attribute:
    """``name`` is ``"<namespace URI> <local>"`` for a prefixed attribute, the bare name otherwise."""

    name: str
    value: Decoded
    quote: str


@dataclass(frozen=True, slots=True)
class Content:
    """The text of an element (children's markup excluded), and whether each character sat in CDATA."""

    value: Decoded
    cdata: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class Element:
    namespace: str
    name: str
    attributes: tuple[Attribute, ...]
    content: Content | None  # only for the elements the caller asked the text of


def parse(
    text: str, wants_text: Callable[[str, str], bool], attributes: frozenset[str] = frozenset()
) -> list[Element]:
    """Every element of the document, in order, with those of its ``attributes`` (names as in Attribute)
    it has, and its text if ``wants_text(namespace, name)``; MalformedSource for a document that is not
    XML. Only the attributes asked for are mapped: an SVG font's glyph outlines are never walked."""
    data = text.encode("utf-8", "surrogatepass")
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.ordered_attributes = True
    parser.specified_attributes = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    entities: dict[str, str] = {}
    elements: list[Element] = []
    tag_starts: list[int] = []  # where each element's start tag is, by index in elements
    open_elements: list[tuple[int, list[str]] | None] = []  # per open element: its index and text, if wanted
    offsets = _Offsets(data, text)

    def on_entity(name: str, is_parameter: bool, value: str | None, *_: object) -> None:
        if value is None:
            raise MalformedSource(f"external entity {name!r} refused: nothing outside the file is read")
        if "&" in value or "%" in value or len(value) > _MAX_ENTITY_CHARS:
            raise MalformedSource(f"entity {name!r} refers to other entities or is too long: refused")
        if "<" in value:  # elements written by an entity have no place in the file to rewrite
            raise MalformedSource(f"entity {name!r} holds markup: refused")
        if not is_parameter:
            entities[name] = value

    def on_start(qualified: str, attrs: list[str]) -> None:
        namespace, _, name = qualified.rpartition(" ")
        at = offsets.char(parser.CurrentByteIndex)
        found = _attributes(text, at, attrs, entities, attributes) if attrs else ()
        elements.append(Element(namespace, name, found, None))
        tag_starts.append(at)
        open_elements.append((len(elements) - 1, []) if wants_text(namespace, name) else None)

    def on_text(data: str) -> None:
        entry = open_elements[-1] if open_elements else None
        if entry is not None:
            entry[1].append(data)

    def on_end(_: str) -> None:
        entry = open_elements.pop()
        if entry is None:
            return
        index, parts = entry
        element = elements[index]
        raw_start = _start_tag_end(text, tag_starts[index])
        raw_end = max(raw_start, offsets.char(parser.CurrentByteIndex))  # equal for an empty <style/>
        content = _decode_content(text, raw_start, raw_end, entities)
        if content is None or content.value.value != "".join(parts):
            raise MalformedSource(
                f"the text of <{element.name}> uses markup or entities that cannot be mapped back to the file"
            )
        elements[index] = Element(element.namespace, element.name, element.attributes, content)

    parser.EntityDeclHandler = on_entity
    parser.StartElementHandler = on_start
    parser.CharacterDataHandler = on_text
    parser.EndElementHandler = on_end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        message = expat.errors.messages[exc.code] if exc.code else str(exc)
        raise MalformedSource(
            f"not well-formed XML: {message}", line=exc.lineno, column=exc.offset + 1
        ) from None
    except MalformedSource as exc:
        if exc.line is None:
            exc.line, exc.column = parser.CurrentLineNumber, parser.CurrentColumnNumber + 1
        raise
    except RecursionError:
        raise MalformedSource("nested too deeply to parse") from None
    return elements


class _Offsets:
    """Byte offsets in the UTF-8 text -> character offsets, walking forward (expat reports in order)."""

    def __init__(self, data: bytes, text: str) -> None:
        self._data = data
        self._ascii = len(data) == len(text)
        self._byte = 0
        self._char = 0

    def char(self, byte: int) -> int:
        if self._ascii:
            return byte
        if byte < self._byte:  # not expected; recount from the start
            self._byte = self._char = 0
        self._char += len(self._data[self._byte : byte].decode("utf-8", "surrogatepass"))
        self._byte = byte
        return self._char


def _start_tag_end(text: str, at: int) -> int:
    """Index after the ``>`` of the start tag at ``at``."""
    m = _TAG_NAME.match(text, at)
    pos = m.end() if m else at + 1
    while True:
        attr = _ATTRIBUTE.match(text, pos)
        if attr is None:
            break
        pos = attr.end()
    close = text.find(">", pos)
    return len(text) if close == -1 else close + 1


def _attributes(
    text: str, at: int, parsed: list[str], entities: dict[str, str], wanted: frozenset[str]
) -> tuple[Attribute, ...]:
    """The ``wanted`` attributes of the start tag at ``at``, located by pairing the tag's attributes in
    order with expat's (which leaves out the xmlns ones)."""
    names, values = parsed[0::2], parsed[1::2]
    if not any(name in wanted for name in names):
        return ()
    m = _TAG_NAME.match(text, at)
    if m is None:
        raise MalformedSource("an element's start tag could not be located in the file")
    raw: list[tuple[str, int, int, str]] = []
    pos = m.end()
    while (attr := _ATTRIBUTE.match(text, pos)) is not None:
        name = attr.group(1)
        quote = '"' if attr.group(2) is not None else "'"
        group = 2 if quote == '"' else 3
        if name != "xmlns" and not name.startswith("xmlns:"):
            raw.append((name, attr.start(group), attr.end(group), quote))
        pos = attr.end()
    if len(raw) != len(names):
        raise MalformedSource("attributes could not be located in the start tag")
    out: list[Attribute] = []
    for name, value, (_raw_name, start, end, quote) in zip(names, values, raw, strict=True):
        if name not in wanted:
            continue
        decoded = _decode(text, start, end, entities, attribute=True)
        if decoded is None or decoded.value != value:
            raise MalformedSource(f"attribute {name.rpartition(' ')[2]!r} cannot be mapped back to the file")
        out.append(Attribute(name, decoded, quote))
    return tuple(out)


def _decode(text: str, start: int, end: int, entities: dict[str, str], *, attribute: bool) -> Decoded | None:
    """Decode raw attribute text (references, whitespace normalisation) with its character map."""
    value: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    try:
        _decode_into(text, start, end, entities, attribute, value, starts, ends, [], False)
    except (_Unmappable, ValueError, OverflowError):
        return None
    return Decoded("".join(value), tuple(starts), tuple(ends), end)


def _decode_into(
    text: str,
    start: int,
    end: int,
    entities: dict[str, str],
    attribute: bool,
    value: list[str],
    starts: list[int],
    ends: list[int],
    cdata: list[bool],
    in_cdata: bool,
) -> None:
    i = start
    while i < end:
        ch = text[i]
        if ch == "&":
            m = _REFERENCE.match(text, i, end)
            if m is None:
                raise _Unmappable
            expansion = _expand(m.group(1), entities)
            if attribute:
                expansion = (
                    re.sub(r"[\t\n\r]", " ", expansion) if not m.group(1).startswith("#") else expansion
                )
            for c in expansion:
                value.append(c)
                starts.append(i)
                ends.append(m.end())
                cdata.append(in_cdata)
            i = m.end()
            continue
        if ch == "\r":
            step = 2 if text.startswith("\r\n", i) else 1
            value.append(" " if attribute else "\n")
            starts.append(i)
            ends.append(i + step)
            cdata.append(in_cdata)
            i += step
            continue
        value.append(" " if attribute and ch in "\t\n" else ch)
        starts.append(i)
        ends.append(i + 1)
        cdata.append(in_cdata)
        i += 1


class _Unmappable(Exception):
    pass


def _expand(reference: str, entities: dict[str, str]) -> str:
    if reference.startswith("#x"):
        return chr(int(reference[2:], 16))
    if reference.startswith("#"):
        return chr(int(reference[1:]))
    if reference in _PREDEFINED:
        return _PREDEFINED[reference]
    if reference in entities:
        return entities[reference]
    raise _Unmappable


def _decode_content(text: str, start: int, end: int, entities: dict[str, str]) -> Content | None:
    """Decode an element's raw content: text, references, CDATA sections; comments and PIs dropped."""
    value: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cdata: list[bool] = []
    i = start
    try:
        while i < end:
            lt = text.find("<", i, end)
            stop = end if lt == -1 else lt
            _decode_into(text, i, stop, entities, False, value, starts, ends, cdata, False)
            if lt == -1:
                break
            if text.startswith("<![CDATA[", lt):
                close = text.find("]]>", lt + 9, end)
                if close == -1:
                    return None
                _decode_cdata(text, lt + 9, close, value, starts, ends, cdata)
                i = close + 3
            elif text.startswith("<!--", lt):
                close = text.find("-->", lt + 4, end)
                if close == -1:
                    return None
                i = close + 3
            elif text.startswith("<?", lt):
                close = text.find("?>", lt + 2, end)
                if close == -1:
                    return None
                i = close + 2
            else:
                return None  # a child element: its text is not the element's own
    except (_Unmappable, ValueError, OverflowError):
        return None
    return Content(Decoded("".join(value), tuple(starts), tuple(ends), end), tuple(cdata))


def _decode_cdata(
    text: str, start: int, end: int, value: list[str], starts: list[int], ends: list[int], cdata: list[bool]
) -> None:
    i = start
    while i < end:
        if text[i] == "\r":
            step = 2 if text.startswith("\r\n", i) else 1
            value.append("\n")
            starts.append(i)
            ends.append(i + step)
            i += step
        else:
            value.append(text[i])
            starts.append(i)
            ends.append(i + 1)
            i += 1
        cdata.append(True)


def escape_attribute(url: str) -> str:
    """``url`` written inside a quoted attribute value (either quote)."""
    return (
        url.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def escape_text(url: str, *, cdata: bool) -> str:
    """``url`` written in element text, in or outside a CDATA section."""
    if cdata:
        return url.replace("]]>", "]]]]><![CDATA[>")
    return url.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


_URL_SPACE = "".join(chr(c) for c in range(0x21))  # what URL parsing strips from both ends: C0 and space


def attribute_url(attribute: Attribute, text: str, lines: LineIndex, kind: Kind) -> Reference | None:
    """The URL an attribute holds as a reference (its value without the ends URL parsing strips)."""
    value = attribute.value.value
    url = value.strip(_URL_SPACE)
    if not url:
        return None
    start = len(value) - len(value.lstrip(_URL_SPACE))
    span = attribute.value.span(start, start + len(url))
    if span is None:
        line, column = lines.position(attribute.value.starts[start])
        raise MalformedSource(
            "a URL partly written by an entity cannot be rewritten", line=line, column=column
        )
    line, column = lines.position(span[0])
    return Reference(url, span[0], span[1], line, column, kind)


def relocate(ref: Reference, decoded: Decoded, lines: LineIndex) -> Reference:
    """A reference found in a decoded value, moved to where it is written in the file."""
    span = decoded.span(ref.start, ref.end)
    if span is None:
        at = decoded.starts[ref.start] if ref.start < len(decoded.starts) else decoded.raw_end
        line, column = lines.position(at)
        raise MalformedSource(
            "a URL partly written by an entity cannot be rewritten", line=line, column=column
        )
    line, column = lines.position(span[0])
    return Reference(ref.url, span[0], span[1], line, column, ref.kind)
