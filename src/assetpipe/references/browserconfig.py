"""Find the tile images a ``browserconfig.xml`` names (Windows' pinned-site tiles), with an XML parser.

References: the ``src`` of ``<square70x70logo>``, ``<square150x150logo>``, ``<wide310x150logo>``,
``<square310x310logo>`` and ``<TileImage>`` (names matched case-insensitively). Notification and badge
``polling-uri`` addresses are endpoints of the application, not files, and stay as written.
"""

from __future__ import annotations

from assetpipe.asset import Kind, Reference
from assetpipe.references import markup
from assetpipe.references.text import LineIndex

_TILES = frozenset(
    {"square70x70logo", "square150x150logo", "wide310x150logo", "square310x310logo", "tileimage"}
)


def find(text: str) -> tuple[Reference, ...]:
    """Every tile image's URL in ``text``, in order of appearance."""
    lines = LineIndex(text)
    found: list[Reference] = []
    for element in markup.parse(text, lambda namespace, name: False, frozenset({"src"})):
        if element.namespace or element.name.lower() not in _TILES:
            continue
        for attribute in element.attributes:
            if attribute.name == "src" and (ref := markup.attribute_url(attribute, text, lines, Kind.URL)):
                found.append(ref)
    return tuple(found)


def escape(text: str, ref: Reference, url: str) -> str:
    """``url`` as it must be written in an attribute value."""
    return markup.escape_attribute(url)
