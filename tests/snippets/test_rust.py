"""``assetpipe snippet rust``: the generated module compiles with Debian's rustc (std only) beside a main.rs
that prints every constant, and the program's output is the manifest (its import map too); a removed asset
is a compile error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.snippets import render
from assetpipe.snippets.quoting import rust_string
from assetpipe.snippets.rust import base_name, constant_names
from tests.conftest import write_tree

from .support import require_file

#: Debian's rustc (1.63), the one .ci/run installs: a rustup toolchain earlier on PATH is much newer, and
#: the module must compile with what a distribution ships.
DEBIAN_RUSTC = "/usr/bin/rustc"

#: Odd but legal logical paths: a leading digit, spaces, quotes, a backslash, non-ASCII, and two pairs
#: that give the same constant name.
SOURCES = {
    "css/app.css": "a{}",
    "css/app-css": "b{}",
    "css/APP.css": "c{}",
    "404.svg": "<svg/>",
    'img/my logo\'s "best".svg': "<svg></svg>",
    "img/back\\slash.txt": "x",
    "img/café ☕.svg": "<svg> </svg>",
    "js/main.js": "export {};\n",
    "assets": "a file named like the module's own ASSETS",
}


def test_names_are_upper_case_words_with_a_digit_guard() -> None:
    assert base_name("css/app.css") == "CSS_APP_CSS"
    assert base_name("404.svg") == "_404_SVG"
    assert base_name("img/café ☕.svg") == "IMG_CAF_SVG"
    assert base_name("☕") == "ASSET"


def test_colliding_names_all_get_a_hash_suffix_that_does_not_depend_on_other_files() -> None:
    names = constant_names(["css/app.css", "css/app-css", "js/main.js"])
    assert names["js/main.js"] == "JS_MAIN_JS"
    assert names["css/app.css"].startswith("CSS_APP_CSS_") and names["css/app-css"].startswith("CSS_APP_CSS_")
    assert names["css/app.css"] != names["css/app-css"]
    assert constant_names(["css/app.css", "css/app-css"])["css/app.css"] == names["css/app.css"]


def test_a_name_equal_to_another_files_suffixed_name_still_gets_a_unique_one() -> None:
    first = constant_names(["css/app.css", "css/app-css"])["css/app.css"]
    impostor = first.lower().replace("_", "/", 1)  # a logical path whose plain name is exactly that
    names = constant_names(["css/app.css", "css/app-css", impostor])
    assert len(set(names.values())) == 3
    assert constant_names(["assets"]) != {"assets": "ASSETS"}
    names = constant_names(["importmap.json", "importmap-tag"])
    assert not {"IMPORTMAP_JSON", "IMPORTMAP_TAG"} & set(names.values())


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    write_tree(tmp_path / "src", SOURCES)
    config = Config(
        source=tmp_path / "src", output=tmp_path / "out", compress=False, cache_dir=tmp_path / "cache"
    )
    return build(config).manifest


def compile_and_run(tmp_path: Path, module: str, main: str) -> subprocess.CompletedProcess[str]:
    rustc = require_file(DEBIAN_RUSTC, "rustc")
    crate = tmp_path / "crate"
    crate.mkdir(exist_ok=True)
    (crate / "assets.rs").write_text(module, encoding="utf-8")
    (crate / "main.rs").write_text(main, encoding="utf-8")
    built = subprocess.run(
        [rustc, "--edition", "2021", "-D", "warnings", "-o", str(crate / "prog"), str(crate / "main.rs")],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        return built
    return subprocess.run([str(crate / "prog")], capture_output=True, text=True, check=True)


def test_the_module_compiles_and_every_constant_matches_the_manifest(
    tmp_path: Path, manifest: Manifest
) -> None:
    module = render("rust", manifest, root="/srv/out")
    names = constant_names(sorted(manifest.assets))
    assert len(set(names.values())) == len(SOURCES)
    prints = "\n".join(
        f'    println!("{{}}\\t{{}}\\t{{}}\\t{{}}", {rust_string(logical)}, assets::{name}.url, '
        f"assets::{name}.integrity, assets::{name}.content_type);"
        for logical, name in sorted(names.items())
    )
    main = f"""mod assets;
