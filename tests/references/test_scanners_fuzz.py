"""Generated CSS and JS never crash the scanners or the build: they rewrite, or raise the clean error.

The text is random characters mixed with the fragments that steer a scanner's state (url(, @import,
quotes, comment markers, backslashes, import/export keywords, template literals and ``${``), so the
examples reach the edge states a plain random string almost never does.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetpipe.asset import Reference
from assetpipe.config import Config
from assetpipe.errors import AssetpipeError, MalformedSource
from assetpipe.pipeline import build
from assetpipe.references.css import find_css_references
from assetpipe.references.js import find_js_references
from assetpipe.references.text import LineIndex

COMMON = [
    " ", "\n", "\r\n", "\t", "\\", "\\\n", "'", '"', "`", "(", ")", "{", "}", "[", "]", ";", ",", "/", "*",
    "/*", "*/", "//", "#", "?", "%20", "%", ".", "..", "../", "./", "/static/", "a.png", "a b.png", "x",
]  # fmt: skip
CSS_FRAGMENTS = [
    *COMMON,
    "url(", "URL(", "url( '", 'url("', "u\\72l(", "@import ", "@import url(", "@IMPORT'", "image-set(",
    "-webkit-image-set(", " 1x, ", "format(", "@font-face{src:", "content:", "/*# sourceMappingURL=",
    "app.css", "b.css", "a.png?#iefix", "\\29 ", "\\", "\\\"", "\\'", "data:", "http://h/", "//h/",
]  # fmt: skip
JS_FRAGMENTS = [
    *COMMON,
    "import ", "import(", "import x from ", "export * from ", "export { x } from ", "export {", " from ",
    "new URL(", ", import.meta.url)", "import.meta", "//# sourceMappingURL=", "'./c.js'", '"./c.js"',
    "./app.js", "react", "${", "`${", "}`", "/re/", "/[/]/g", "a / b", "i++", "return ", "if (x) ",
    "\\u0061", "\\x2e", "\u2028", "=>",
]  # fmt: skip

# Whole references that resolve in build_one's tree, so successful builds also exercise the rewrite.
CSS_WHOLE = [
    "url(a.png)", " url( 'a%20b.png' ) ", 'URL("./a.png?#iefix")', "@import 'b.css';", "@import url(b.css) print;",
    'image-set("a.png" 1x)', "url(/static/a.png)", "/*# sourceMappingURL=b.css */", "a{b:url(a.png)}",
]  # fmt: skip
JS_WHOLE = [
    'import "./c.js";', "import x from './c.js'\n", 'export * from "./c.js"\n', "export { c } from './c.js';",
    'import("./c.js")', 'new URL("a.png", import.meta.url)', 'new URL("./a%20b.png", import.meta.url)',
    "\n//# sourceMappingURL=a.png\n", 'import "/static/c.js"\n',
]  # fmt: skip


def mixed(fragments: list[str], whole: list[str]) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(fragments), st.sampled_from(whole), st.text(max_size=6))
    return st.lists(piece, max_size=40).map("".join)


FUZZ = settings(max_examples=200, deadline=None, derandomize=True)
FUZZ_BUILD = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    # each example makes its own directory under tmp_path, so sharing the fixture is safe
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def check_references(text: str, refs: tuple[Reference, ...]) -> None:
    """Spans lie inside the text, in order, without overlap; positions agree; unescaped urls are verbatim."""
    assert isinstance(refs, tuple)
    lines = LineIndex(text)
    previous_end = 0
    for ref in refs:
        assert isinstance(ref, Reference)
        assert 0 <= previous_end <= ref.start <= ref.end <= len(text)
        previous_end = ref.end
        assert (ref.line, ref.column) == lines.position(ref.start)
        raw = text[ref.start : ref.end]
        if "\\" not in raw:
            assert ref.url == raw


@FUZZ
@given(mixed(CSS_FRAGMENTS, CSS_WHOLE))
def test_css_scanner_never_crashes_and_reports_valid_spans(text: str) -> None:
    check_references(text, find_css_references(text))


@FUZZ
@given(mixed(JS_FRAGMENTS, JS_WHOLE))
def test_js_scanner_never_crashes_and_reports_valid_spans(text: str) -> None:
    check_references(text, find_js_references(text))


@FUZZ
@given(st.text(max_size=200))
def test_scanners_accept_any_unicode_text(text: str) -> None:
    check_references(text, find_css_references(text))
    check_references(text, find_js_references(text))


def build_one(tmp_path: Path, name: str, text: str) -> tuple[Path, bool]:
    """Build a source tree holding ``text`` as ``name`` next to files it may reference."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    src = root / "src"
    src.mkdir()
    (src / name).write_bytes(text.encode("utf-8"))
    for other, content in {
        "a.png": b"\x89PNG",
        "a b.png": b"\x89PNG space",
        "b.css": b"b{}",
        "c.js": b"export const c = 1\n",
    }.items():
        if other != name:
            (src / other).write_bytes(content)
    try:
        build(Config(source=src, output=root / "out", compress=False))
    except AssetpipeError:
        return root / "out", False
    return root / "out", True


