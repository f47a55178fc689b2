"""Find the images a web app manifest names, with the JSON parser keeping where each string is written.

References: ``icons[].src``, ``screenshots[].src``, ``shortcuts[].icons[].src`` and
``file_handlers[].icons[].src`` (W3C Web Application Manifest and its incubations). ``start_url``,
``scope``, ``shortcuts[].url`` and the like are pages of the application, not files: left as written.
A relative URL is taken relative to the manifest, as browsers do. A ``.webmanifest`` file that is not JSON
is an error naming the line and column.

A file known only by the name ``manifest.json`` (``find_if_app``) is an app manifest only when it is a JSON
object with a member of one (``_APP_MEMBERS``): the name is also that of browser extensions' manifests
(JSON with comments), bundlers' asset maps and vendor packages' own metadata. Anything else, malformed or
not, is copied as it is and never fails the build.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from collections.abc import Iterator
from typing import Any

from assetpipe.asset import Kind, Reference
from assetpipe.errors import MalformedSource
from assetpipe.references.text import LineIndex

_IMAGE_LISTS = ("icons", "screenshots")
_NESTED_IMAGE_LISTS = ("shortcuts", "file_handlers")
#: Members of the W3C manifest that an app manifest has and other tools' manifest.json files do not.
_APP_MEMBERS = frozenset(
    {"icons", "screenshots", "shortcuts", "file_handlers"}
    | {"start_url", "scope", "name", "short_name", "display"}
)
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace


class _Located(str):
    """A JSON string value that remembers its span in the text (inside the quotes)."""

    start: int
    end: int


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _Decoder(json.JSONDecoder):
    """json's own pure-Python scanner, with string values wrapped in _Located."""

    def __init__(self) -> None:
        super().__init__(parse_constant=_reject_constant)

        def parse_string(s: str, end: int, strict: bool) -> tuple[str, int]:
            value, after = json.decoder.scanstring(s, end, strict)  # type: ignore[attr-defined]
            located = _Located(value)
            located.start, located.end = end, after - 1
            return located, after

        self.parse_string = parse_string
        # the pure-Python scanner: the C one calls its own string parser, not this one
        self.scan_once = json.scanner.py_make_scanner(self)  # type: ignore[attr-defined]


def _skip_whitespace(text: str, at: int) -> int:
    match = _WHITESPACE.match(text, at)
    return at if match is None else match.end()


def parse(text: str) -> Any:
    """The JSON document ``text`` (a leading byte-order mark allowed); MalformedSource if it is not JSON."""
    start = 1 if text.startswith("\ufeff") else 0
    decoder = _Decoder()
    try:
        value, end = decoder.raw_decode(text, _skip_whitespace(text, start))
        end = _skip_whitespace(text, end)
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    except json.JSONDecodeError as exc:
        raise MalformedSource(f"not valid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    except ValueError as exc:
        raise MalformedSource(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise MalformedSource("not valid JSON: nested too deeply") from None
    return value


def _sources(images: Any) -> Iterator[_Located]:
    if isinstance(images, list):
        for image in images:
            if isinstance(image, dict) and isinstance(image.get("src"), _Located):
                yield image["src"]


def find(text: str) -> tuple[Reference, ...]:
    """Every image URL in the app manifest ``text``, in order of appearance."""
    return _images(parse(text), text)


def find_if_app(text: str) -> tuple[Reference, ...]:
    """Like ``find`` for a file named ``manifest.json``: nothing when ``text`` is not JSON, or is JSON
    without any member of a web app manifest (another tool's manifest)."""
    try:
        manifest = parse(text)
    except MalformedSource:
        return ()
    if not isinstance(manifest, dict) or _APP_MEMBERS.isdisjoint(manifest):
        return ()
    return _images(manifest, text)


def _images(manifest: Any, text: str) -> tuple[Reference, ...]:
    if not isinstance(manifest, dict):
        return ()
    found: list[_Located] = []
    for member in _IMAGE_LISTS:
        found.extend(_sources(manifest.get(member)))
    for member in _NESTED_IMAGE_LISTS:
        entries = manifest.get(member)
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict):
                    found.extend(_sources(entry.get("icons")))
    lines = LineIndex(text)
    refs = []
    for value in sorted(found, key=lambda v: v.start):
        line, column = lines.position(value.start)
        refs.append(Reference(str(value), value.start, value.end, line, column, Kind.URL))
    return tuple(refs)


def escape(text: str, ref: Reference, url: str) -> str:
    """``url`` as it must be written inside a JSON string."""
    return json.dumps(url, ensure_ascii=False)[1:-1]
