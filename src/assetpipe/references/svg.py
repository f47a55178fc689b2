"""Find the files an SVG document references, with an XML parser (markup.py) rather than a regex.

References, in the SVG namespace: ``href`` (or ``xlink:href`` when there is no ``href``, as SVG 2 has it)
of ``<use>``, ``<image>`` and ``<feImage>``; ``url()`` (and ``@import``, ``image-set()``) in ``style``
attributes, in the presentation attributes that take a URL (``fill="url(paint.svg#g)"``, ``filter``,
``mask``, ...) and in ``<style>`` elements, found by the CSS scanner in the decoded text. Fragment-only
``#id`` links, the overwhelming majority, stay as they are (resolve.py). A document that is not
well-formed XML is an error naming the line and column: browsers refuse to render it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from assetpipe.asset import Kind, Reference
from assetpipe.errors import MalformedSource
from assetpipe.references import css, markup
from assetpipe.references.text import LineIndex

SVG = "http://www.w3.org/2000/svg"
XLINK_HREF = "http://www.w3.org/1999/xlink href"
_LINKING = frozenset({"use", "image", "feImage"})
# Presentation attributes whose value may be a url(): paint servers, filters, masks, clips, markers.
_URL_ATTRIBUTES = frozenset(
    {"fill", "stroke", "filter", "mask", "clip-path", "marker-start", "marker-mid", "marker-end", "cursor"}
)


@dataclass(frozen=True, slots=True)
class _Located:
    """A reference and how its span is written: in an attribute or in text (CDATA or not), and for one
    found by the CSS scanner, its CSS context (css.context())."""

    ref: Reference
    xml: str  # "attribute", "text" or "cdata"
    css: str | None


def find(text: str) -> tuple[Reference, ...]:
    """Every rewritable URL in the SVG document ``text``, in order of appearance."""
    low = text.lower()
    if "href" not in text and "url(" not in low and "@import" not in low and "&" not in text:
        # Nothing can refer (an entity could spell a name, so any "&" parses): icon sets hold thousands
        # of such files, and whether one is well-formed is then the browser's concern, not the build's.
        return ()
    return tuple(located.ref for located in _locate(text))


def escape(text: str, ref: Reference, url: str) -> str:
    """``url`` as it must be written in ``ref``'s span: CSS-escaped where it sits in CSS, then XML."""
    located = _by_start(text).get(ref.start)
    if located is None:  # not expected: the pipeline passes references found in this very text
        return markup.escape_attribute(url)
    written = css.escape_in(located.css, url) if located.css is not None else url
    if located.xml == "attribute":
        return markup.escape_attribute(written)
    return markup.escape_text(written, cdata=located.xml == "cdata")


@lru_cache(maxsize=2)
def _by_start(text: str) -> dict[int, _Located]:
    # escape() is called once per reference of one file in a row: parse that file once.
    return {located.ref.start: located for located in _locate(text)}


def _locate(text: str) -> list[_Located]:
    lines = LineIndex(text)
    found: list[_Located] = []
    wanted = _URL_ATTRIBUTES | {"href", XLINK_HREF, "style", "type"}
    for element in markup.parse(text, lambda namespace, name: namespace == SVG and name == "style", wanted):
        if element.namespace != SVG:
            continue
        attributes = {a.name: a for a in element.attributes}
        if element.name in _LINKING:
            href = attributes.get("href") or attributes.get(XLINK_HREF)
            if href is not None and (ref := markup.attribute_url(href, text, lines, Kind.URL)) is not None:
                found.append(_Located(ref, "attribute", None))
        for name, attribute in attributes.items():
            if name == "style" or name in _URL_ATTRIBUTES:
                found.extend(_in_css(attribute.value, None, lines))
        if element.name == "style" and element.content is not None:
            kind = attributes.get("type")
            if kind is None or kind.value.value.strip().lower() in ("", "text/css"):
                found.extend(_in_css(element.content.value, element.content.cdata, lines))
    found.sort(key=lambda located: located.ref.start)
    return found


def _in_css(decoded: markup.Decoded, cdata: tuple[bool, ...] | None, lines: LineIndex) -> list[_Located]:
    """References the CSS scanner finds in a decoded attribute value or <style> text."""
    out: list[_Located] = []
    for ref in css.find(decoded.value):
        if ref.kind is Kind.SOURCE_MAP:
            continue  # a source map of CSS inside an SVG document means nothing to a browser
        where = css.context(decoded.value, ref)
        placed = markup.relocate(ref, decoded, lines)
        if cdata is None:
            xml = "attribute"
        elif len(set(cdata[ref.start : ref.end])) > 1:
            raise MalformedSource(
                "a URL partly inside a CDATA section cannot be rewritten",
                line=placed.line,
                column=placed.column,
            )
        else:
            xml = "cdata" if ref.start < len(cdata) and cdata[ref.start] else "text"
        out.append(_Located(placed, xml, where))
    return out
