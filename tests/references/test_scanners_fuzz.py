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
JSON_FRAGMENTS = [
    *COMMON, "{", "}", "[", "]", ":", '"icons"', '"src"', '"screenshots"', '"shortcuts"', '"a.png"', "null",
    "true", "1e5", '"\\u0061.png"', '"\\/"', "NaN", "\ufeff",
]  # fmt: skip
# URLs as they may be written inside XML attributes and JSON strings (entities and escapes included), most
# of which resolve in build_one's tree.
URLS = [
    "a.png", "./a.png", "a%20b.png", "a.png#x", "#i", "/static/a.png?v=1&amp;w=2", "a&#46;png", " a.png ",
    "b.css", "c.js", "gone.png", "../up.png", "data:,x", "http://h/a.png", "",
]  # fmt: skip
SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
SVG_ELEMENTS = [
    '<use href="{u}"/>', "<image xlink:href='{u}'/>", '<feImage href="{u}" xlink:href="x.png"/>',
    '<rect style="fill:url({u}); stroke: url(&quot;{u}&quot;)"/>', "<rect fill='url(\"{u}\")'/>",
    "<style>a{{b:url('{u}')}} @import \"{u}\";</style>", "<style><![CDATA[a{{b:url({u})}}]]></style>",
    '<a href="{u}"><text>t</text></a>', "<g><title>é &amp; ü</title></g>", "<!-- <use href='{u}'/> -->",
]  # fmt: skip
BROWSERCONFIG_ELEMENTS = [
    '<square70x70logo src="{u}"/>', "<TileImage src='{u}'/>", "<TileColor>#fff</TileColor>",
    '<polling-uri src="{u}"/>', "<wide310x150logo src=\"{u}\"></wide310x150logo>",
]  # fmt: skip
JSON_URLS = ["a.png", "./a%20b.png", "a\\u002epng", "/static/a.png?v=1", "gone.png", "#x", 'a\\"b.png', ""]


def xml_documents(open_tag: str, close_tag: str, elements: list[str]) -> st.SearchStrategy[str]:
    """Well-formed documents of ``elements`` with URLs from URLS (or random text) filled in."""
    url = st.one_of(
        st.sampled_from(URLS),
        st.text(
            alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="<&\"'"),
            max_size=8,
        ),
    )
    element = st.tuples(st.sampled_from(elements), url).map(lambda pair: pair[0].format(u=pair[1]))
    return st.lists(element, max_size=8).map(lambda parts: open_tag + "".join(parts) + close_tag)


def app_manifests() -> st.SearchStrategy[str]:
    """JSON app manifests: image lists in the places that refer, and in places that don't."""
    src = st.one_of(
        st.sampled_from(JSON_URLS),
        st.text(
            alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='"\\'), max_size=8
        ),
    )
    image = src.map(lambda u: '{"src": "' + u + '", "sizes": "1x1"}')
    images = st.lists(image, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
    member = st.one_of(
        images.map(lambda xs: '"icons": ' + xs),
        images.map(lambda xs: '"screenshots": ' + xs),
        images.map(lambda xs: '"shortcuts": [{"url": "/x", "icons": ' + xs + "}]"),
        images.map(lambda xs: '"other": ' + xs),
        src.map(lambda u: '"start_url": "' + u + '"'),
    )
    return st.lists(member, max_size=5).map(lambda ms: "{" + ", ".join(ms) + "}")


def structured(documents: st.SearchStrategy[str], fragments: list[str]) -> st.SearchStrategy[str]:
    """Well-formed documents, documents broken by random fragments, and fragments alone."""
    broken = st.tuples(documents, st.integers(min_value=0), mixed(fragments, fragments)).map(
        lambda t: t[0][: t[1] % (len(t[0]) + 1)] + t[2] + t[0][t[1] % (len(t[0]) + 1) :]
    )
    return st.one_of(documents, documents, broken, mixed(fragments, fragments))


SVGS = structured(xml_documents(SVG_OPEN, "</svg>", SVG_ELEMENTS), XML_FRAGMENTS)
APP_MANIFESTS = structured(app_manifests(), JSON_FRAGMENTS)
BROWSERCONFIGS = structured(
    xml_documents(
        "<browserconfig><msapplication><tile>",
        "</tile></msapplication></browserconfig>",
        BROWSERCONFIG_ELEMENTS,
    ),
    XML_FRAGMENTS,
)


def find_or_clean_error(name: str, text: str) -> tuple[Reference, ...] | None:
    from assetpipe.references import find

    try:
        return find(name, text)
    except MalformedSource as exc:
        assert exc.path == name and "\n" not in str(exc)
        return None


@FUZZ
@given(text=SVGS)
def test_the_svg_scanner_never_raises_but_its_clean_error(text: str) -> None:
    refs = find_or_clean_error("a.svg", text)
    if refs is not None:
        check_spans(text, refs)


@FUZZ
@given(text=APP_MANIFESTS)
def test_the_app_manifest_scanner_never_raises_but_its_clean_error(text: str) -> None:
    refs = find_or_clean_error("site.webmanifest", text)
    if refs is not None:
        check_spans(text, refs)


@FUZZ
@given(text=APP_MANIFESTS)
def test_a_file_named_manifest_json_never_fails_the_scan(text: str) -> None:
    # Other tools' manifest.json (extensions' JSON with comments, asset maps) are copied as they are.
    from assetpipe.references import find

    refs = find("vendor/manifest.json", text)
    check_spans(text, refs)
    if refs:
        assert refs == find("site.webmanifest", text)


@FUZZ
@given(text=BROWSERCONFIGS)
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
@given(text=SVGS)
def test_a_build_of_generated_svg_succeeds_or_raises_a_clean_error(tmp_path: Path, text: str) -> None:
    out, ok = build_one(tmp_path, "app.svg", text)
    if ok:
        rebuilt_scans_alike(out, "app.svg", text)


@FUZZ_BUILD
@given(text=APP_MANIFESTS)
def test_a_build_of_generated_app_manifests_succeeds_or_raises_a_clean_error(
    tmp_path: Path, text: str
) -> None:
    out, ok = build_one(tmp_path, "site.webmanifest", text)
    if ok:
        rebuilt_scans_alike(out, "site.webmanifest", text)


@FUZZ_BUILD
@given(text=BROWSERCONFIGS)
def test_a_build_of_generated_browserconfig_succeeds_or_raises_a_clean_error(
    tmp_path: Path, text: str
) -> None:
    out, ok = build_one(tmp_path, "browserconfig.xml", text)
    if ok:
        rebuilt_scans_alike(out, "browserconfig.xml", text)
