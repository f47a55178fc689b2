"""browserconfig.xml: the tile images Windows fetches for a pinned site."""

from __future__ import annotations

import pytest

from assetpipe.errors import MalformedSource
from assetpipe.references import escape, find, is_scanned

CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<browserconfig>
  <msapplication>
    <tile>
      <square70x70logo src="mstile-70x70.png"/>
      <square150x150logo src="/static/mstile-150x150.png"/>
      <wide310x150logo src="mstile-310x150.png"/>
      <square310x310logo src="mstile-310x310.png"/>
      <TileImage src="tile.png"/>
      <TileColor>#da532c</TileColor>
    </tile>
    <notification><polling-uri src="/notifications/1.xml"/></notification>
    <badge><polling-uri src="/badge.xml"/></badge>
  </msapplication>
</browserconfig>
"""


def test_tile_images_are_references_and_polling_addresses_are_not() -> None:
    refs = find("browserconfig.xml", CONFIG)
    assert [(r.url, r.line, r.column) for r in refs] == [
        ("mstile-70x70.png", 5, 29),
        ("/static/mstile-150x150.png", 6, 31),
        ("mstile-310x150.png", 7, 29),
        ("mstile-310x310.png", 8, 31),
        ("tile.png", 9, 23),
    ]


def test_browserconfig_is_known_by_name_at_any_depth_and_any_case() -> None:
    assert is_scanned("browserconfig.xml") and is_scanned("ms/BrowserConfig.xml")
    assert not is_scanned("feeds/atom.xml")


def test_a_malformed_browserconfig_is_one_clear_error() -> None:
    with pytest.raises(MalformedSource) as info:
        find("browserconfig.xml", "<browserconfig><msapplication></browserconfig>")
    assert str(info.value).startswith("browserconfig.xml:1:33: not well-formed XML: mismatched tag (")


def test_a_new_url_is_escaped_as_an_attribute_value() -> None:
    [ref] = find("browserconfig.xml", '<browserconfig><TileImage src="t.png"/></browserconfig>')
    assert escape("browserconfig.xml", "", ref, 'a&"b.png') == "a&amp;&quot;b.png"
