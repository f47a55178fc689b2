"""plan with an import map: every bare specifier in every module resolves to a published module, or the
build stops naming file, line and column; bare specifiers stay as written and order nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from assetpipe.config import Config, Mount
from assetpipe.errors import BrokenReference, ConfigError, InvalidEncoding
from assetpipe.jinja import render_tag
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.reader import make_snapshot
from tests.conftest import Tree, write_tree

LIT: Tree = {"index.js": 'export * from "./core.js";\n', "core.js": "export const html = 1;\n"}


def project(tmp_path: Path, app: Tree, **kw: object) -> Config:
    write_tree(tmp_path / "src", app)
    write_tree(tmp_path / "nm" / "lit", LIT)
    mounts = (Mount("vendor/lit/", tmp_path / "nm" / "lit"),)
    imports = (("lit", "vendor/lit/index.js"), ("lit/", "vendor/lit/"))
    return Config(
        source=tmp_path / "src",
        output=tmp_path / "out",
        compress=False,
        cache_dir=tmp_path / "cache",
        mounts=mounts,
        importmap=imports,
        **kw,  # type: ignore[arg-type]
    )


def test_bare_specifiers_stay_bare_and_the_manifest_maps_them_to_hashed_urls_with_integrity(
    tmp_path: Path,
) -> None:
    app = 'import { html } from "lit";\nimport "lit/core.js";\n'
    manifest = build(project(tmp_path, {"js/app.js": app})).manifest
    out = tmp_path / "out"
    assert (out / manifest.assets["js/app.js"].path).read_text() == app
    lit, core = manifest.assets["vendor/lit/index.js"], manifest.assets["vendor/lit/core.js"]
    assert manifest.importmap is not None
    assert manifest.importmap.imports == {"lit": f"/static/{lit.path}", "lit/core.js": f"/static/{core.path}"}
    assert manifest.importmap.integrity == {
        f"/static/{lit.path}": lit.integrity,
        f"/static/{core.path}": core.integrity,
    }
    assert manifest.assets["js/app.js"].imports == ("vendor/lit/core.js", "vendor/lit/index.js")
    written = json.loads((out / "manifest.json").read_text())
    assert written["importmap"]["imports"]["lit"] == f"/static/{lit.path}"
    assert Manifest.load(out / "manifest.json") == manifest


def test_an_unmapped_bare_specifier_stops_the_build_naming_file_line_and_column(tmp_path: Path) -> None:
    config = project(tmp_path, {"js/app.js": 'import "lit";\n  import { x } from "lti/core.js";\n'})
    with pytest.raises(BrokenReference) as info:
        build(config)
    assert str(info.value) == (
        "js/app.js:2:22: bare specifier 'lti/core.js' is not in the import map (did you mean 'lit/core.js'?)"
    )
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_dynamic_import_of_an_unmapped_name_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(BrokenReference, match=r"js/app\.js:1:9: bare specifier .nope."):
        build(project(tmp_path, {"js/app.js": 'import("nope");\n'}))


def test_with_broken_references_warn_an_unmapped_specifier_is_a_warning(tmp_path: Path) -> None:
    report = build(project(tmp_path, {"js/app.js": 'import "nope";\n'}, broken_references="warn"))
    assert report.warnings == ["js/app.js:1:9: bare specifier 'nope' is not in the import map"]


def test_without_an_import_map_bare_specifiers_are_left_alone(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"js/app.js": 'import "react";\n'})
    manifest = build(Config(source=tmp_path / "src", output=tmp_path / "out", compress=False)).manifest
    assert manifest.importmap is None
    assert '"importmap"' not in (tmp_path / "out" / "manifest.json").read_text()


def test_a_cycle_through_bare_specifiers_does_not_block_hashing(tmp_path: Path) -> None:
    app: Tree = {
        "js/a.js": 'import "b";\nexport const a = 1;\n',
        "js/b.js": 'import "a";\nexport const b = 2;\n',
    }
    config = replace(project(tmp_path, app), importmap=(("a", "js/a.js"), ("b", "js/b.js")))
    manifest = build(config).manifest
    assert manifest.assets["js/a.js"].imports == ("js/b.js",)
    assert manifest.assets["js/b.js"].imports == ("js/a.js",)
    assert manifest.importmap is not None and set(manifest.importmap.imports) == {"a", "b"}


def test_upgrading_a_vendored_package_renames_its_files_and_changes_the_map_but_no_app_module(
    tmp_path: Path,
) -> None:
    config = project(tmp_path, {"js/app.js": 'import { html } from "lit";\n'})
    first = build(config).manifest
    (tmp_path / "nm" / "lit" / "core.js").write_text("export const html = 2;\n")
    second = build(config).manifest
    assert second.assets["js/app.js"] == first.assets["js/app.js"]
    assert second.assets["vendor/lit/index.js"].path != first.assets["vendor/lit/index.js"].path
    assert first.importmap is not None and second.importmap is not None
    assert second.importmap.imports["lit"] != first.importmap.imports["lit"]


def test_module_preloads_follow_bare_specifiers(tmp_path: Path) -> None:
    manifest = build(project(tmp_path, {"js/app.js": 'import { html } from "lit";\n'})).manifest
    html = str(render_tag(make_snapshot(manifest), "js/app.js", {}))
    for name in ("vendor/lit/index.js", "vendor/lit/core.js"):
        assert f'<link rel="modulepreload" href="/static/{manifest.assets[name].path}"' in html


def test_a_configured_target_that_is_no_published_module_is_a_config_error(tmp_path: Path) -> None:
    config = replace(project(tmp_path, {"css/x.css": ""}), importmap=(("x", "css/x.css"),))
    with pytest.raises(ConfigError, match=r"\[importmap\] 'x' maps to 'css/x.css', which is not a published"):
        build(config)


def test_an_error_in_a_mounted_file_names_its_logical_path_and_real_file(tmp_path: Path) -> None:
    config = project(tmp_path, {"js/app.js": 'import "lit";\n'})
    (tmp_path / "nm" / "lit" / "core.js").write_bytes(b"export const x = '\xff';\n")
    with pytest.raises(InvalidEncoding) as info:
        build(config)
    assert info.value.path == "vendor/lit/core.js"
    assert f"(file {tmp_path / 'nm' / 'lit' / 'core.js'})" in info.value.message


def test_changing_the_map_alone_rebuilds_what_it_changes(tmp_path: Path) -> None:
    app: Tree = {"js/app.js": 'import "x";\n', "js/x1.js": "", "js/x2.js": ""}
    config = replace(project(tmp_path, app), importmap=(("x", "js/x1.js"),))
    assert build(config).manifest.assets["js/app.js"].imports == ("js/x1.js",)
    manifest = build(replace(config, importmap=(("x", "js/x2.js"),))).manifest
    assert manifest.assets["js/app.js"].imports == ("js/x2.js",)
    assert manifest.importmap is not None and manifest.importmap.imports["x"].startswith("/static/js/x2.")


def test_a_listed_package_whose_entry_module_is_excluded_is_a_config_error_naming_the_package(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path / "src", {"js/app.js": ""})
    write_tree(
        tmp_path / "node_modules" / "lib",
        {"package.json": '{"type": "module", "exports": "./i.js"}', "i.js": ""},
    )
    config = Config(
        source=tmp_path / "src",
        output=tmp_path / "out",
        compress=False,
        importmap_packages=("lib",),
        node_modules=tmp_path / "node_modules",
        exclude=("vendor/lib/i.js",),
    )
    with pytest.raises(
        ConfigError, match=r"'importmap_packages': package 'lib' maps to 'vendor/lib/i\.js', which is"
    ):
        build(config)