def rebuilt_references_keep_their_kinds(
    out: Path, name: str, text: str, find: Callable[[str], tuple[Reference, ...]]
) -> None:
    """Rewriting only swaps URLs for safe characters, so the output scans to the same kinds of reference."""
    import json

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    written = (out / manifest["assets"][name]["path"]).read_bytes().decode("utf-8")  # no newline translation
    assert [r.kind for r in find(written)] == [r.kind for r in find(text)]


@FUZZ_BUILD
@given(text=mixed(CSS_FRAGMENTS, CSS_WHOLE))
def test_a_build_of_generated_css_succeeds_or_raises_a_clean_error(tmp_path: Path, text: str) -> None:
    out, ok = build_one(tmp_path, "app.css", text)
    if ok:
        rebuilt_references_keep_their_kinds(out, "app.css", text, find_css_references)


@FUZZ_BUILD
@given(text=mixed(JS_FRAGMENTS, JS_WHOLE))
def test_a_build_of_generated_js_succeeds_or_raises_a_clean_error(tmp_path: Path, text: str) -> None:
    out, ok = build_one(tmp_path, "app.js", text)
    if ok:
        rebuilt_references_keep_their_kinds(out, "app.js", text, find_js_references)


# -- the parsed formats: SVG, app manifests, browserconfig.xml ----------------------------------------------

XML_FRAGMENTS = [
    *COMMON,
    "<", ">", "/>", "</", "<svg", "<use", "<image", "<style>", "</style>", "<![CDATA[", "]]>", "<!--", "-->",
    "<?xml version='1.0'?>", " href=", " xlink:href=", " style=", " fill=", "url(", "&amp;", "&quot;", "&#x41;",
    "&lt;", "&e;", "&nope;", "<!DOCTYPE svg [", "<!ENTITY e 'x'>", "<!ENTITY f '&e;'>", "]>", "=", "\"a.png\"",
    "'#i'", "xmlns:xlink='http://www.w3.org/1999/xlink'", "é",
]  # fmt: skip
SVG_WHOLE = [
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">', "</svg>",
    '<use href="a.png#i"/>', "<image xlink:href='a%20b.png'/>", '<rect style="fill:url(a.png)"/>',
    "<style>a{b:url('a.png')}</style>", "<style><![CDATA[a{b:url(b.css)}]]></style>", '<use href="#i"/>',
    '<feImage href="a.png"/>', '<rect fill="url(&quot;a.png&quot;)"/>',
]  # fmt: skip
JSON_FRAGMENTS = [
    *COMMON, "{", "}", "[", "]", ":", '"icons"', '"src"', '"screenshots"', '"shortcuts"', '"a.png"', "null",
    "true", "1e5", '"\\u0061.png"', '"\\/"', "NaN", "\ufeff",
]  # fmt: skip
JSON_WHOLE = [
    '{"icons": [{"src": "a.png"}]}', '{"screenshots": [{"src": "a%20b.png"}], "icons": []}',
    '{"shortcuts": [{"icons": [{"src": "./a.png"}]}]}', '{"icons": [{"src": "/static/a.png?v=1"}]}',
]  # fmt: skip
BROWSERCONFIG_WHOLE = [
    "<browserconfig><msapplication><tile>", "</tile></msapplication></browserconfig>",
    '<square150x150logo src="a.png"/>', "<TileImage src='a%20b.png'/>", "<TileColor>#fff</TileColor>",
]  # fmt: skip


