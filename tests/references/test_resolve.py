"""Resolving raw URLs to logical paths and writing them back: what is ours, what is left exactly as written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.asset import Kind, Reference
from assetpipe.config import Config
from assetpipe.errors import BrokenReference, EscapesSource
from assetpipe.pipeline import build
from assetpipe.references.resolve import Target, new_url, resolve

BASE = "/static/"
KNOWN = frozenset(
    {
        "css/app.css",
        "css/base.css",
        "img/logo.png",
        "img/a b.png",
        "img/100%.png",
        "img/ü.png",
        "fonts/icons.woff",
        "js/app.js",
        "js/util.js",
        "js/lib/dep.js",
        "favicon.ico",
    }
)


def ref(url: str, kind: Kind = Kind.URL, line: int = 3, column: int = 7) -> Reference:
    return Reference(url=url, start=0, end=len(url), line=line, column=column, kind=kind)


def target_of(referrer: str, url: str, kind: Kind = Kind.URL) -> Target | None:
    return resolve(referrer, ref(url, kind), BASE, KNOWN)


def logical(referrer: str, url: str, kind: Kind = Kind.URL) -> str | None:
    target = target_of(referrer, url, kind)
    return None if target is None else target.logical_path


# -- what resolves ------------------------------------------------------------------------------------------


def test_bare_relative_css_url_resolves_against_the_referrers_folder() -> None:
    assert logical("css/app.css", "base.css", Kind.IMPORT) == "css/base.css"


def test_dot_and_dot_dot_relative_urls_resolve() -> None:
    assert logical("css/app.css", "./base.css") == "css/base.css"
    assert logical("css/app.css", "../img/logo.png") == "img/logo.png"
    assert logical("js/lib/dep.js", "../util.js", Kind.MODULE) == "js/util.js"


def test_redundant_segments_are_normalised() -> None:
    assert logical("css/app.css", "./../img/./x/../logo.png") == "img/logo.png"


def test_a_referrer_at_the_root_resolves_relative_to_the_root() -> None:
    assert logical("index.css", "img/logo.png") == "img/logo.png"


def test_root_relative_url_under_the_base_path_resolves_into_src() -> None:
    target = target_of("css/app.css", "/static/img/logo.png")
    assert target == Target("img/logo.png", "", root_relative=True, dot_slash=False)


def test_root_relative_url_outside_the_base_path_is_left_alone() -> None:
    assert target_of("css/app.css", "/img/logo.png") is None
    assert target_of("css/app.css", "/staticx/img/logo.png") is None


def test_root_relative_url_with_a_base_path_of_slash() -> None:
    target = resolve("css/app.css", ref("/img/logo.png"), "/", KNOWN)
    assert target is not None and target.logical_path == "img/logo.png"


def test_query_and_fragment_are_kept_as_the_suffix() -> None:
    target = target_of("css/app.css", "../fonts/icons.woff?#iefix")
    assert target == Target("fonts/icons.woff", "?#iefix", root_relative=False, dot_slash=False)
    target = target_of("css/app.css", "../img/logo.png?v=2#top")
    assert target is not None and target.suffix == "?v=2#top"


def test_percent_encoded_names_resolve_to_the_decoded_file() -> None:
    assert logical("css/app.css", "../img/a%20b.png") == "img/a b.png"
    assert logical("css/app.css", "../img/100%25.png") == "img/100%.png"
    assert logical("css/app.css", "../img/%C3%BC.png") == "img/ü.png"


def test_a_raw_space_or_non_ascii_name_resolves_too() -> None:
    assert logical("css/app.css", "../img/a b.png") == "img/a b.png"
    assert logical("css/app.css", "../img/ü.png") == "img/ü.png"


def test_dot_slash_is_remembered_for_js() -> None:
    target = target_of("js/app.js", "./util.js", Kind.MODULE)
    assert target == Target("js/util.js", "", root_relative=False, dot_slash=True)


def test_js_root_relative_specifier_under_the_base_resolves() -> None:
    assert logical("js/app.js", "/static/js/util.js", Kind.MODULE) == "js/util.js"


def test_new_url_and_source_map_urls_may_be_bare_relative_names() -> None:
    # Unlike an import specifier, new URL("x", import.meta.url) resolves "x" relative to the module.
    assert logical("js/app.js", "util.js", Kind.URL) == "js/util.js"
    assert logical("js/app.js", "util.js", Kind.SOURCE_MAP) == "js/util.js"


# -- what is left exactly as written ---------------------------------------------------------------------------


@pytest.mark.parametrize("specifier", ["react", "lodash/fp", "@scope/pkg", "util.js", "js/util.js"])
def test_bare_js_specifiers_are_left_alone(specifier: str) -> None:
    assert target_of("js/app.js", specifier, Kind.MODULE) is None
    assert target_of("js/app.js", specifier, Kind.DYNAMIC) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.png",
        "https://example.com/a.png",
        "HTTPS://EXAMPLE.COM/A.PNG",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/svg+xml,%3Csvg%3E%3C/svg%3E",
        "blob:https://example.com/1",
        "mailto:x@example.com",
        "about:blank",
        "//cdn.example.com/a.png",
        "//cdn.example.com/static/img/logo.png",
        "#icon",
        "#",
        "",
        "   ",
        "?v=1",
    ],
)
def test_absolute_protocol_relative_data_fragment_and_empty_urls_are_left_alone(url: str) -> None:
    for kind in Kind:
        assert target_of("css/app.css", url, kind) is None


# -- errors ---------------------------------------------------------------------------------------------------


def test_climbing_out_of_src_raises_escapes_source_with_the_location() -> None:
    with pytest.raises(EscapesSource) as info:
        target_of("css/app.css", "../../secret.png")
    assert info.value.path == "css/app.css"
    assert (info.value.line, info.value.column) == (3, 7)
    assert str(info.value).startswith("css/app.css:3:7: reference '../../secret.png' resolves outside")


def test_root_relative_url_climbing_out_of_the_base_raises_escapes_source() -> None:
    with pytest.raises(EscapesSource):
        target_of("css/app.css", "/static/../etc/passwd")
    with pytest.raises(EscapesSource):
        target_of("css/app.css", "/static//etc/passwd")


def test_percent_encoded_dot_dot_still_escapes() -> None:
    with pytest.raises(EscapesSource):
        target_of("css/app.css", "%2e%2e/%2e%2e/secret.png")


def test_a_js_import_climbing_out_raises_escapes_source() -> None:
    with pytest.raises(EscapesSource):
        target_of("js/app.js", "../../x.js", Kind.MODULE)


def test_a_missing_file_raises_broken_reference_with_line_column_and_a_suggestion() -> None:
    with pytest.raises(BrokenReference) as info:
        target_of("css/app.css", "../img/logo.pgn")
    err = info.value
    assert (err.path, err.line, err.column) == ("css/app.css", 3, 7)
    assert err.hint == "did you mean 'img/logo.png'?"
    assert str(err) == (
        "css/app.css:3:7: broken reference '../img/logo.pgn': no file 'img/logo.pgn' in the source root "
        "(did you mean 'img/logo.png'?)"
    )


def test_a_missing_file_with_nothing_similar_has_no_suggestion() -> None:
    with pytest.raises(BrokenReference) as info:
        target_of("css/app.css", "../zzzzzzzzzz/qqqqqq.gif")
    assert info.value.hint is None


@pytest.mark.parametrize(
    ("known", "url", "suggested"),
    [
        # flatpickr's dist/esm/l10n/index.js: './cs' with cs.js and cy.js beside it
        ({"l10n/index.js", "l10n/cs.js", "l10n/cy.js"}, "./cs", "l10n/cs.js"),
        # moment's src/lib/locale: './locales' with locale.js and locales.js
        ({"l10n/index.js", "l10n/locale.js", "l10n/locales.js"}, "./locales", "l10n/locales.js"),
        # flatpickr's './utils': a folder with index.js and dom.js
        ({"l10n/index.js", "l10n/utils/dom.js", "l10n/utils/index.js"}, "./utils", "l10n/utils/index.js"),
    ],
)
def test_an_extensionless_import_suggests_the_file_a_bundler_would_pick(
    known: set[str], url: str, suggested: str
) -> None:
    with pytest.raises(BrokenReference) as info:
        resolve("l10n/index.js", ref(url, Kind.MODULE), BASE, frozenset(known))
    assert info.value.hint == f"did you mean {suggested!r}?"


def test_a_missing_js_module_is_a_broken_reference() -> None:
    with pytest.raises(BrokenReference, match=r"no file 'js/missing\.js'"):
        target_of("js/app.js", "./missing.js", Kind.MODULE)


def test_a_backslash_or_nul_in_a_decoded_url_is_a_broken_reference_not_a_crash() -> None:
    with pytest.raises(BrokenReference, match="unsupported character"):
        target_of("css/app.css", "..\\img\\logo.png")
    with pytest.raises(BrokenReference, match="unsupported character"):
        target_of("css/app.css", "a%00.png")


# -- new_url: writing back in the same style -------------------------------------------------------------------


def test_relative_url_is_rewritten_relative_to_the_referrer() -> None:
    target = Target("img/logo.png", "", root_relative=False, dot_slash=False)
    assert new_url("css/app.css", target, "img/logo.0123456789ab.png", BASE) == "../img/logo.0123456789ab.png"


def test_same_folder_url_stays_bare_unless_it_was_written_with_dot_slash() -> None:
    bare = Target("css/base.css", "", root_relative=False, dot_slash=False)
    dotted = Target("css/base.css", "", root_relative=False, dot_slash=True)
    assert new_url("css/app.css", bare, "css/base.0123456789ab.css", BASE) == "base.0123456789ab.css"
    assert new_url("css/app.css", dotted, "css/base.0123456789ab.css", BASE) == "./base.0123456789ab.css"


def test_dot_slash_is_not_prepended_to_a_dot_dot_path() -> None:
    target = Target("js/util.js", "", root_relative=False, dot_slash=True)
    assert new_url("js/lib/dep.js", target, "js/util.0123456789ab.js", BASE) == "../util.0123456789ab.js"


def test_root_relative_url_stays_root_relative_under_the_base_path() -> None:
    target = Target("img/logo.png", "", root_relative=True, dot_slash=False)
    assert (
        new_url("css/app.css", target, "img/logo.0123456789ab.png", BASE)
        == "/static/img/logo.0123456789ab.png"
    )


def test_suffix_is_appended_after_the_hashed_name() -> None:
    target = Target("fonts/icons.woff", "?#iefix", root_relative=False, dot_slash=False)
    assert new_url("css/app.css", target, "fonts/icons.0123456789ab.woff", BASE) == (
        "../fonts/icons.0123456789ab.woff?#iefix"
    )


def test_names_are_written_back_percent_encoded() -> None:
    target = Target("img/a b.png", "", root_relative=False, dot_slash=False)
    assert new_url("css/app.css", target, "img/a b.0123456789ab.png", BASE) == "../img/a%20b.0123456789ab.png"
    target = Target("img/a b.png", "", root_relative=True, dot_slash=False)
    assert (
        new_url("css/app.css", target, "img/a b.0123456789ab.png", BASE)
        == "/static/img/a%20b.0123456789ab.png"
    )


def test_quotes_parentheses_and_backslashes_never_reach_the_written_url() -> None:
    target = Target("img/x.png", "", root_relative=False, dot_slash=False)
    written = new_url("css/app.css", target, 'img/it\'s (1) "q" \\.0123456789ab.png', BASE)
    assert not set("'\"()\\ ") & set(written)


def test_resolving_then_writing_back_round_trips_the_logical_path() -> None:
    for url in ["../img/a%20b.png", "../img/100%25.png", "../img/%C3%BC.png", "/static/img/logo.png?x#y"]:
        target = target_of("css/app.css", url)
        assert target is not None
        written = new_url("css/app.css", target, target.logical_path, BASE)
        again = target_of("css/app.css", written)
        assert again == target


# -- through a real build --------------------------------------------------------------------------------------


def run_build(src: Path, tmp_path: Path, **options: object) -> Path:
    out = tmp_path / "out"
    build(Config(source=src, output=out, compress=False, **options))  # type: ignore[arg-type]
    return out


def built_text(out: Path, logical_path: str) -> str:
    import json

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    text: str = (out / manifest["assets"][logical_path]["path"]).read_bytes().decode("utf-8")
    return text


def hashed(out: Path, logical_path: str) -> str:
    import json

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    path: str = manifest["assets"][logical_path]["path"]
    return path


def test_build_rewrites_every_css_form_and_leaves_the_rest_as_written(
    make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path
) -> None:
    css = (
        "@import 'base.css' screen;\n"
        "a { b: url( '../img/logo.png' ) }\n"
        "c { d: URL(/static/img/logo.png); e: url(https://x.test/a.png); f: url(#m); g: url(data:,x) }\n"
        '@font-face { src: url("../fonts/icons.woff?#iefix") format("woff") }\n'
        'h { i: image-set("../img/a%20b.png" 1x) }\n'
        '/* url(../img/gone.png) */ j::after { content: "url(../img/gone.png)" }\n'
    )
    src = make_source(
        {
            "css/app.css": css,
            "css/base.css": "x{}",
            "img/logo.png": b"\x89PNG logo",
            "img/a b.png": b"\x89PNG space",
            "fonts/icons.woff": b"wOFF",
        }
    )
    out = run_build(src, tmp_path)
    text = built_text(out, "css/app.css")
    logo = hashed(out, "img/logo.png").split("/")[-1]
    space = hashed(out, "img/a b.png").split("/")[-1].replace(" ", "%20")
    base = hashed(out, "css/base.css").split("/")[-1]
    font = hashed(out, "fonts/icons.woff").split("/")[-1]
    assert text == (
        f"@import '{base}' screen;\n"
        f"a {{ b: url( '../img/{logo}' ) }}\n"
        f"c {{ d: URL(/static/img/{logo}); e: url(https://x.test/a.png); f: url(#m); g: url(data:,x) }}\n"
        f'@font-face {{ src: url("../fonts/{font}?#iefix") format("woff") }}\n'
        f'h {{ i: image-set("../img/{space}" 1x) }}\n'
        '/* url(../img/gone.png) */ j::after { content: "url(../img/gone.png)" }\n'
    )


def test_build_rewrites_js_modules_and_leaves_bare_specifiers(
    make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path
) -> None:
    js = (
        'import React from "react"\n'
        'import { u } from "./util.js"\n'
        'export * from "./lib/dep.js";\n'
        'const lazy = () => import("./util.js")\n'
        'const img = new URL("../img/logo.png", import.meta.url)\n'
        '// import "./gone.js"\n'
        'const s = `import "./gone.js"`\n'
        "//# sourceMappingURL=app.js.map\n"
    )
    src = make_source(
        {
            "js/app.js": js,
            "js/app.js.map": "{}",
            "js/util.js": "export const u = 1",
            "js/lib/dep.js": "export const d = 2",
            "img/logo.png": b"\x89PNG",
        }
    )
    out = run_build(src, tmp_path)
    name = {
        p: hashed(out, p).split("/")[-1]
        for p in ["js/util.js", "js/lib/dep.js", "img/logo.png", "js/app.js.map"]
    }
    assert built_text(out, "js/app.js") == (
        'import React from "react"\n'
        f'import {{ u }} from "./{name["js/util.js"]}"\n'
        f'export * from "./lib/{name["js/lib/dep.js"]}";\n'
        f'const lazy = () => import("./{name["js/util.js"]}")\n'
        f'const img = new URL("../img/{name["img/logo.png"]}", import.meta.url)\n'
        '// import "./gone.js"\n'
        'const s = `import "./gone.js"`\n'
        f"//# sourceMappingURL={name['js/app.js.map']}\n"
    )


def test_build_fails_on_a_missing_file_naming_the_place_and_a_suggestion(
    make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path
) -> None:
    src = make_source({"css/app.css": "a{}\nb { c: url(../img/logo.pgn) }", "img/logo.png": b"x"})
    with pytest.raises(BrokenReference) as info:
        run_build(src, tmp_path)
    assert str(info.value).startswith("css/app.css:2:12: broken reference '../img/logo.pgn'")
    assert info.value.hint == "did you mean 'img/logo.png'?"
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_build_in_warn_mode_leaves_a_broken_reference_as_written(
    make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path
) -> None:
    css = "a { b: url(gone.png); c: url(ok.png) }"
    src = make_source({"app.css": css, "ok.png": b"x"})
    out = run_build(src, tmp_path, broken_references="warn")
    assert built_text(out, "app.css") == f"a {{ b: url(gone.png); c: url({hashed(out, 'ok.png')}) }}"


def test_build_refuses_a_reference_outside_src_and_never_reads_it(
    make_source: Callable[[dict[str, str | bytes]], Path], tmp_path: Path
) -> None:
    (tmp_path / "secret.png").write_bytes(b"secret")
    src = make_source({"css/app.css": "a { b: url(../../secret.png) }"})
    with pytest.raises(EscapesSource) as info:
        run_build(src, tmp_path)
    assert info.value.path == "css/app.css"
    assert (info.value.line, info.value.column) == (1, 12)
    assert not list((tmp_path / "out").rglob("secret*"))
