"""Shapes found in real npm vendor trees (a sweep of 55 packages), pinned as small fixtures.

The sweep compared the CSS scanner with Chromium's CSSOM on 1,386 vendor stylesheets and the JS scanner
with acorn on 5,993 vendor scripts; they agreed on every file. The tests below keep the reference forms
those packages rely on working, and pin the fixed divergence from the browser (a bad url() token) that
the real trees did not happen to contain but that broke output silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.errors import BrokenReference
from assetpipe.pipeline import build
from assetpipe.references.css import find_css_references

Tree = dict[str, "str | bytes"]


def _build(src: Path, out: Path) -> dict[str, dict[str, object]]:
    build(Config(source=src, output=out, compress=False))
    assets: dict[str, dict[str, object]] = json.loads((out / "manifest.json").read_text())["assets"]
    return assets


def _output_text(out: Path, assets: dict[str, dict[str, object]], logical: str) -> str:
    return (out / str(assets[logical]["path"])).read_text(encoding="utf-8")


def _name(assets: dict[str, dict[str, object]], logical: str) -> str:
    return str(assets[logical]["path"]).rsplit("/", 1)[1]


# -- forms the real trees use, which work today ---------------------------------------------------------


def test_a_cache_busting_hash_query_survives_next_to_the_content_hash(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # bootstrap-icons: url("./fonts/bootstrap-icons.woff2?e34853135f9e39acf64315236852cd5a")
    src = make_source(
        {
            "font/bi.css": '@font-face{src:url("./fonts/bi.woff2?e348531") format("woff2")}',
            "font/fonts/bi.woff2": b"woff2",
        }
    )
    assets = _build(src, tmp_path / "out")
    css = _output_text(tmp_path / "out", assets, "font/bi.css")
    assert f'url("./fonts/{_name(assets, "font/fonts/bi.woff2")}?e348531")' in css


def test_iefix_queries_with_extra_parameters_are_kept_verbatim(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # font-awesome 4 and @mdi/font: '../fonts/x.eot?#iefix&v=4.7.0'; remixicon: 'x.eot?t=176#iefix'
    src = make_source(
        {
            "css/fa.css": "@font-face{src:url('../fonts/f.eot?#iefix&v=4.7.0') format('embedded-opentype'),"
            "url('../fonts/f.eot?t=176#iefix')}",
            "fonts/f.eot": b"eot",
        }
    )
    assets = _build(src, tmp_path / "out")
    css = _output_text(tmp_path / "out", assets, "css/fa.css")
    eot = _name(assets, "fonts/f.eot")
    assert f"url('../fonts/{eot}?#iefix&v=4.7.0')" in css
    assert f"url('../fonts/{eot}?t=176#iefix')" in css


def test_a_vml_behaviour_fragment_and_a_dot_dot_after_dot_slash_are_handled_as_the_browser_does(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # leaflet.css: behavior: url(#default#VML); semantic-ui icon.css: url("./../themes/default/x.woff")
    src = make_source(
        {
            "components/icon.css": '.lvml{behavior:url(#default#VML)}a{b:url("./../themes/i.woff")}',
            "themes/i.woff": b"woff",
        }
    )
    assets = _build(src, tmp_path / "out")
    css = _output_text(tmp_path / "out", assets, "components/icon.css")
    assert "url(#default#VML)" in css
    assert f'url("../themes/{_name(assets, "themes/i.woff")}")' in css


def test_an_extensionless_esm_specifier_from_a_bundler_source_tree_stops_the_build_with_a_hint(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # leaflet/src, uikit/src/js, preact/*/src, flatpickr/dist/esm, alpinejs/builds, bootstrap@4/js/src,
    # foundation-sites/js, ionicons/dist/collection: sources for a bundler, not loadable by a browser.
    src = make_source({"src/Leaflet.js": "export * from './core/index';\n", "src/core/index.js": ""})
    with pytest.raises(BrokenReference) as exc:
        build(Config(source=src, output=tmp_path / "out", compress=False))
    assert exc.value.hint == "did you mean 'src/core/index.js'?"


# -- divergences from the browser, fixed --------------------------------------------------------------


def test_a_url_after_an_unquoted_url_holding_an_apostrophe_is_still_found() -> None:
    # Chromium loads x.png here (checked with CSSStyleSheet.replaceSync); the first url() is dropped.
    text = "a{background:url(data:image/svg+xml,<svg>it's</svg>)}b{background:url(x.png)}"
    assert [r.url for r in find_css_references(text)] == ["x.png"]


def test_a_url_after_an_unquoted_url_holding_a_double_quote_is_still_found() -> None:
    text = 'a{background:url(a"b.png)}b{background:url(x.png)}'
    assert [r.url for r in find_css_references(text)] == ["x.png"]


def test_a_minified_stylesheet_with_a_bad_url_still_points_at_the_hashed_image(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            # an odd number of quotes: paired ones happen to resynchronise the scanner
            "css/app.css": "a{mask:url(data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'>"
            "<title>it's</title></svg>)}b{background:url(../img/x.png)}",
            "img/x.png": b"png",
        }
    )
    assets = _build(src, tmp_path / "out")
    css = _output_text(tmp_path / "out", assets, "css/app.css")
    assert f"url(../img/{_name(assets, 'img/x.png')})" in css