def structured(fragments: list[str], whole: list[str]) -> st.SearchStrategy[str]:
    """Mostly well-formed documents (whole pieces in order), sometimes broken by a random fragment."""
    return st.one_of(
        st.lists(st.sampled_from(whole), max_size=8).map("".join),
        mixed(fragments, whole),
        st.tuples(st.sampled_from(whole), mixed(fragments, whole), st.sampled_from(whole)).map("".join),
    )


def find_or_clean_error(name: str, text: str) -> tuple[Reference, ...] | None:
    from assetpipe.references import find

    try:
        return find(name, text)
    except MalformedSource as exc:
        assert exc.path == name and "\n" not in str(exc)
        return None


@FUZZ
@given(text=structured(XML_FRAGMENTS, SVG_WHOLE))
def test_the_svg_scanner_never_raises_but_its_clean_error(text: str) -> None:
    refs = find_or_clean_error("a.svg", text)
    if refs is not None:
        check_spans(text, refs)


@FUZZ
@given(text=structured(JSON_FRAGMENTS, JSON_WHOLE))
def test_the_app_manifest_scanner_never_raises_but_its_clean_error(text: str) -> None:
    refs = find_or_clean_error("site.webmanifest", text)
    if refs is not None:
        check_spans(text, refs)


@FUZZ
@given(text=structured(XML_FRAGMENTS, BROWSERCONFIG_WHOLE))
def test_the_browserconfig_scanner_never_raises_but_its_clean_error(text: str) -> None:
    refs = find_or_clean_error("browserconfig.xml", text)
    if refs is not None:
        check_spans(text, refs)


def check_spans(text: str, refs: tuple[Reference, ...]) -> None:
    """Spans lie inside the text, in order, without overlap, and positions agree (values may be decoded)."""
    lines = LineIndex(text)
    previous_end = 0
    for ref in refs:
        assert 0 <= previous_end <= ref.start <= ref.end <= len(text)
        previous_end = ref.end
        assert (ref.line, ref.column) == lines.position(ref.start)


def rebuilt_scans_alike(out: Path, name: str, text: str) -> None:
    """The rewritten file parses again, to references of the same kinds."""
    import json

    from assetpipe.references import find

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    written = (out / manifest["assets"][name]["path"]).read_bytes().decode("utf-8")
    assert [r.kind for r in find(name, written)] == [r.kind for r in find(name, text)]


@FUZZ_BUILD
@given(text=structured(XML_FRAGMENTS, SVG_WHOLE))
def test_a_build_of_generated_svg_succeeds_or_raises_a_clean_error(tmp_path: Path, text: str) -> None:
    out, ok = build_one(tmp_path, "app.svg", text)
    if ok:
        rebuilt_scans_alike(out, "app.svg", text)


@FUZZ_BUILD
@given(text=structured(JSON_FRAGMENTS, JSON_WHOLE))
def test_a_build_of_generated_app_manifests_succeeds_or_raises_a_clean_error(
    tmp_path: Path, text: str
) -> None:
    out, ok = build_one(tmp_path, "site.webmanifest", text)
    if ok:
        rebuilt_scans_alike(out, "site.webmanifest", text)


@FUZZ_BUILD
@given(text=structured(XML_FRAGMENTS, BROWSERCONFIG_WHOLE))
def test_a_build_of_generated_browserconfig_succeeds_or_raises_a_clean_error(
    tmp_path: Path, text: str
) -> None:
    out, ok = build_one(tmp_path, "browserconfig.xml", text)
    if ok:
        rebuilt_scans_alike(out, "browserconfig.xml", text)