fn main() {{
{prints}
    for (logical, asset) in assets::ASSETS {{
        assert!(std::ptr::eq(assets::get(logical).unwrap(), *asset));
    }}
    assert!(assets::get("css/nope.css").is_none());
    println!("{{}}", assets::ASSETS.len());
}}
"""
    run = compile_and_run(tmp_path, module, main)
    assert run.returncode == 0, run.stderr
    *rows, count = run.stdout.splitlines()
    assert int(count) == len(manifest.assets)
    assert rows == [
        f"{logical}\t{manifest.url(logical)}\t{manifest.entry(logical).integrity}\t{manifest.entry(logical).content_type}"
        for logical in sorted(manifest.assets)
    ]


def test_a_removed_asset_is_a_compile_error_where_it_is_used(tmp_path: Path, manifest: Manifest) -> None:
    module = render("rust", manifest, root="/srv/out")
    main = 'mod assets;\nfn main() { println!("{}", assets::CSS_THEME_CSS.url); }\n'
    run = compile_and_run(tmp_path, module, main)
    assert run.returncode != 0
    assert "CSS_THEME_CSS" in run.stderr and "main.rs:2" in run.stderr


def test_the_cli_prints_the_module(tmp_path: Path, manifest: Manifest) -> None:
    from click.testing import CliRunner

    from assetpipe.cli import cli

    result = CliRunner().invoke(
        cli, ["snippet", "rust", "--manifest", str(tmp_path / "out" / "manifest.json")]
    )
    assert result.exit_code == 0, result.output
    assert result.output == render("rust", manifest, root=str((tmp_path / "out").resolve()))


def test_a_cdn_base_url_stays_whole_in_the_urls(manifest: Manifest) -> None:
    from dataclasses import replace

    module = render("rust", replace(manifest, base_url="https://cdn.example.com/assets/"), root="/srv/out")
    path = manifest.entry("css/app.css").path
    assert f'url: "https://cdn.example.com/assets/{path}"' in module


# -- the import map ----------------------------------------------------------------------------------------
HOSTILE_KEY = 'x</script><!--<script>"\\'
IMPORTMAP_SOURCES = {
    "js/app.js": 'import { greet } from "greet";\nconsole.log(greet);\n',
    "vendor/greet/index.js": 'import { shout } from "./shout.js";\nexport const greet = shout("hi");\n',
    "vendor/greet/shout.js": "export const shout = (s) => s;\n",
    'vendor/odd/a"b<c>&\\é.js': "export const odd = 1;\n",
    "importmap.json": "{}",  # named like the module's own constant
}


@pytest.fixture
def importmap_manifest(tmp_path: Path) -> Manifest:
    write_tree(tmp_path / "src", IMPORTMAP_SOURCES)
    config = Config(
        source=tmp_path / "src",
        output=tmp_path / "out",
        compress=False,
        cache_dir=tmp_path / "cache",
        importmap=(
            ("greet", "vendor/greet/index.js"),
            ("odd", 'vendor/odd/a"b<c>&\\é.js'),
            (HOSTILE_KEY, "vendor/greet/shout.js"),
        ),
        importmap_scopes=(("vendor/greet/", (("odd", "vendor/greet/shout.js"),)),),
    )
    return build(config).manifest


IMPORTMAP_MAIN = """mod assets;
fn main() {
    println!("{}", assets::IMPORTMAP_JSON);
    println!("{}", assets::IMPORTMAP_TAG);
}
"""


def test_the_module_carries_the_import_map_the_template_helpers_write(
    tmp_path: Path, importmap_manifest: Manifest
) -> None:
    from assetpipe.reader import make_snapshot
    from assetpipe.tags import importmap_json, render_importmap

    module = render("rust", importmap_manifest, root="/srv/out")
    run = compile_and_run(tmp_path, module, IMPORTMAP_MAIN)
    assert run.returncode == 0, run.stderr
    text, tag = run.stdout.splitlines()
    snap = make_snapshot(importmap_manifest)
    assert text == importmap_json(snap)
    assert tag == str(render_importmap(snap, {})) == f'<script type="importmap">{text}</script>'
    assert "<" not in text and ">" not in text and "&" not in text
    data = importmap_manifest.importmap
    assert data is not None and data.imports[HOSTILE_KEY] == importmap_manifest.url("vendor/greet/shout.js")
    assert json.loads(text) == {
        "imports": dict(data.imports),
        "scopes": {scope: dict(table) for scope, table in data.scopes.items()},
        "integrity": dict(data.integrity),
    }
    assert set(json.loads(text)["integrity"].values()) == {
        importmap_manifest.entry(m).integrity for m in IMPORTMAP_SOURCES if m.startswith("vendor/")
    }


def test_without_an_import_map_both_constants_are_empty(tmp_path: Path, manifest: Manifest) -> None:
    run = compile_and_run(tmp_path, render("rust", manifest, root="/srv/out"), IMPORTMAP_MAIN)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "\n\n"


def test_a_lone_surrogate_in_the_manifest_is_a_manifest_error_not_a_crash(
    importmap_manifest: Manifest,
) -> None:
    from dataclasses import replace

    from assetpipe.errors import ManifestError
    from assetpipe.manifest import ImportMapData

    assets = dict(importmap_manifest.assets)
    bad_key = replace(importmap_manifest, assets={**assets, "\ud800.js": assets["js/app.js"]})
    bad_map = replace(importmap_manifest, importmap=ImportMapData({"\ud800": "/a.js"}, {}, {}))
    for manifest in (bad_key, bad_map):
        with pytest.raises(ManifestError, match="not valid Unicode"):
            render("rust", manifest, root="/srv/out")
