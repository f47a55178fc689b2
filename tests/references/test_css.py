"""The CSS scanner: every form of url(), @import, image-set(), @font-face src and source maps; nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetpipe.asset import Kind, Reference
from assetpipe.references import find
from assetpipe.references.css import find_css_references


def found(text: str) -> list[tuple[str, str, Kind]]:
    """(decoded url, text of the recorded span, kind) for each reference, in order."""
    return [(r.url, text[r.start : r.end], r.kind) for r in find_css_references(text)]


def urls(text: str) -> list[str]:
    return [r.url for r in find_css_references(text)]


# -- url() in every form ----------------------------------------------------------------------------


def test_unquoted_url_is_found_with_its_exact_span() -> None:
    assert found("a { background: url(img/a.png) }") == [("img/a.png", "img/a.png", Kind.URL)]


def test_single_quoted_url_span_is_inside_the_quotes() -> None:
    assert found("a { background: url('img/a.png') }") == [("img/a.png", "img/a.png", Kind.URL)]


def test_double_quoted_url_span_is_inside_the_quotes() -> None:
    assert found('a { background: url("img/a.png") }') == [("img/a.png", "img/a.png", Kind.URL)]


def test_whitespace_inside_the_parentheses_is_allowed_around_a_quoted_url() -> None:
    # Django's regex rewriter crashes on exactly this.
    assert found("a { b: url( 'a.png' ) }") == [("a.png", "a.png", Kind.URL)]


def test_whitespace_inside_the_parentheses_is_allowed_around_an_unquoted_url() -> None:
    assert found("a { b: url(   a.png\t) }") == [("a.png", "a.png", Kind.URL)]


def test_newlines_inside_the_parentheses_are_allowed() -> None:
    text = 'a {\n  b: url(\n    "a.png"\n  );\n  c: url(\n b.png\n)\n}'
    assert found(text) == [("a.png", "a.png", Kind.URL), ("b.png", "b.png", Kind.URL)]


def test_upper_and_mixed_case_url_function_is_found() -> None:
    assert urls("a { b: URL(a.png); c: Url('b.png'); d: uRl(\"c.png\") }") == ["a.png", "b.png", "c.png"]


def test_css_escape_in_an_unquoted_url_is_decoded_and_the_span_keeps_the_raw_text() -> None:
    text = r"a { b: url(a\29 b.png) }"
    assert found(text) == [("a)b.png", r"a\29 b.png", Kind.URL)]


def test_css_escape_in_a_quoted_url_is_decoded() -> None:
    text = r'a { b: url("it\"s.png"); c: url("\61 .png") }'
    assert urls(text) == ['it"s.png', "a.png"]


def test_escaped_space_in_an_unquoted_url_is_part_of_the_url() -> None:
    assert urls(r"a { b: url(my\ file.png) }") == ["my file.png"]


def test_escaped_newline_continues_a_quoted_url() -> None:
    assert urls('a { b: url("img/\\\na.png") }') == ["img/a.png"]


def test_escapes_in_the_function_name_still_make_a_url() -> None:
    assert urls(r"a { b: u\72l(a.png); c: \75 rl(b.png) }") == ["a.png", "b.png"]


def test_url_with_query_and_fragment_is_recorded_whole() -> None:
    assert urls("a { b: url(font.woff?#iefix) }") == ["font.woff?#iefix"]


def test_empty_url_is_recorded_as_empty() -> None:
    assert urls("a { b: url(); c: url('') }") == ["", ""]


def test_malformed_unquoted_url_with_inner_space_is_left_alone() -> None:
    # A browser drops url(a b.png) as a bad-url token; so do we, without raising.
    assert urls("a { b: url(a b.png); c: url(ok.png) }") == ["ok.png"]


def test_unquoted_url_with_a_quote_or_parenthesis_inside_is_left_alone() -> None:
    assert urls("a { b: url(a'b.png); c: url(a(b.png) }") == []


def test_names_merely_ending_in_url_are_not_url_functions() -> None:
    assert urls("a { b: myurl(a.png); c: data-url(b.png) }") == []


def test_every_url_in_a_declaration_is_found() -> None:
    text = "a { background: url(a.png) no-repeat, url('b.png') repeat-x, linear-gradient(red, blue) }"
    assert urls(text) == ["a.png", "b.png"]


def test_line_and_column_point_at_the_first_character_of_the_url() -> None:
    text = "a {\n  b: url(x.png);\n}\n\nc {\n\td: url( 'y.png' )\n}"
    refs = find_css_references(text)
    assert [(r.line, r.column) for r in refs] == [(2, 10), (6, 11)]


def test_spans_index_the_original_text() -> None:
    text = "a{b:url(  'one.png'  )}x{y:url(two.png)}"
    for ref in find_css_references(text):
        assert text[ref.start : ref.end] == ref.url


# -- @import --------------------------------------------------------------------------------------------


def test_import_with_a_double_quoted_string() -> None:
    assert found('@import "base.css";') == [("base.css", "base.css", Kind.IMPORT)]


def test_import_with_a_single_quoted_string() -> None:
    assert found("@import 'base.css';") == [("base.css", "base.css", Kind.IMPORT)]


def test_import_with_url_function_quoted_and_unquoted() -> None:
    text = "@import url(a.css);\n@import url(\"b.css\");\n@import url( 'c.css' );"
    assert found(text) == [
        ("a.css", "a.css", Kind.IMPORT),
        ("b.css", "b.css", Kind.IMPORT),
        ("c.css", "c.css", Kind.IMPORT),
    ]


def test_import_followed_by_media_queries_layers_and_supports() -> None:
    text = (
        '@import "print.css" print;\n'
        "@import url(wide.css) screen and (min-width: 900px);\n"
        '@import "layered.css" layer(base) supports(display: grid) screen;\n'
    )
    assert urls(text) == ["print.css", "wide.css", "layered.css"]
    assert all(r.kind is Kind.IMPORT for r in find_css_references(text))


def test_import_keyword_is_case_insensitive_and_may_be_followed_by_a_newline_or_comment() -> None:
    assert urls('@IMPORT "a.css";\n@import\n  "b.css";\n@import /* why */ url(c.css);') == [
        "a.css",
        "b.css",
        "c.css",
    ]


def test_import_without_a_space_before_the_string() -> None:
    assert urls('@import"a.css";@import url(b.css);') == ["a.css", "b.css"]


def test_other_at_rules_with_strings_are_not_imports() -> None:
    assert urls('@charset "utf-8"; @namespace svg "http://www.w3.org/2000/svg"; @importer "x.css";') == []


# -- image-set() ------------------------------------------------------------------------------------------


def test_bare_strings_in_image_set_are_urls() -> None:
    text = "a { b: image-set(\"a.png\" 1x, 'a@2x.png' 2x) }"
    assert found(text) == [("a.png", "a.png", Kind.URL), ("a@2x.png", "a@2x.png", Kind.URL)]


def test_bare_strings_in_webkit_image_set_are_urls() -> None:
    text = 'a { b: -webkit-image-set("a.png" 1x, "b.png" 2x) }'
    assert urls(text) == ["a.png", "b.png"]


def test_image_set_mixing_strings_url_and_type() -> None:
    text = 'a { b: image-set( "a.avif" type("image/avif") 1x, url(a.png) 1x ) }'
    # type()'s string is a media type, not a URL
    assert urls(text) == ["a.avif", "a.png"]


def test_image_set_is_case_insensitive_and_spans_lines() -> None:
    text = 'a {\n  b: IMAGE-SET(\n    "a.png" 1x,\n    "b.png" 2x\n  );\n}'
    assert urls(text) == ["a.png", "b.png"]


def test_strings_in_other_functions_are_not_urls() -> None:
    text = 'a { b: attr(data-x, "x.png"); c: format("woff2"); d: counter(x, "y.png") }'
    assert urls(text) == []


def test_a_string_after_an_image_set_has_closed_is_not_a_url() -> None:
    text = 'a { b: image-set("a.png" 1x); content: "b.png" }'
    assert urls(text) == ["a.png"]


def test_an_unclosed_image_set_does_not_leak_past_the_declaration() -> None:
    text = 'a { b: image-set("a.png" 1x; content: "b.png" }'
    assert urls(text) == ["a.png"]


# -- @font-face ---------------------------------------------------------------------------------------------


def test_every_src_url_in_font_face_is_found_with_its_format_untouched() -> None:
    text = """@font-face {
  font-family: "Icons";
  src: url("icons.eot");
  src: url("icons.eot?#iefix") format("embedded-opentype"),
       url('icons.woff2') format('woff2'),
       url(icons.woff) format("woff"),
       url("icons.ttf") format("truetype"),
       url("icons.svg#icons") format("svg");
  font-display: swap;
}"""
    assert urls(text) == [
        "icons.eot",
        "icons.eot?#iefix",
        "icons.woff2",
        "icons.woff",
        "icons.ttf",
        "icons.svg#icons",
    ]


def test_font_face_local_names_are_not_urls() -> None:
    text = '@font-face { src: local("Icons Regular"), local(Icons), url(icons.woff2) format("woff2") }'
    assert urls(text) == ["icons.woff2"]


# -- source maps ---------------------------------------------------------------------------------------------


def test_source_map_comment_is_found() -> None:
    text = "a{}\n/*# sourceMappingURL=app.css.map */\n"
    assert found(text) == [("app.css.map", "app.css.map", Kind.SOURCE_MAP)]


def test_old_style_source_map_comment_is_found() -> None:
    assert urls("a{}\n/*@ sourceMappingURL=app.css.map*/") == ["app.css.map"]


def test_source_map_line_and_column() -> None:
    refs = find_css_references("a{}\n/*# sourceMappingURL=m.map */")
    assert [(r.line, r.column) for r in refs] == [(2, 22)]


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("a{}\n/*# sourceMappingURL=m.map */\n/* end */\n", "m.map"),
        ("/*# sourceMappingURL=a.map */ /*# sourceMappingURL=b.map */", "b.map"),
        ("/*# sourceMappingURL=m.map */\na{}", None),  # mid-stylesheet: a comment
        ("a{}\n/*# sourceMappingURL=m.map", None),  # unclosed
        ("a{}\n/*# sourceMappingURL = m.map */", None),  # no space around "=" (ECMA-426)
    ],
)
def test_a_source_map_link_is_the_last_comment_with_only_whitespace_or_comments_after_it(
    text: str, link: str | None
) -> None:
    assert urls(text) == ([link] if link else [])


def test_a_comment_that_only_mentions_source_maps_is_not_one() -> None:
    assert urls("/* see sourceMappingURL=x.map for details */ /* #sourceMappingURL */") == []


# -- left alone -------------------------------------------------------------------------------------------------


def test_urls_inside_comments_are_left_alone() -> None:
    text = "/* a { b: url(gone.png) } @import 'gone.css'; */ a { b: url(here.png) }"
    assert urls(text) == ["here.png"]


def test_urls_inside_other_strings_are_left_alone() -> None:
    text = 'a::before { content: "url(x.png)"; } b::after { content: \'@import "y.css"\' }'
    assert urls(text) == []


def test_a_quote_inside_a_comment_does_not_open_a_string() -> None:
    text = "/* it's */ a { b: url(a.png) } /* \" */ c { d: url(b.png) }"
    assert urls(text) == ["a.png", "b.png"]


def test_a_comment_marker_inside_a_string_does_not_open_a_comment() -> None:
    text = 'a { content: "/*"; b: url(a.png) } c { content: "*/" }'
    assert urls(text) == ["a.png"]


def test_escaped_quote_outside_a_string_does_not_open_one() -> None:
    text = 'a { b: \\"; c: url(a.png) }'
    assert urls(text) == ["a.png"]


def test_unterminated_comment_runs_to_the_end_without_raising() -> None:
    assert urls("a { b: url(a.png) } /* url(b.png) ") == ["a.png"]


def test_unterminated_string_ends_at_the_line_as_in_the_css_spec() -> None:
    text = 'a { content: "oops\n; b: url(a.png) }'
    assert urls(text) == ["a.png"]


def test_unterminated_url_at_end_of_file_is_left_alone() -> None:
    assert urls("a { b: url(a.png") == []
    assert urls('a { b: url("a.png"') == []
    assert urls("@import url(") == []


def test_empty_and_whitespace_only_stylesheets_have_no_references() -> None:
    assert find_css_references("") == ()
    assert find_css_references(" \n\t ") == ()


# -- dispatch ------------------------------------------------------------------------------------------------------


def test_find_dispatches_on_the_css_suffix_case_insensitively() -> None:
    text = "a { b: url(a.png) }"
    assert [r.url for r in find("css/app.CSS", text)] == ["a.png"]


def test_find_returns_nothing_for_types_that_are_not_scanned() -> None:
    assert find("img/logo.txt", '<image href="a.png"/> url(a.png)') == ()
    assert find("README", "url(a.png)") == ()
    assert find("data/app.json", '{"icons": [{"src": "a.png"}]}') == ()


def test_references_are_frozen_records() -> None:
    ref = find_css_references("a{b:url(a.png)}")[0]
    assert isinstance(ref, Reference)
    assert ref == Reference("a.png", 8, 13, 1, 9, Kind.URL)


def test_carriage_return_and_form_feed_end_a_bad_string_like_a_newline() -> None:
    # CSS preprocessing turns CR and FF into newlines, so the browser sees this url(); so must we.
    assert urls("a { content: 'oops\rb: url(a.png) }") == ["a.png"]
    assert urls("a { content: 'oops\fb: url(a.png) }") == ["a.png"]


def test_escaped_crlf_continues_a_quoted_url() -> None:
    assert urls('a { b: url("img/\\\r\na.png") }') == ["img/a.png"]


def test_only_the_last_source_map_comment_counts_as_in_browsers() -> None:
    text = "/*# sourceMappingURL=stale.css.map */\na{}\n/*# sourceMappingURL=app.css.map */\n"
    assert urls(text) == ["app.css.map"]


def test_a_stylesheet_without_any_url_syntax_is_skipped_quickly_and_correctly() -> None:
    assert find_css_references(".a{color:red}" * 1000) == ()
    assert urls(".a{color:red}\n.b{background:U\\52L(x.png)}") == ["x.png"]


def test_a_stylesheet_that_declares_an_8_bit_charset_is_rewritten_and_written_back_in_it(tmp_path: Path) -> None:
    from assetpipe.config import Config
    from assetpipe.manifest import Manifest
    from assetpipe.pipeline import build

    text = '@charset "iso-8859-1";\n.a::before { content: "é"; background: url(img/ä.png) }\n'
    src = tmp_path / "src"
    (src / "img").mkdir(parents=True)
    (src / "theme.css").write_bytes(text.encode("latin-1"))
    (src / "img/ä.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    build(Config(source=src, output=tmp_path / "out", compress=False))
    manifest = Manifest.load(tmp_path / "out/manifest.json")
    written = (tmp_path / "out" / manifest.assets["theme.css"].path).read_bytes()
    image = manifest.assets["img/ä.png"].path.replace("ä", "%C3%A4")  # a URL: percent-encoded UTF-8
    assert written.decode("latin-1") == text.replace("img/ä.png", image)

