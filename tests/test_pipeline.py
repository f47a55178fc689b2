"""The core build: hashed names, rewritten references in dependency order, the manifest, bad input."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config
from assetpipe.errors import (
    BrokenReference,
    ConfigError,
    EscapesSource,
    InvalidEncoding,
    ReferenceCycle,
    SourceError,
)
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.state import BuildState
from tests.conftest import write_tree

Tree = dict[str, "str | bytes"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def config_for(src: Path, out: Path, **kw: object) -> Config:
    return Config(source=src, output=out, compress=False, **kw)  # type: ignore[arg-type]


def run(src: Path, out: Path, **kw: object) -> Manifest:
    build(config_for(src, out, **kw))
    return Manifest.load(out / "manifest.json")


def built_text(out: Path, manifest: Manifest, logical: str) -> str:
    return (out / manifest.assets[logical].path).read_text(encoding="utf-8")


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root except assetpipe's own bookkeeping (build records carry times)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".assetpipe" not in p.relative_to(root).parts
    }


SITE: Tree = {
    "css/app.css": '@import "base.css";\nbody { background: url(../img/bg.png); }\n',
    "css/base.css": '@import url("fonts.css");\nh1 { background: url("/static/img/logo.png"); }\n',
    "css/fonts.css": "@font-face { src: url(../fonts/a.woff2) format('woff2'), url(../fonts/a.woff) format('woff'); }\n",
    "css/unrelated.css": "p { color: red; }\n",
    "img/bg.png": PNG,
    "img/logo.png": PNG + b"logo",
    "fonts/a.woff2": b"wOF2" + bytes(32),
    "fonts/a.woff": b"wOFF" + bytes(32),
    "js/main.js": 'import { a } from "./lib/a.js";\nimport("./lazy.js");\nexport const m = a;\n',
    "js/lib/a.js": 'import "./b.js";\nexport const a = 1;\n',
    "js/lib/b.js": "export const b = 2;\n",
    "js/lazy.js": "export default 3;\n",
    "favicon.ico": b"\0\0\1\0",
    "robots.txt": "User-agent: *\n",
}


def test_outputs_are_named_by_the_digest_of_their_final_bytes(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    out = tmp_path / "out"
    manifest = run(src, out)
    for logical, entry in manifest.assets.items():
        data = (out / entry.path).read_bytes()
        digest = hashlib.sha384(data).hexdigest()
        assert entry.hash == digest[:12], logical
        assert entry.size == len(data)
        if entry.immutable:
            stem, ext = logical.rsplit(".", 1)
            assert entry.path == f"{stem}.{entry.hash}.{ext}"


def test_css_references_are_rewritten_to_hashed_names_in_the_same_style(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    out = tmp_path / "out"
    m = run(src, out)
    app = built_text(out, m, "css/app.css")
    base_name = m.assets["css/base.css"].path.split("/")[-1]
    assert f'@import "{base_name}";' in app
    assert "url(../" + m.assets["img/bg.png"].path + ")" in app
    base = built_text(out, m, "css/base.css")
    assert 'url("/static/' + m.assets["img/logo.png"].path + '")' in base
    fonts = built_text(out, m, "css/fonts.css")
    assert "../" + m.assets["fonts/a.woff2"].path in fonts
    assert "../" + m.assets["fonts/a.woff"].path in fonts


def test_js_imports_keep_their_dot_slash_and_are_listed_for_modulepreload(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    out = tmp_path / "out"
    m = run(src, out)
    main = built_text(out, m, "js/main.js")
    a_name = m.assets["js/lib/a.js"].path.split("/", 1)[1]
    assert f'from "./{a_name}"' in main
    assert 'import("./' + m.assets["js/lazy.js"].path.split("/", 1)[1] + '")' in main
    assert m.assets["js/main.js"].imports == ("js/lib/a.js",)  # the dynamic import is not preloaded
    assert m.assets["js/main.js"].dependencies == ("js/lazy.js", "js/lib/a.js")
    assert m.assets["js/lib/a.js"].imports == ("js/lib/b.js",)


def test_a_backtick_specifier_without_substitutions_is_rewritten_inside_its_backticks(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "js/main.js": "const m = import(`./lazy.js`);\nconst u = new URL(`../img/a.png`, import.meta.url);\n",
            "js/lazy.js": "export const x = 1;\n",
            "img/a.png": PNG,
        }
    )
    out = tmp_path / "out"
    m = run(src, out)
    main = built_text(out, m, "js/main.js")
    assert "import(`./" + m.assets["js/lazy.js"].path.split("/", 1)[1] + "`)" in main
    assert "new URL(`../" + m.assets["img/a.png"].path + "`, import.meta.url)" in main


def test_a_changed_image_renames_every_stylesheet_that_reaches_it_and_nothing_else(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    out = tmp_path / "out"
    before = run(src, out)
    (src / "img/logo.png").write_bytes(PNG + b"a new logo")
    after = run(src, out)
    changed = {k for k in before.assets if before.assets[k].path != after.assets[k].path}
    # logo.png <- base.css <- app.css (through @import); fonts.css, unrelated.css, JS untouched
    assert changed == {"img/logo.png", "css/base.css", "css/app.css"}


def test_the_previous_builds_files_stay_in_the_output(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    out = tmp_path / "out"
    before = run(src, out)
    (src / "css/unrelated.css").write_text("p { color: blue; }\n")
    after = run(src, out)
    assert before.assets["css/unrelated.css"].path != after.assets["css/unrelated.css"].path
    assert (out / before.assets["css/unrelated.css"].path).exists()


def test_the_same_source_gives_byte_identical_output_anywhere(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    copy = tmp_path / "elsewhere" / "assets"
    for name, content in reversed(list(SITE.items())):  # another creation order, other inodes and mtimes
        p = copy / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    run(src, tmp_path / "one")
    run(src, tmp_path / "one")
    run(copy, tmp_path / "two", jobs=1)
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")
    assert len(tree_bytes(tmp_path / "one")) == len(SITE) + 1


def test_unhashed_files_keep_their_names_and_are_not_immutable(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({**SITE, ".well-known/security.txt": "Contact: x\n", "sw.js": "self.x = 1;\n"})
    out = tmp_path / "out"
    m = run(src, out)
    for logical in ("favicon.ico", "robots.txt", ".well-known/security.txt", "sw.js"):
        assert m.assets[logical].path == logical
        assert m.assets[logical].immutable is False
        assert (out / logical).exists()
    assert m.assets["css/app.css"].immutable is True


def test_dotfiles_and_editor_droppings_are_never_published(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "app.css": "a{}",
            ".env": "SECRET=1",
            ".git/config": "x",
            "css/.hidden.css": "a{}",
            "app.css~": "old",
            ".#app.css": "lock",
            "css/.app.css.swp": "swap",
            ".well-known/assetlinks.json": "[]",
        }
    )
    m = run(src, tmp_path / "out")
    assert sorted(m.assets) == [".well-known/assetlinks.json", "app.css"]


def test_include_and_exclude_globs_select_the_sources(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"css/a.css": "a{}", "css/a.scss": "$x: 1;", "js/a.js": "", "notes.md": "#"})
    m = run(src, tmp_path / "out", include=("css/**", "js/**"), exclude=("*.scss",))
    assert sorted(m.assets) == ["css/a.css", "js/a.js"]


def test_an_output_directory_inside_the_source_is_never_read_as_input(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"app.css": "a{}"})
    out = src / "dist"
    run(src, out)
    m = run(src, out)
    assert sorted(m.assets) == ["app.css"]


def test_query_and_fragment_survive_and_percent_encoding_is_kept(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "css/a.css": "@font-face{src:url(../f/font.eot?#iefix) format('eot')}\n.x{background:url('../i/a%20b.png')}",
            "f/font.eot": b"eot",
            "i/a b.png": PNG,
        }
    )
    out = tmp_path / "out"
    m = run(src, out)
    text = built_text(out, m, "css/a.css")
    assert f"url(../{m.assets['f/font.eot'].path}?#iefix)" in text
    hashed = m.assets["i/a b.png"].path.replace(" ", "%20")
    assert f"url('../{hashed}')" in text


def test_external_data_and_fragment_urls_are_left_exactly_as_written(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    css = (
        ".a{background:url(https://cdn.example.com/x.png)}"
        ".b{background:url(//cdn.example.com/y.png)}"
        ".c{background:url(data:image/png;base64,AAAA)}"
        ".d{filter:url(#blur)}"
        ".e{background:url(/elsewhere/z.png)}"
        "/* url(missing.png) */ .f{content:'url(missing.png)'}"
    )
    js = 'import React from "react";\nimport x from "https://esm.sh/x";\n// import "./missing.js"\n'
    src = make_source({"a.css": css, "a.js": js})
    out = tmp_path / "out"
    m = run(src, out)
    assert built_text(out, m, "a.css") == css
    assert built_text(out, m, "a.js") == js


def test_a_no_op_rebuild_reads_no_file(make_source: Callable[[Tree], Path], tmp_path: Path) -> None:
    src = make_source(SITE)
    old = 1_600_000_000_000_000_000
    for p in src.rglob("*"):
        os.utime(p, ns=(old, old))
    cfg = Config(source=src, output=tmp_path / "out", compress=False, cache_dir=tmp_path / "cache")
    first = build(cfg)
    assert first.read == len(SITE)
    second = build(cfg)
    assert (second.read, second.written) == (0, 0)
    (src / "css/fonts.css").write_text("@font-face { src: url(../fonts/a.woff2); }\n")
    third = build(cfg)
    # fonts.css changed; base.css and app.css are re-read to point at its new name
    assert third.read == 3
    assert third.written == 3


def test_a_reference_to_a_missing_file_is_an_error_with_line_and_column(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"css/app.css": "a{}\nb { background: url(../img/logo.svg); }\n", "img/logo.png": PNG})
    with pytest.raises(BrokenReference) as info:
        run(src, tmp_path / "out")
    text = str(info.value)
    assert text.startswith("css/app.css:2:")
    assert "'../img/logo.svg'" in text and "did you mean 'img/logo.png'" in text


def test_broken_references_can_be_downgraded_to_warnings(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"a.css": ".x{background:url(gone.png)}"})
    out = tmp_path / "out"
    report = build(config_for(src, out, broken_references="warn"))
    assert len(report.warnings) == 1 and "gone.png" in report.warnings[0]
    assert built_text(out, report.manifest, "a.css") == ".x{background:url(gone.png)}"


def test_a_reference_cycle_names_the_whole_loop(make_source: Callable[[Tree], Path], tmp_path: Path) -> None:
    src = make_source({"a.css": '@import "b.css";', "b.css": '@import "c.css";', "c.css": '@import "a.css";'})
    with pytest.raises(ReferenceCycle, match=r"a\.css -> b\.css -> c\.css -> a\.css"):
        run(src, tmp_path / "out")


def test_a_reference_leaving_the_source_root_is_refused(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    (tmp_path / "secret.png").write_bytes(PNG)
    src = make_source({"css/a.css": ".x{background:url(../../secret.png)}"})
    with pytest.raises(EscapesSource, match="outside the source root"):
        run(src, tmp_path / "out")


def test_a_symlink_leading_outside_the_source_is_never_followed(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("password")
    src = make_source({"a.css": "a{}"})
    (src / "leak.txt").symlink_to(tmp_path / "secret.txt")
    out = tmp_path / "out"
    with pytest.raises(EscapesSource, match="symlink"):
        run(src, out)
    assert not any("password" in p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())


def test_invalid_utf8_names_the_file_and_byte_offset(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"js/a.js": b"const a = 1;\nconst b = '\xff';\n"})
    with pytest.raises(InvalidEncoding, match=r"byte offset 24") as info:
        run(src, tmp_path / "out")
    assert info.value.path == "js/a.js" and info.value.line == 2


@pytest.mark.parametrize("layout", ["same", "source-inside-output"])
def test_overlapping_source_and_output_are_refused(
    layout: str, make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"a.css": "a{}"})
    out = src if layout == "same" else src.parent
    with pytest.raises(ConfigError):
        run(src, out)


def test_a_source_that_would_land_on_the_manifest_is_refused(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({"manifest.json": "{}"})
    # hashed, it is manifest.<hash>.json and harmless; unhashed it would overwrite the manifest
    assert "manifest.json" in run(src, tmp_path / "ok").assets
    with pytest.raises(SourceError, match="collide"):
        run(src, tmp_path / "bad", unhashed=("manifest.json",))


def test_bad_input_leaves_the_previous_manifest_byte_identical(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    out = tmp_path / "out"
    run(src, out)
    before = (out / "manifest.json").read_bytes()
    (src / "css/app.css").write_text('@import "nope.css";')
    with pytest.raises(BrokenReference):
        run(src, out)
    assert (out / "manifest.json").read_bytes() == before


def test_the_manifest_is_json_with_sorted_keys_and_no_timestamps(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    out = tmp_path / "out"
    run(src, out)
    text = (out / "manifest.json").read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["version"] == 1 and data["base_url"] == "/static/"
    assert not re.search(r"20\d\d-\d\d-\d\d", text)


def test_a_stylesheet_imported_from_js_is_a_dependency_but_not_a_module_to_preload(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {"js/a.js": 'import "../css/base.css";\nimport "./b.js";\n', "js/b.js": "", "css/base.css": "a{}"}
    )
    m = run(src, tmp_path / "out")
    assert m.assets["js/a.js"].dependencies == ("css/base.css", "js/b.js")
    assert m.assets["js/a.js"].imports == ("js/b.js",)


def test_a_cycle_names_the_way_out_and_an_unhashed_member_breaks_it(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "js/a.js": 'import { b } from "./b.js";\nexport const a = () => b;\n',
            "js/b.js": 'import { a } from "./a.js";\nexport const b = () => a;\n',
        }
    )
    with pytest.raises(ReferenceCycle, match="unhashed") as info:
        run(src, tmp_path / "out")
    assert "js/a.js -> js/b.js -> js/a.js" in str(info.value)
    out = tmp_path / "out2"
    m = run(src, out, unhashed=("js/a.js",))
    assert m.assets["js/a.js"].path == "js/a.js"
    assert m.assets["js/b.js"].path != "js/b.js"
    assert f'from "./{m.assets["js/b.js"].path.split("/")[1]}"' in built_text(out, m, "js/a.js")
    assert 'from "./a.js"' in built_text(out, m, "js/b.js")


def test_a_rebuild_told_what_changed_relists_only_those_folders_and_misses_nothing(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(SITE)
    cfg = config_for(src, tmp_path / "out")
    states: list[object] = []
    first = build(cfg, changed=states.append)
    (src / "css/unrelated.css").write_text("p { color: green; }\n")  # in place: the folder's mtime stays
    (src / "fonts/new").mkdir()
    (src / "fonts/new/b.woff2").write_bytes(b"wOF2b")
    (src / "js/lazy.js").unlink()
    (src / "js/main.js").write_text('import { a } from "./lib/a.js";\nexport const m = a;\n')
    touched = {"css/unrelated.css", "fonts/new/", "js/lazy.js", "js/main.js"}
    second = build(cfg, state=states[-1], changed=states.append, touched=touched)  # type: ignore[arg-type]
    fresh = run(src, tmp_path / "fresh")
    assert second.manifest == fresh
    assert second.manifest.assets["css/unrelated.css"].path != first.manifest.assets["css/unrelated.css"].path
    assert "fonts/new/b.woff2" in second.manifest.assets and "js/lazy.js" not in second.manifest.assets


def test_a_rebuild_from_memory_checks_new_and_changed_outputs_for_name_collisions(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # Watch checks only what is not the last build's output against the last build's names: a source
    # added under the name of another output's sibling is still refused, and taking it away builds again.
    src = make_source({"robots.txt": "User-agent: *\n", "css/a.css": "a{}"})
    cfg = config_for(src, tmp_path / "out", unhashed=["robots.txt.gz"])
    states: list[object] = []
    build(cfg, changed=states.append)
    (src / "robots.txt.gz").write_bytes(b"not a sibling")  # unhashed: it keeps its name
    with pytest.raises(SourceError, match=r"'robots\.txt\.gz' is also the output of"):
        build(cfg, state=states[-1], changed=states.append, touched={"robots.txt.gz"})  # type: ignore[arg-type]
    (src / "robots.txt.gz").unlink()
    (src / "css/a.css").write_text("b{}")
    again = build(cfg, state=states[-1], changed=states.append, touched={"robots.txt.gz", "css/a.css"})  # type: ignore[arg-type]
    assert set(again.manifest.assets) == {"robots.txt", "css/a.css"}
    (src / "css/b.css").write_text("b{}")  # same bytes as a.css: the same hash, but its own name
    third = build(cfg, state=states[-1], changed=states.append, touched={"css/b.css"})  # type: ignore[arg-type]
    assert third.manifest.assets["css/b.css"].path != third.manifest.assets["css/a.css"].path


def test_watch_rebuilds_that_take_most_outputs_whole_publish_and_record_what_a_fresh_build_does(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    # As watch runs them: the state in memory, a watcher on OUT that saw nothing but the builds' own
    # writes, a first pass that defers compression and a second that adds the siblings. Rebuilds that
    # change a few outputs keep the last build's entries, records and output names for the rest; after
    # each step the manifest, the record of what each output and sibling is, the build record and OUT
    # must be exactly those of a build from scratch.
    from assetpipe.builds import build_id, builds_dir
    from assetpipe.verify import verify

    src = make_source(SITE)
    out = tmp_path / "out"
    cfg = Config(source=src, output=out, cache_dir=tmp_path / "cache", gzip_backend="zlib")
    states: list[BuildState] = []

    def age(*paths: str) -> None:  # older than the racy window, so a rebuild trusts what it recorded
        for path in paths:
            if (src / path).exists():
                os.utime(src / path, ns=(0, time.time_ns() - 10**10 - len(states)))

    age(*SITE)
    build(cfg, changed=states.append)
    taken: list[int] = []

    def rebuild(*touched: str) -> None:
        age(*touched)
        before = states[-1].files
        for defer in (True, False):
            report = build(
                cfg, state=states[-1], changed=states.append, touched=set(touched),
                defer_compression=defer, out_touched=set(),
            )  # fmt: skip
        fresh_out = tmp_path / f"fresh{len(states)}"
        fresh = build(Config(source=src, output=fresh_out, cache_dir=tmp_path / "cache", gzip_backend="zlib"))
        assert (out / "manifest.json").read_text() == (fresh_out / "manifest.json").read_text()
        manifest = Manifest.load(out / "manifest.json")
        assert report.manifest == manifest == fresh.manifest
        records = states[-1].files
        assert set(records) == set(manifest.assets)
        for logical, entry in manifest.assets.items():
            output = records[logical].output
            assert (output.path, output.hash) == (entry.path, entry.hash)
            listed = {s.encoding: s.path for s in output.siblings or () if s.listed}
            assert listed == {name: enc.path for name, enc in entry.encodings.items()}
        record = json.loads((builds_dir(out) / f"{build_id(manifest)}.json").read_text())
        assert record["files"] == sorted(manifest.output_files())
        assert verify(out).ok
        taken.append(sum(1 for logical, rec in records.items() if rec is before.get(logical)))

    (src / "css/unrelated.css").write_text("p { color: green; }\n")
    rebuild("css/unrelated.css")
    (src / "img/bg.png").write_bytes(PNG + b"new")  # renames app.css, which references it
    rebuild("img/bg.png")
    (src / "js/lib/b.js").write_text("export const b = 3;\n")  # renames a.js, then main.js
    rebuild("js/lib/b.js")
    (src / "css/new.css").write_text("q { color: blue; }\n")  # a source comes
    rebuild("css/new.css")
    (src / "js/lazy.js").unlink()
    (src / "js/main.js").write_text('import { a } from "./lib/a.js";\nexport const m = a;\n')
    rebuild("js/lazy.js", "js/main.js")  # one goes
    (src / "css/unrelated.css").touch()  # the same bytes
    rebuild("css/unrelated.css")
    (src / "css/unrelated.css").write_text("p { color: blue; }\n")
    (src / "robots.txt").write_text("User-agent: x\n")  # unhashed: staged, swapped in
    rebuild("css/unrelated.css", "robots.txt")
    # Most outputs were taken whole, their records with them: the path this test is about was taken.
    assert min(taken) >= len(SITE) - 5, taken


def test_a_watch_rebuild_that_asks_only_its_suspects_reports_what_asking_every_source_does(
    make_source: Callable[[Tree], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # _suspects lets a watch rebuild skip asking untouched() about the sources it cannot refuse; the same
    # steps run with it switched off must give the same report, manifest and outcomes, step by step.
    from assetpipe import pipeline

    reports: dict[bool, list[tuple[object, ...]]] = {}
    for skip in (True, False):
        root = tmp_path / f"run-{skip}"
        src = write_tree(root / "src", SITE)
        cfg = Config(source=src, output=root / "out", cache_dir=root / "cache", gzip_backend="zlib")
        states: list[BuildState] = []
        with monkeypatch.context() as m:
            if not skip:
                m.setattr(pipeline, "_suspects", lambda ctx: None)
            for path in SITE:
                os.utime(src / path, ns=(0, time.time_ns() - 10**10))
            build(cfg, changed=states.append)
            steps = [
                {"img/bg.png": PNG + b"new"},  # renames app.css, which references it
                {"js/lib/b.js": "export const b = 3;\n"},  # renames a.js, then main.js
                {"robots.txt": "User-agent: x\n"},
            ]
            got = []
            for step in steps:
                for path, content in step.items():
                    (src / path).write_bytes(content if isinstance(content, bytes) else content.encode())
                for defer in (True, False):
                    r = build(
                        cfg, state=states[-1], changed=states.append, touched=set(step),
                        defer_compression=defer, out_touched=set(),
                    )  # fmt: skip
                    got.append(
                        (r.outcomes, list(r.outcomes), r.reused, r.written, r.read, r.bytes_in, r.bytes_out,
                         r.deferred, r.manifest)
                    )  # fmt: skip
        reports[skip] = got
    assert reports[True] == reports[False]


def test_a_large_build_syncs_its_files_on_a_thread_and_names_them_only_once_that_sync_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many written files reach the disk by one os.sync() on a thread (while the manifest's text is made),
    started once every output and sibling is written, and manifest.json is written after it returned."""
    import threading

    src, out = tmp_path / "src", tmp_path / "out"
    write_tree(src, {f"css/{i}.css": f".c{i} {{ color: #{i:06x}; }}\n" * 80 for i in range(70)})
    seen: list[tuple[str, set[str], bool]] = []
    real_sync = os.sync

    def spy() -> None:
        present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        time.sleep(0.2)
        real_sync()
        seen.append((threading.current_thread().name, present, (out / "manifest.json").exists()))

    monkeypatch.setattr(os, "sync", spy)
    build(Config(source=src, output=out, cache_dir=tmp_path / "cache"))
    manifest = Manifest.load(out / "manifest.json")
    named = {e.path for e in manifest.assets.values()}
    named |= {s.path for e in manifest.assets.values() for s in e.encodings.values()}
    assert len(named) > 140  # outputs and their siblings
    assert len(seen) == 1
    thread, present, manifest_there = seen[0]
    assert thread == "assetpipe-sync"
    assert named <= present, "the sync started before every file the manifest names was written"
    assert not manifest_there, "manifest.json was written before the sync covering its files ended"
