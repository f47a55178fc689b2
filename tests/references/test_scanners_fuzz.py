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
from assetpipe.errors import AssetpipeError
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
