"""SVG references: <use>/<image>/<feImage> href, url() in style attributes, presentation attributes and
<style>, found by an XML parser with their spans, and written back escaped for where they sit."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetpipe.asset import Kind
from assetpipe.errors import MalformedSource
from assetpipe.references import escape, find

SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'


def svg(body: str) -> str:
    return SVG_OPEN + body + "</svg>"


def found(text: str) -> list[tuple[str, str, Kind]]:
    return [(r.url, text[r.start : r.end], r.kind) for r in find("img/a.svg", text)]


def urls(text: str) -> list[str]:
    return [r.url for r in find("img/a.svg", text)]


def test_href_of_use_image_and_feimage_is_a_reference() -> None:
    text = svg('<use href="sprite.svg#i"/><image href="a.png"/><filter><feImage href="f.png"/></filter>')
    assert found(text) == [
        ("sprite.svg#i", "sprite.svg#i", Kind.URL),
        ("a.png", "a.png", Kind.URL),
        ("f.png", "f.png", Kind.URL),
    ]


def test_xlink_href_counts_when_there_is_no_href_and_href_wins_over_it() -> None:
    assert urls(svg('<use xlink:href="old.svg#i"/>')) == ["old.svg#i"]
    assert urls(svg('<use xlink:href="old.svg#i" href="new.svg#i"/>')) == ["new.svg#i"]


def test_xlink_is_known_by_its_namespace_not_its_prefix() -> None:
    text = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:l="http://www.w3.org/1999/xlink"><use l:href="a.svg"/></svg>'
    assert urls(text) == ["a.svg"]
    other = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:l="urn:other"><use l:href="a.svg"/></svg>'
    assert urls(other) == []


def test_href_of_other_elements_and_other_namespaces_is_left_alone() -> None:
    text = svg('<a href="page.html"><text>x</text></a><script href="x.js"/>')
    assert urls(text) == []
    assert urls('<svg xmlns="urn:not-svg"><use href="a.svg"/></svg>') == []


def test_url_in_style_attributes_presentation_attributes_and_style_elements() -> None:
    text = svg(
        '<rect style="fill: url(p.svg#g); stroke: red" filter="url(\'f.svg#b\')" mask="url(m.svg#m)"/>'
        '<style>@import "s.css"; .a { background: url(bg.png) }</style>'
    )
    assert found(text) == [
        ("p.svg#g", "p.svg#g", Kind.URL),
        ("f.svg#b", "f.svg#b", Kind.URL),
        ("m.svg#m", "m.svg#m", Kind.URL),
        ("s.css", "s.css", Kind.IMPORT),
        ("bg.png", "bg.png", Kind.URL),
    ]


def test_fragment_only_links_are_found_and_resolve_to_nothing() -> None:
    # resolve.py leaves "#id" alone; finding it keeps the scanner simple and is harmless.
    assert urls(svg('<use href="#icon"/><rect fill="url(#grad)"/>')) == ["#icon", "#grad"]


def test_entities_are_decoded_and_the_span_covers_what_is_written() -> None:
    text = svg('<image href=" img/a&amp;b.png "/><rect style="fill:url(&quot;p.svg&quot;)"/>')
    assert found(text) == [("img/a&b.png", "img/a&amp;b.png", Kind.URL), ("p.svg", "p.svg", Kind.URL)]


def test_internal_entities_as_illustrator_writes_them_are_expanded() -> None:
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [\n'
        '  <!ENTITY ns_svg "http://www.w3.org/2000/svg">\n  <!ENTITY ns_xlink "http://www.w3.org/1999/xlink">\n]>\n'
        '<svg xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;"><image xlink:href="a.png"/></svg>'
    )
    refs = find("img/a.svg", text)
    assert [(r.url, r.line, r.column) for r in refs] == [("a.png", 6, 67)]


def test_cdata_in_a_style_element() -> None:
    text = svg("<style><![CDATA[ .b { fill: url(q.svg#p) } a > b {} ]]></style>")
    assert found(text) == [("q.svg#p", "q.svg#p", Kind.URL)]


def test_lines_and_columns_are_where_the_url_is_written() -> None:
    text = SVG_OPEN + '\n  <use\n     href="a.svg#i"/>\n<style>\n.a{b:url(c.png)}</style></svg>'
    assert [(r.url, r.line, r.column) for r in find("img/a.svg", text)] == [
        ("a.svg#i", 3, 12),
        ("c.png", 5, 10),
    ]


def test_non_ascii_text_before_a_reference_keeps_character_offsets() -> None:
    text = svg('<title>Größe – 日本</title><image href="ü.png"/>')
    [ref] = find("img/a.svg", text)
    assert text[ref.start : ref.end] == "ü.png"


def test_a_style_element_of_another_type_is_not_css() -> None:
    assert urls(svg('<style type="text/less">.a{b:url(c.png)}</style>')) == []


def test_an_svg_without_anything_that_can_refer_is_not_parsed() -> None:
    # Icon sets hold thousands of these: a malformed one without references is the browser's concern.
    assert find("img/a.svg", "<svg><path d='M0 0'></svg>") == ()


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        (svg('<use href="a.svg">'), "not well-formed XML: mismatched tag", 1, 104),
        ('<svg href="x">\n<use href="a.svg"', "not well-formed XML: unclosed token", 2, 1),
        (
            '<!DOCTYPE s [<!ENTITY a "x"><!ENTITY b "&a;&a;">]><svg href="&b;"/>',
            "entity 'b' refers to other entities or is too long: refused",
            1,
            None,  # somewhere in the declaration: expat reports where it stopped reading it
        ),
        (
            '<!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]><svg href="&e;"/>',
            "external entity 'e' refused: nothing outside the file is read",
            1,
            None,
        ),
    ],
)
def test_a_malformed_or_hostile_document_is_one_clear_error(
    text: str, message: str, line: int, column: int | None
) -> None:
    with pytest.raises(MalformedSource) as info:
        find("img/a.svg", text)
    error = info.value
    assert (error.path, error.message, error.line) == ("img/a.svg", message, line)
    assert error.column == column or (column is None and error.column is not None)
    assert "assetpipe parses SVG files for references" in str(info.value)


def test_a_billion_laughs_document_is_refused_quickly() -> None:
    levels = "".join(f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 10 if i else "lol"}">' for i in range(10))
    text = f"<!DOCTYPE svg [{levels}]><svg href='&l9;'/>"
    with pytest.raises(MalformedSource, match="refers to other entities"):
        find("img/a.svg", text)


@pytest.mark.parametrize(
    ("body", "new", "written"),
    [
        ('<image href="a.png"/>', "x&y'z\".png", "x&amp;y&apos;z&quot;.png"),
        ("<image href='a.png'/>", "q.png?a=1&b=2", "q.png?a=1&amp;b=2"),
        ('<rect style="fill:url(a.png)"/>', "a(1).png", "a\\(1\\).png"),
        ("<rect style='fill:url(\"a.png\")'/>", 'a"b&.png', "a\\&quot;b&amp;.png"),
        ("<style>a{b:url('a.png')}</style>", "a'<b.png", "a\\'&lt;b.png"),
        ("<style><![CDATA[a{b:url(a.png)}]]></style>", "a<&]]>.png", "a<&]]]]><![CDATA[>.png"),
    ],
)
def test_a_new_url_is_escaped_for_xml_and_css_and_reads_back_as_itself(
    body: str, new: str, written: str
) -> None:
    text = svg(body)
    [ref] = find("img/a.svg", text)
    out = escape("img/a.svg", text, ref, new)
    assert out == written
    rewritten = text[: ref.start] + out + text[ref.end :]
    assert urls(rewritten) == [new]


def test_an_svg_in_another_encoding_without_references_is_copied_as_it_is(tmp_path: Path) -> None:
    from assetpipe.config import Config
    from assetpipe.errors import InvalidEncoding
    from assetpipe.manifest import Manifest
    from assetpipe.pipeline import build

    latin1 = '<?xml version="1.0" encoding="iso-8859-1"?><svg><title>Größe</title></svg>'.encode("latin-1")
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.svg").write_bytes(latin1)
    build(Config(source=src, output=tmp_path / "out", compress=False))
    manifest = Manifest.load(tmp_path / "out/manifest.json")
    assert (tmp_path / "out" / manifest.assets["old.svg"].path).read_bytes() == latin1
    # One that could refer and declares no encoding is refused: its references cannot be rewritten safely.
    undeclared = latin1.replace(b' encoding="iso-8859-1"', b"")
    (src / "old.svg").write_bytes(undeclared.replace(b"</svg>", b'<use href="a.svg"/></svg>'))
    with pytest.raises(InvalidEncoding, match="not valid UTF-8"):
        build(Config(source=src, output=tmp_path / "out", compress=False))


def test_an_svg_that_declares_an_8_bit_encoding_is_rewritten_and_written_back_in_it(tmp_path: Path) -> None:
    from assetpipe.config import Config
    from assetpipe.manifest import Manifest
    from assetpipe.pipeline import build

    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><svg xmlns="http://www.w3.org/2000/svg">'
        '<title>Größe</title><use href="a.svg#i"/></svg>'
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.svg").write_bytes(text.encode("latin-1"))
    (src / "a.svg").write_text("<svg><symbol id='i'/></svg>", encoding="utf-8")
    build(Config(source=src, output=tmp_path / "out", compress=False))
    manifest = Manifest.load(tmp_path / "out/manifest.json")
    written = (tmp_path / "out" / manifest.assets["old.svg"].path).read_bytes()
    hashed = manifest.assets["a.svg"].path.rsplit("/", 1)[-1]
    assert written == text.replace("a.svg#i", f"{hashed}#i").encode("latin-1")


def test_an_entity_that_writes_markup_is_refused() -> None:
    text = '<!DOCTYPE svg [<!ENTITY u "<use href=\'a.svg\'/>">]><svg xmlns="http://www.w3.org/2000/svg">&u;</svg>'
    with pytest.raises(MalformedSource, match="entity 'u' holds markup: refused"):
        find("img/a.svg", text)
