"""Whole builds over the scanned formats: what is rewritten, what is an error, what is a warning."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.errors import BrokenReference, MalformedSource
from assetpipe.manifest import Manifest
from assetpipe.pipeline import BuildReport, build

Tree = dict[str, "str | bytes"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
SVG_NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def run(src: Path, out: Path, **kw: object) -> tuple[Manifest, BuildReport]:
    report = build(Config(source=src, output=out, compress=False, **kw))  # type: ignore[arg-type]
    return Manifest.load(out / "manifest.json"), report


def text_of(out: Path, manifest: Manifest, logical: str) -> str:
    return (out / manifest.assets[logical].path).read_text(encoding="utf-8")


def test_svg_manifest_and_browserconfig_point_at_the_hashed_names(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "img/icons.svg": f'<svg {SVG_NS}><symbol id="i"/></svg>',
            "img/logo.svg": f'<svg {SVG_NS}><use xlink:href="icons.svg#i"/><image href="bg.png"/>'
            '<rect style="fill:url(&quot;icons.svg#g&quot;)"/></svg>',
            "img/bg.png": PNG,
            "icons/192.png": PNG + b"192",
            "site.webmanifest": json.dumps({"icons": [{"src": "icons/192.png"}], "start_url": "/"}),
            "browserconfig.xml": '<browserconfig><msapplication><tile><square150x150logo src="icons/192.png"/>'
            "</tile></msapplication></browserconfig>",
        }
    )
    out = tmp_path / "out"
    manifest, _ = run(src, out)
    icons, bg, icon = (manifest.assets[p].path for p in ("img/icons.svg", "img/bg.png", "icons/192.png"))
    logo = text_of(out, manifest, "img/logo.svg")
    assert f'xlink:href="{icons.split("/")[1]}#i"' in logo
    assert f'href="{bg.split("/")[1]}"' in logo
    assert f"url(&quot;{icons.split('/')[1]}#g&quot;)" in logo
    assert json.loads(text_of(out, manifest, "site.webmanifest"))["icons"][0]["src"] == icon
    assert f'src="{icon}"' in text_of(out, manifest, "browserconfig.xml")  # unhashed by default, at the root
    assert manifest.assets["img/logo.svg"].dependencies == ("img/bg.png", "img/icons.svg")


def test_a_missing_svg_target_is_the_usual_broken_reference_with_line_and_column(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {"img/logo.svg": f'<svg {SVG_NS}>\n  <image href="gone.png"/></svg>', "img/gone.jpg": PNG}
    )
    with pytest.raises(BrokenReference) as info:
        run(src, tmp_path / "out")
    assert str(info.value) == (
        "img/logo.svg:2:16: broken reference 'gone.png': no file 'img/gone.png' in the source root"
        " (did you mean 'img/gone.jpg'?)"
    )


def test_a_malformed_app_manifest_stops_the_build_and_keeps_the_last_manifest(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"site.webmanifest": '{"icons": []}', "a.png": PNG})
    out = tmp_path / "out"
    run(src, out)
    before = (out / "manifest.json").read_bytes()
    (src / "site.webmanifest").write_text('{"icons": [\n  {"src": "a.png"},\n]}', encoding="utf-8")
    with pytest.raises(MalformedSource) as info:
        run(src, out)
    assert str(info.value).startswith("site.webmanifest:3:1: not valid JSON: Expecting value (")
    assert (out / "manifest.json").read_bytes() == before


def test_a_plain_string_worker_is_left_alone_with_one_warning_per_file_on_every_build(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "js/app.js": 'new Worker("./w.js");\nnew SharedWorker("./w.js");\n'
            'new Worker(new URL("./w.js", import.meta.url));\n',
            "js/w.js": "postMessage(1)\n",
        }
    )
    out = tmp_path / "out"
    for _ in range(2):  # the second build reuses the recorded references: the warning stays
        manifest, report = run(src, out, cache_dir=tmp_path / "cache")
        assert report.warnings == [
            "js/app.js:1:13: worker script './w.js' is a plain string, resolved against the page rather than "
            "this module, so it is left as written and will not follow hashing (and 1 more in this file) "
            "(write new Worker(new URL('./w.js', import.meta.url)) or list it in 'unhashed')"
        ]
    app = text_of(out, manifest, "js/app.js")
    hashed = manifest.assets["js/w.js"].path.split("/")[1]
    assert app.startswith('new Worker("./w.js");\nnew SharedWorker("./w.js");\n')
    assert f'new Worker(new URL("./{hashed}", import.meta.url))' in app


def test_module_workers_service_workers_and_import_meta_resolve_are_rewritten(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "js/app.js": 'const w = new SharedWorker(new URL("./w.js", import.meta.url), {type: "module"});\n'
            'navigator.serviceWorker.register(new URL("../sw.js", import.meta.url));\n'
            'const lazy = import.meta.resolve("./lazy.js");\n',
            "js/w.js": "1\n",
            "js/lazy.js": "2\n",
            "sw.js": "3\n",
        }
    )
    out = tmp_path / "out"
    manifest, report = run(src, out)
    app = text_of(out, manifest, "js/app.js")
    w, lazy = (manifest.assets[p].path.split("/")[1] for p in ("js/w.js", "js/lazy.js"))
    assert f'new URL("./{w}", import.meta.url)' in app
    assert 'new URL("../sw.js", import.meta.url)' in app  # unhashed by default: its URL must not change
    assert f'import.meta.resolve("./{lazy}")' in app
    assert report.warnings == []


def test_a_js_source_map_comment_after_code_on_the_last_line_follows_the_map(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"js/a.js": "var fun; //# sourceMappingURL=a.js.map", "js/a.js.map": '{"version":3}'})
    out = tmp_path / "out"
    manifest, _ = run(src, out)
    map_name = manifest.assets["js/a.js.map"].path.split("/")[1]
    assert text_of(out, manifest, "js/a.js") == f"var fun; //# sourceMappingURL={map_name}"


def test_a_css_source_map_comment_mid_stylesheet_is_a_comment(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    css = "a{}\n/*# sourceMappingURL=gone.css.map */\nb{}\n"
    manifest, _ = run(make_source({"app.css": css}), tmp_path / "out")
    assert text_of(tmp_path / "out", manifest, "app.css") == css


def test_text_that_is_not_a_scanned_format_is_never_guessed_at(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"data/list.json": '{"image": "../a.png", "gone": "../nope.png"}', "a.png": PNG,
                       "notes.txt": "url(a.png) ./a.png"})  # fmt: skip
    manifest, _ = run(src, tmp_path / "out")
    assert (
        text_of(tmp_path / "out", manifest, "data/list.json")
        == '{"image": "../a.png", "gone": "../nope.png"}'
    )
    assert re.fullmatch(r"notes\.[0-9a-f]{12}\.txt", manifest.assets["notes.txt"].path)


def test_other_tools_manifest_json_files_are_copied_as_they_are(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # A vendor tree with a browser extension's manifest (JSON with comments) and a bundler's asset map.
    extension = '{\n  // comments are allowed here\n  "manifest_version": 3,\n  "name": "x"\n}\n'
    asset_map = '{"main.js": "main.3f2a9c.js"}'
    src = make_source({"ext/manifest.json": extension, "dist/manifest.json": asset_map})
    manifest, report = run(src, tmp_path / "out")
    assert report.warnings == []
    assert text_of(tmp_path / "out", manifest, "ext/manifest.json") == extension
    assert text_of(tmp_path / "out", manifest, "dist/manifest.json") == asset_map
