"""importmap: package.json exports read as a browser build would, HTML-spec resolution, did-you-mean errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assetpipe.config import Config
from assetpipe.errors import BrokenReference, ConfigError
from assetpipe.importmap import (
    ImportMap,
    NoModuleBuild,
    Package,
    Resolved,
    check_specifier,
    entries,
    is_bare,
    load,
    published,
    resolve,
)
from assetpipe.manifest import ManifestEntry
from assetpipe.pipeline import build


def package(data: dict[str, Any], name: str = "pkg") -> Package:
    return Package(name, "1.0.0", Path("/nm") / name, f"vendor/{name}/", data)


def install(node_modules: Path, name: str, data: dict[str, Any], files: dict[str, str] | None = None) -> Path:
    """A package in ``node_modules`` as npm leaves it: package.json and its files."""
    folder = node_modules / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0", **data}))
    for rel, text in (files or {}).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def test_bare_specifiers_are_those_no_url_resolves() -> None:
    assert [
        s
        for s in ("lit", "@lit/x", "lit/a.js", "./a.js", "../a", "/a.js", "https://x/a", "node:fs", "")
        if is_bare(s)
    ] == ["lit", "@lit/x", "lit/a.js"]


def test_exports_conditions_are_tried_browser_import_module_default_and_types_node_and_require_never() -> (
    None
):
    table = entries(
        package(
            {
                "type": "module",
                "exports": {
                    ".": {
                        "types": "./x.d.ts",
                        "node": "./node.js",
                        "default": "./index.js",
                        "browser": {"development": "./dev.js", "default": "./browser.js"},
                    },
                    "./a.js": {"require": "./a.cjs", "import": "./esm/a.js"},
                    "./b.js": ["./missing-condition-first.js"],
                    "./package.json": "./package.json",
                    "./gone.js": None,
                },
            }
        )
    )
    assert table == {
        "pkg": "vendor/pkg/browser.js",
        "pkg/a.js": "vendor/pkg/esm/a.js",
        "pkg/b.js": "vendor/pkg/missing-condition-first.js",
    }


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        # The package's key order does not matter: browser, then import, then module, then default.
        ({"default": "./d.js", "module": "./m.js", "import": "./i.js", "browser": "./b.js"}, "b.js"),
        ({"default": "./d.js", "module": "./m.js", "import": "./i.js"}, "i.js"),
        ({"default": "./d.js", "module": "./m.js"}, "m.js"),
        # A condition that leads to nothing usable falls through to the next one.
        ({"browser": None, "default": "./d.js", "import": "./i.js"}, "i.js"),
        ({"browser": "./b.cjs", "import": "./i.js"}, "i.js"),
        ({"browser": {"require": "./b.cjs", "node": "./n.js"}, "module": "./m.js"}, "m.js"),
        ({"browser": "../outside.js", "default": "./d.js"}, "d.js"),
        ({"browser": "./style.css", "default": "./d.js"}, "d.js"),
        # Nesting: the same order inside each level.
        ({"node": "./n.js", "browser": {"require": "./b.cjs", "import": "./b.js"}}, "b.js"),
        ({"browser": {"default": "./bd.js", "import": {"default": "./bi.js"}}}, "bi.js"),
        # Arrays are fallbacks: the first item that works.
        ({"browser": [None, "./b.cjs", {"import": "./bi.js"}, "./late.js"]}, "bi.js"),
        (["./first.cjs", {"default": "./d.js"}], "d.js"),
    ],
    ids=[
        "browser first",
        "import before module",
        "module before default",
        "null falls through",
        "commonjs falls through",
        "no nested match falls through",
        "outside the package falls through",
        "not a module falls through",
        "nested browser-import",
        "nested order",
        "array fallbacks",
        "top-level array",
    ],
)
def test_each_level_of_conditions_takes_the_first_of_browser_import_module_default_that_works(
    conditions: Any, expected: str
) -> None:
    assert (
        entries(package({"type": "module", "exports": {".": conditions}}))["pkg"] == f"vendor/pkg/{expected}"
    )


def test_a_commonjs_package_maps_only_what_its_import_or_module_condition_names() -> None:
    table = entries(
        package(
            {"exports": {".": {"import": "./index.mjs", "default": "./index.js"}, "./cjs.js": "./cjs.js"}}
        )
    )
    assert table == {"pkg": "vendor/pkg/index.mjs"}


def test_a_subpath_pattern_with_the_same_suffix_becomes_a_prefix_key() -> None:
    table = entries(
        package(
            {
                "type": "module",
                "exports": {
                    ".": "./i.js",
                    "./features/*": "./src/features/*",
                    "./x/*.js": "./dist/x/*.js",
                    "./odd/*": "./o/*.mjs",
                },
            }
        )
    )
    assert table == {
        "pkg": "vendor/pkg/i.js",
        "pkg/features/": "vendor/pkg/src/features/",
        "pkg/x/": "vendor/pkg/dist/x/",
    }


def test_without_exports_the_module_field_wins_and_every_file_is_importable_by_path() -> None:
    table = entries(package({"main": "dist/x.umd.js", "module": "dist/x.esm.js"}, "htmx.org"))
    assert table == {"htmx.org": "vendor/htmx.org/dist/x.esm.js", "htmx.org/": "vendor/htmx.org/"}


def test_main_is_a_fallback_only_for_an_es_package() -> None:
    assert entries(package({"type": "module", "main": "./index"}))["pkg"] == "vendor/pkg/index.js"
    with pytest.raises(NoModuleBuild, match="neither 'module' nor an ES 'main'"):
        entries(package({"main": "index.js"}))
    with pytest.raises(NoModuleBuild, match="exports give no"):
        entries(package({"exports": {"require": "./index.cjs", "node": "./index.js"}}))


def test_an_export_outside_the_package_is_not_mapped() -> None:
    with pytest.raises(NoModuleBuild):
        entries(package({"type": "module", "exports": "../other/index.js"}))


MAP = ImportMap(
    imports=(("lit", "vendor/lit/index.js"), ("lit/", "vendor/lit/"), ("lit/decorators/", "vendor/dec/")),
    scopes=(("vendor/old/", (("lit", "vendor/lit-2/index.js"),)), ("js/only.js", (("x", "js/x.js"),))),
)


@pytest.mark.parametrize(
    ("referrer", "specifier", "expected"),
    [
        ("js/app.js", "lit", Resolved("", "vendor/lit/index.js")),
        ("js/app.js", "lit/a/b.js", Resolved("", "vendor/lit/a/b.js")),
        ("js/app.js", "lit/decorators/x.js", Resolved("", "vendor/dec/x.js")),  # the longest prefix
        ("vendor/old/m.js", "lit", Resolved("vendor/old/", "vendor/lit-2/index.js")),
        ("vendor/old/m.js", "lit/a.js", Resolved("", "vendor/lit/a.js")),  # falls through to the top
        ("js/only.js", "x", Resolved("js/only.js", "js/x.js")),
        ("js/other.js", "x", None),
        ("js/app.js", "lit/../../etc/passwd", None),  # climbing out of a prefix is blocked, as in browsers
        ("js/app.js", "lit/", Resolved("", "vendor/lit/")),  # a folder: check_specifier refuses it
        ("js/app.js", "lite", None),
    ],
)
def test_resolution_follows_the_html_spec_over_logical_paths(
    referrer: str, specifier: str, expected: Resolved | None
) -> None:
    assert resolve(MAP, referrer, specifier) == expected


def test_an_unmapped_specifier_names_file_line_column_and_the_nearest_key() -> None:
    with pytest.raises(BrokenReference) as info:
        check_specifier(MAP, "js/app.js", "lti", {"vendor/lit/index.js"}, 3, 22)
    assert str(info.value) == (
        "js/app.js:3:22: bare specifier 'lti' is not in the import map (did you mean 'lit'?)"
    )


def test_a_specifier_mapped_to_a_missing_file_suggests_a_published_one_under_the_prefix() -> None:
    known = {"vendor/lit/index.js", "vendor/lit/decorators.js"}
    with pytest.raises(
        BrokenReference,
        match=r"'lit/decorator.js' maps to 'vendor/lit/decorator.js', "
        r"which is not in the build \(did you mean 'lit/decorators.js'\?\)",
    ):
        check_specifier(MAP, "js/app.js", "lit/decorator.js", known, 1, 1)


def test_a_specifier_mapped_to_a_stylesheet_is_refused() -> None:
    imap = ImportMap(imports=(("theme", "css/theme.css"),))
    with pytest.raises(BrokenReference, match="which is not a JS module"):
        check_specifier(imap, "js/app.js", "theme", {"css/theme.css"}, 1, 1)


def entry(path: str, imports: tuple[str, ...] = ()) -> ManifestEntry:
    return ManifestEntry(path, "0" * 12, "sha384-" + "A" * 64, 1, "text/javascript", imports=imports)


def test_the_published_map_names_hashed_urls_and_integrity_for_the_whole_static_closure() -> None:
    entries_ = {
        "vendor/lit/index.js": entry("vendor/lit/index.0123.js", ("vendor/lit/a.js",)),
        "vendor/lit/a.js": entry("vendor/lit/a.4567.js", ("vendor/lit/index.js",)),  # a cycle: fine
        "vendor/lit-2/index.js": entry("vendor/lit-2/index.89ab.js"),
        "vendor/lit/unused.js": entry("vendor/lit/unused.cdef.js"),
    }
    imap = ImportMap(imports=MAP.imports, scopes=MAP.scopes, always=frozenset({("", "lit")}))
    data = published(imap, [("lit", Resolved("vendor/old/", "vendor/lit-2/index.js"))], entries_, "/s/")
    assert data.imports == {"lit": "/s/vendor/lit/index.0123.js"}
    assert data.scopes == {"/s/vendor/old/": {"lit": "/s/vendor/lit-2/index.89ab.js"}}
    assert sorted(data.integrity) == [
        "/s/vendor/lit-2/index.89ab.js",
        "/s/vendor/lit/a.4567.js",
        "/s/vendor/lit/index.0123.js",
    ]


def config_with(tmp_path: Path, **kw: Any) -> Config:
    (tmp_path / "src").mkdir(exist_ok=True)
    return Config(
        source=tmp_path / "src", output=tmp_path / "out", node_modules=tmp_path / "node_modules", **kw
    )


def test_packages_are_mounted_under_vendor_and_their_dependencies_followed(tmp_path: Path) -> None:
    nm = tmp_path / "node_modules"
    install(
        nm,
        "app-lib",
        {
            "type": "module",
            "exports": "./i.js",
            "dependencies": {"dep": "^1", "@types/trusted-types": "^2", "cjs-only": "^1", "missing": "^1"},
        },
    )
    install(nm, "dep", {"module": "esm/dep.js"})
    install(nm, "@types/trusted-types", {"types": "index.d.ts"})
    install(nm, "cjs-only", {"main": "index.js"})
    imap = load(config_with(tmp_path, importmap_packages=("app-lib",)))
    assert dict(imap.imports) == {
        "app-lib": "vendor/app-lib/i.js",
        "dep": "vendor/dep/esm/dep.js",
        "dep/": "vendor/dep/",
    }
    assert [(m.prefix, m.directory.name) for m in imap.mounts] == [
        ("vendor/app-lib/", "app-lib"),
        ("vendor/dep/", "dep"),
    ]
    assert imap.always == {("", "app-lib")}
    assert set(imap.unavailable) == {"cjs-only", "missing"}
    with pytest.raises(BrokenReference, match=r"package 'cjs-only' has no ES module build"):
        check_specifier(imap, "vendor/app-lib/i.js", "cjs-only", set(), 1, 8)


def test_installed_packages_are_read_in_condition_priority_not_their_key_order(tmp_path: Path) -> None:
    nm = tmp_path / "node_modules"
    # Shaped like uuid 9: Node's builds listed first, the browser build under "browser" -> "import".
    install(
        nm,
        "ids",
        {
            "main": "./dist/index.js",
            "exports": {
                ".": {
                    "node": {"module": "./dist/esm-node/index.js", "import": "./wrapper.mjs"},
                    "default": "./dist/esm-browser/index.js",
                    "import": "./wrapper.mjs",
                    "browser": {
                        "require": "./dist/commonjs-browser/index.js",
                        "import": "./dist/esm-browser/index.js",
                    },
                },
                "./package.json": "./package.json",
            },
        },
        {"dist/esm-browser/index.js": "export const v4 = () => 'x';\n", "wrapper.mjs": "export {};\n"},
    )
    # A CommonJS package whose "browser" build is CommonJS: the ES build under "import" is taken instead.
    install(
        nm,
        "dual",
        {
            "main": "./dist/index.cjs",
            "exports": {
                ".": {
                    "types": "./dist/index.d.ts",
                    "browser": "./dist/browser.cjs",
                    "default": "./dist/index.cjs",
                    "import": "./dist/index.mjs",
                },
                "./utils": {"default": "./dist/utils.cjs", "import": "./dist/utils.mjs"},
                "./node-only": {"node": "./dist/node.mjs", "default": "./dist/node.cjs"},
            },
        },
        {"dist/index.mjs": "export default 1;\n", "dist/utils.mjs": "export const u = 1;\n"},
    )
    imap = load(config_with(tmp_path, importmap_packages=("ids", "dual")))
    assert dict(imap.imports) == {
        "dual": "vendor/dual/dist/index.mjs",
        "dual/utils": "vendor/dual/dist/utils.mjs",
        "ids": "vendor/ids/dist/esm-browser/index.js",
    }


def test_a_build_publishes_the_es_build_the_priority_picks_and_not_the_commonjs_browser_file(
    tmp_path: Path,
) -> None:
    install(
        tmp_path / "node_modules",
        "dual",
        {"exports": {"default": "./index.cjs", "import": "./index.mjs", "browser": "./browser.cjs"}},
        {"index.mjs": "export default 'es';\n", "index.cjs": "module.exports = 'cjs';\n"},
    )
    (tmp_path / "src/js").mkdir(parents=True)
    (tmp_path / "src/js/app.js").write_text('import dual from "dual";\n')
    manifest = build(replace(config_with(tmp_path, importmap_packages=("dual",)), compress=False)).manifest
    assert manifest.importmap is not None
    entry = manifest.assets["vendor/dual/index.mjs"]
    assert manifest.importmap.imports == {"dual": f"{manifest.base_url}{entry.path}"}
    assert (tmp_path / "out" / entry.path).read_text() == "export default 'es';\n"


def test_a_package_whose_conditions_lead_only_to_commonjs_is_named_with_the_order_tried(
    tmp_path: Path,
) -> None:
    install(
        tmp_path / "node_modules",
        "cjs-browser",
        {"exports": {"browser": "./b.cjs", "default": "./index.js", "require": "./index.js"}},
    )
    with pytest.raises(ConfigError, match=r"no browser/import/module/default ES module for '\.'"):
        load(config_with(tmp_path, importmap_packages=("cjs-browser",)))


def test_a_nested_copy_of_a_dependency_is_scoped_to_the_package_that_needs_it(tmp_path: Path) -> None:
    nm = tmp_path / "node_modules"
    install(nm, "a", {"type": "module", "exports": "./a.js", "dependencies": {"shared": "^2"}})
    install(nm, "b", {"type": "module", "exports": "./b.js", "dependencies": {"shared": "^1"}})
    install(nm, "shared", {"type": "module", "version": "1.0.0", "exports": "./v1.js"})
    nested = install(nm / "a" / "node_modules", "shared", {"type": "module", "exports": "./v2.js"})
    (nested / "package.json").write_text(
        json.dumps({"name": "shared", "version": "2.0.0", "type": "module", "exports": "./v2.js"})
    )
    imap = load(config_with(tmp_path, importmap_packages=("a", "b")))
    assert resolve(imap, "vendor/b/b.js", "shared") == Resolved("", "vendor/shared/v1.js")
    assert resolve(imap, "vendor/a/a.js", "shared") == Resolved("vendor/a/", "vendor/shared@2.0.0/v2.js")
    assert {m.prefix for m in imap.mounts} == {
        "vendor/a/",
        "vendor/b/",
        "vendor/shared/",
        "vendor/shared@2.0.0/",
    }


def test_a_listed_package_without_an_es_module_build_is_a_config_error_naming_it(tmp_path: Path) -> None:
    install(tmp_path / "node_modules", "old-umd", {"main": "dist/old.js"})
    with pytest.raises(ConfigError, match="package 'old-umd' has no ES module build") as info:
        load(config_with(tmp_path, importmap_packages=("old-umd",)))
    assert info.value.path is not None and info.value.path.endswith("old-umd/package.json")


def test_a_package_that_is_not_installed_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'nope' is not installed") as info:
        load(config_with(tmp_path, importmap_packages=("nope",)))
    assert info.value.hint == "run 'npm install nope' beside the config file, or set 'node_modules'"


def test_a_broken_package_json_is_a_config_error_naming_it(tmp_path: Path) -> None:
    folder = install(tmp_path / "node_modules", "bad", {})
    (folder / "package.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"cannot read package\.json") as info:
        load(config_with(tmp_path, importmap_packages=("bad",)))
    assert info.value.path == str(folder.resolve() / "package.json")


def test_the_configs_own_keys_win_over_a_packages(tmp_path: Path) -> None:
    install(tmp_path / "node_modules", "lib", {"type": "module", "exports": "./i.js"})
    config = config_with(
        tmp_path,
        importmap_packages=("lib",),
        importmap=(("lib", "js/my-lib.js"),),
        importmap_scopes=(("js/legacy/", (("lib", "js/old-lib.js"),)),),
    )
    imap = load(config)
    assert resolve(imap, "js/app.js", "lib") == Resolved("", "js/my-lib.js")
    assert resolve(imap, "js/legacy/x.js", "lib") == Resolved("js/legacy/", "js/old-lib.js")
    assert ("js/legacy/", "lib") in imap.configured


def test_a_dependency_name_that_could_climb_out_of_node_modules_is_never_followed(tmp_path: Path) -> None:
    nm = tmp_path / "node_modules"
    install(nm, "lib", {"type": "module", "exports": "./i.js", "dependencies": {"../../secret": "1"}})
    install(tmp_path, "secret", {"type": "module", "exports": "./s.js"})
    imap = load(config_with(tmp_path, importmap_packages=("lib",)))
    assert [m.prefix for m in imap.mounts] == ["vendor/lib/"]
    assert dict(imap.imports) == {"lib": "vendor/lib/i.js"}


def test_hostile_package_json_nesting_is_an_error_or_no_entry_never_a_crash(tmp_path: Path) -> None:
    deep: Any = "./i.js"
    for _ in range(100):
        deep = {"import": deep}
    with pytest.raises(NoModuleBuild):
        entries(package({"exports": {".": deep}}))
    folder = install(tmp_path / "node_modules", "deep", {})
    (folder / "package.json").write_text('{"exports": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match=r"cannot read package\.json"):
        load(config_with(tmp_path, importmap_packages=("deep",)))
