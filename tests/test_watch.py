"""assetpipe watch: the real watcher (watchdog on a real tree, in a thread or a subprocess), real writes.

Nothing here asserts a duration: every wait polls the manifest or the watcher's output with a generous
timeout, and "exactly one rebuild" is checked against a later sentinel save rather than a sleep.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from assetpipe.config import Config, Mount
from assetpipe.pipeline import build
from assetpipe.state import BuildState
from assetpipe.watch import MountedTree, _outermost, batches, path_filter, run_watch, watch_loop
from tests.conftest import Tree, write_tree

TIMEOUT = 10.0


def wait_for(condition: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def read_manifest(out: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    assets: dict[str, dict[str, object]] = data["assets"]
    return assets


@dataclass
class Session:
    """A run_watch on a thread: its lines so far, and the SRC/OUT it watches."""

    src: Path
    out: Path
    lines: list[str] = field(default_factory=list)

    def manifest(self) -> dict[str, dict[str, object]]:
        return read_manifest(self.out)

    def rebuilds(self) -> list[str]:
        return [line for line in self.lines if line.startswith("changed ")]

    def errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith("error: ")]

    def wait_for_manifest(self, condition: Callable[[dict[str, dict[str, object]]], bool], what: str) -> None:
        wait_for(lambda: condition(self.manifest()), what)

    def wait_for_rebuilds(self, count: int) -> None:
        wait_for(lambda: len(self.rebuilds()) >= count, f"{count} rebuild line(s); got {self.lines}")


SITE: Tree = {
    "css/main.css": '@import "theme.css";\nbody { background: url("../img/logo.png"); }\n',
    "css/theme.css": "a { color: red; }\n",
    "img/logo.png": b"\x89PNG not really",
    "js/app.js": 'import "./util.js";\n',
    "js/util.js": "export const x = 1;\n",
}


def age(root: Path) -> Path:
    """Make every file an hour old: past the state's 2 s "racy" window, as files are when a watch starts,
    so what a rebuild re-reads depends only on what the test changes."""
    an_hour_ago = time.time() - 3600
    for path in root.rglob("*"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    return root


@contextmanager
def watching(
    tmp_path: Path,
    files: Tree = SITE,
    *,
    debounce: float | None = None,
    out_inside_source: bool = False,
    **settings: object,
) -> Iterator[Session]:
    """Run run_watch on a thread over a fresh tree; yield once the first manifest is on disk."""
    src = age(write_tree(tmp_path / "src", files))
    out = src / "dist" if out_inside_source else tmp_path / "out"
    cache = src / "cache" if out_inside_source else tmp_path / "cache"
    config = replace(Config(source=src, output=out, compress=False, cache_dir=cache), **settings)  # type: ignore[arg-type]
    session = Session(src, out)
    stop = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            run_watch(config, debounce=debounce, echo=session.lines.append, stop=stop)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        wait_for(lambda: (out / "manifest.json").exists() or failure, "the first build")
        assert not failure, failure
        yield session
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "run_watch did not return after stop"
        assert not failure, failure
        assert session.lines[-1] == "stopped"


def path_of(session: Session, logical: str) -> str:
    return str(session.manifest()[logical]["path"])


def temp_files(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob(".assetpipe-tmp-*")]


# -- rebuilds --------------------------------------------------------------------------------------------


def test_editing_a_css_file_writes_its_new_hash_and_renames_its_importer_reading_nothing_else(
    tmp_path: Path,
) -> None:
    with watching(tmp_path) as session:
        before = session.manifest()
        (session.src / "css/theme.css").write_text("a { color: blue; }\n", encoding="utf-8")
        session.wait_for_manifest(
            lambda m: m["css/theme.css"]["hash"] != before["css/theme.css"]["hash"], "the new theme.css hash"
        )
        after = session.manifest()
        assert after["css/main.css"]["path"] != before["css/main.css"]["path"]
        main_bytes = (session.out / str(after["css/main.css"]["path"])).read_text(encoding="utf-8")
        assert Path(str(after["css/theme.css"]["path"])).name in main_bytes
        assert after["img/logo.png"] == before["img/logo.png"]
        assert after["js/app.js"] == before["js/app.js"]
        session.wait_for_rebuilds(1)
        # theme.css and main.css, which imports it; nothing else is even read.
        assert session.rebuilds()[0].startswith("changed css/theme.css: 2 written, 2 read of 5 files")


def test_a_save_renames_everything_that_references_it_transitively_and_nothing_else(tmp_path: Path) -> None:
    chain: Tree = {
        "css/site.css": '@import "layout.css";\n',
        "css/layout.css": '@import "tokens.css";\n',
        "css/tokens.css": ":root { --x: 1; }\n",
        "css/print.css": "@media print { a { color: black; } }\n",
    }
    with watching(tmp_path, chain) as session:
        before = session.manifest()
        (session.src / "css/tokens.css").write_text(":root { --x: 2; }\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        after = session.manifest()
        assert all(
            after[k]["path"] != before[k]["path"]
            for k in ("css/site.css", "css/layout.css", "css/tokens.css")
        )
        assert after["css/print.css"] == before["css/print.css"]
        assert session.rebuilds()[0].startswith("changed css/tokens.css: 3 written, 3 read of 4 files")


def test_a_burst_of_many_writes_becomes_one_rebuild(tmp_path: Path) -> None:
    # A wide window makes "one burst" independent of how busy the machine is; no duration is asserted.
    with watching(tmp_path, debounce=0.5) as session:
        for i in range(200):
            path = session.src / f"icons/set{i % 7}/icon{i}.svg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"<svg><!-- {i} --></svg>", encoding="utf-8")
        (session.src / "css/theme.css").write_text("a { color: green; }\n", encoding="utf-8")
        session.wait_for_manifest(lambda m: "icons/set6/icon195.svg" in m, "the burst's files")
        session.wait_for_rebuilds(1)
        # A sentinel save after the burst: if the burst had been split, its lines would come before this one.
        (session.src / "js/util.js").write_text("export const x = 2;\n", encoding="utf-8")
        session.wait_for_rebuilds(2)
        burst, sentinel = session.rebuilds()
        assert burst.startswith("changed 2") and "files:" in burst  # 200 icons + 7 dirs + theme.css
        assert sentinel.startswith("changed js/util.js:")


def test_an_editor_save_through_a_temp_file_and_rename_is_one_rebuild_of_the_real_file(
    tmp_path: Path,
) -> None:
    with watching(tmp_path) as session:
        before = session.manifest()["css/theme.css"]["hash"]
        temp = session.src / "css/.theme.css.swx"
        temp.write_text("a { color: purple; }\n", encoding="utf-8")
        os.replace(temp, session.src / "css/theme.css")
        session.wait_for_manifest(lambda m: m["css/theme.css"]["hash"] != before, "the renamed-over save")
        session.wait_for_rebuilds(1)
        assert session.rebuilds()[0].startswith("changed css/theme.css:")
        assert not any(".theme.css" in key for key in session.manifest())


def test_a_new_file_and_a_new_directory_are_picked_up(tmp_path: Path) -> None:
    with watching(tmp_path) as session:
        (session.src / "img/new.svg").write_text("<svg/>", encoding="utf-8")
        session.wait_for_manifest(lambda m: "img/new.svg" in m, "the new file")
        deep = session.src / "fonts/latin/bold"
        deep.mkdir(parents=True)
        (deep / "face.woff2").write_bytes(b"wOF2 bold")
        session.wait_for_manifest(lambda m: "fonts/latin/bold/face.woff2" in m, "a file in a new directory")
        # A directory built elsewhere and moved in whole gets no per-file events from the kernel.
        staged = write_tree(
            tmp_path / "staging", {"vendor/lib/a.js": "export {};\n", "vendor/b.css": "b{}\n"}
        )
        os.rename(staged / "vendor", session.src / "vendor")
        session.wait_for_manifest(
            lambda m: {"vendor/lib/a.js", "vendor/b.css"} <= m.keys(), "a directory moved into SRC"
        )


def test_deleted_and_renamed_files_drop_out_of_the_manifest(tmp_path: Path) -> None:
    with watching(tmp_path) as session:
        (session.src / "js/app.js").unlink()
        session.wait_for_manifest(lambda m: "js/app.js" not in m, "the deleted file to drop out")
        os.rename(session.src / "img/logo.png", session.src / "img/brand.png")
        (session.src / "css/main.css").write_text('@import "theme.css";\n', encoding="utf-8")
        session.wait_for_manifest(
            lambda m: "img/logo.png" not in m and "img/brand.png" in m, "the renamed file under its new name"
        )
        os.rename(session.src / "img", session.src / "images")
        session.wait_for_manifest(
            lambda m: "images/brand.png" in m and "img/brand.png" not in m, "a renamed dir"
        )
        assert "js/util.js" in session.manifest()


def test_changes_inside_out_the_cache_dotfiles_and_temp_files_never_trigger_a_rebuild(tmp_path: Path) -> None:
    with watching(tmp_path, out_inside_source=True) as session:
        assert "dist/manifest.json" not in session.manifest()
        (session.out / "stray.css").write_text("x{}", encoding="utf-8")
        (session.src / "cache").mkdir(exist_ok=True)
        (session.src / "cache/entry.bin").write_bytes(b"cached")
        (session.src / ".env").write_text("SECRET=1", encoding="utf-8")
        (session.src / "css/.assetpipe-tmp-abc").write_text("half", encoding="utf-8")
        (session.src / "css/theme.css~").write_text("backup", encoding="utf-8")
        (session.src / "js/util.js").write_text("export const x = 3;\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        assert session.rebuilds()[0].startswith("changed js/util.js:")
        assert not any(key.startswith(("dist/", "cache/")) for key in session.manifest())


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ('@import "missing.css";\n', "css/theme.css:1:10: broken reference 'missing.css'"),
        ('@import "main.css";\n', "css/theme.css:1:10: reference cycle: css/main.css -> css/theme.css"),
        (b"a { content: '\xff'; }\n", "css/theme.css:1: not valid UTF-8"),
    ],
    ids=["missing reference", "cycle", "invalid utf-8"],
)
def test_a_broken_edit_prints_the_error_keeps_the_last_manifest_and_the_next_good_save_recovers(
    tmp_path: Path, broken: str | bytes, message: str
) -> None:
    with watching(tmp_path) as session:
        manifest_bytes = (session.out / "manifest.json").read_bytes()
        theme = session.src / "css/theme.css"
        theme.write_bytes(broken if isinstance(broken, bytes) else broken.encode())
        wait_for(lambda: session.errors(), "an error line")
        # Named as typed from the working directory: SRC is outside it here, so the path is absolute.
        assert session.errors()[0].startswith(f"error: {session.src}/{message}"), session.errors()
        assert (session.out / "manifest.json").read_bytes() == manifest_bytes
        for entry in session.manifest().values():
            assert (session.out / str(entry["path"])).is_file()
        theme.write_text("a { color: teal; }\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        assert (session.out / "manifest.json").read_bytes() != manifest_bytes
        served = (session.out / path_of(session, "css/theme.css")).read_text(encoding="utf-8")
        assert served == "a { color: teal; }\n"


def test_the_debounce_window_is_reported_when_watching_starts(tmp_path: Path) -> None:
    with watching(tmp_path, debounce=0.25) as session:
        assert "debounce 250 ms" in session.lines[0]
        assert "compression off" in session.lines[0]


def _compressor_available() -> bool:
    import assetpipe.compress

    return hasattr(assetpipe.compress, "Compressor")


@pytest.mark.skipif(not _compressor_available(), reason="assetpipe.compress.Compressor has not landed yet")
def test_with_compression_on_the_siblings_follow_the_manifest(tmp_path: Path) -> None:
    big = "a { color: red; }\n" * 200
    with watching(tmp_path, {"css/theme.css": big}, compress=True, gzip_backend="zlib") as session:
        session.wait_for_manifest(lambda m: bool(m["css/theme.css"]["encodings"]), "the first encodings")
        (session.src / "css/theme.css").write_text(big + "b { color: blue; }\n", encoding="utf-8")
        before = session.manifest()["css/theme.css"]["path"]
        session.wait_for_manifest(
            lambda m: m["css/theme.css"]["path"] != before and bool(m["css/theme.css"]["encodings"]),
            "the new file's encodings",
        )
        encodings = session.manifest()["css/theme.css"]["encodings"]
        assert isinstance(encodings, dict)
        for encoding in encodings.values():
            assert (session.out / encoding["path"]).is_file()


# -- mounts ----------------------------------------------------------------------------------------------

LIT: Tree = {
    "index.js": 'export * from "./core.js";\n',
    "core.js": "export const version = 1;\n",
    "package.json": '{"name": "lit"}\n',
    "core.d.ts": "export declare const version: number;\n",
}
APP: Tree = {"js/app.js": 'import "../vendor/lit/index.js";\n', "css/site.css": "a { color: red; }\n"}


def lit_mount(tmp_path: Path, files: Tree = LIT) -> Mount:
    """node_modules/lit outside SRC, mounted at vendor/lit/ without its type declarations."""
    age(write_tree(tmp_path / "node_modules/lit", files))
    return Mount("vendor/lit/", tmp_path / "node_modules/lit", exclude=("*.d.ts", "package.json"))


def test_a_save_in_a_mount_outside_src_rebuilds_it_and_its_importers_like_a_save_in_src(
    tmp_path: Path,
) -> None:
    mount = lit_mount(tmp_path)
    with watching(tmp_path, APP, mounts=(mount,)) as session:
        before = session.manifest()
        assert set(before) == {"js/app.js", "css/site.css", "vendor/lit/index.js", "vendor/lit/core.js"}
        (mount.directory / "core.js").write_text("export const version = 2;\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        after = session.manifest()
        # core.js, index.js which imports it, app.js which imports index.js: nothing else is read.
        assert session.rebuilds()[0].startswith("changed vendor/lit/core.js: 3 written, 3 read of 4 files")
        assert all(after[k]["path"] != before[k]["path"] for k in ("vendor/lit/core.js", "js/app.js"))
        assert after["css/site.css"] == before["css/site.css"]
        assert (
            session.out / path_of(session, "vendor/lit/core.js")
        ).read_text() == "export const version = 2;\n"


def test_a_file_added_or_removed_in_a_mount_comes_in_or_drops_out_and_its_filters_still_apply(
    tmp_path: Path,
) -> None:
    mount = lit_mount(tmp_path)
    with watching(tmp_path, APP, mounts=(mount,), exclude=("*.txt",)) as session:
        (mount.directory / "decorators").mkdir()
        (mount.directory / "decorators/state.js").write_text("export {};\n", encoding="utf-8")
        session.wait_for_manifest(
            lambda m: "vendor/lit/decorators/state.js" in m, "a file in a new mounted folder"
        )
        (mount.directory / "index.js").write_text("export {};\n", encoding="utf-8")
        (mount.directory / "core.js").unlink()
        session.wait_for_manifest(lambda m: "vendor/lit/core.js" not in m, "the removed file to drop out")
        wait_for(lambda: "vendor/lit/core.js" in session.rebuilds()[-1], "the rebuild line of the removal")
        # The mount's own exclude, the config's exclude and dot names never start a rebuild; a sentinel
        # save after them must be the next rebuild line.
        count = len(session.rebuilds())
        (mount.directory / "more.d.ts").write_text("x", encoding="utf-8")
        (mount.directory / ".cache").mkdir()
        (mount.directory / ".cache/x.js").write_text("x", encoding="utf-8")
        (mount.directory / "notes.txt").write_text("x", encoding="utf-8")
        (mount.directory / "index.js").write_text("export const a = 1;\n", encoding="utf-8")
        session.wait_for_rebuilds(count + 1)
        assert session.rebuilds()[count].startswith("changed vendor/lit/index.js:"), session.rebuilds()
        assert not any(k.endswith((".d.ts", ".txt")) or "/.cache/" in k for k in session.manifest())


def test_rapid_saves_in_a_mount_become_one_rebuild_with_the_last_bytes(tmp_path: Path) -> None:
    mount = lit_mount(tmp_path)
    with watching(tmp_path, APP, mounts=(mount,), debounce=0.5) as session:
        for i in range(100):
            (mount.directory / "core.js").write_text(f"export const version = {i};\n", encoding="utf-8")
            (mount.directory / f"parts/p{i % 5}.js").parent.mkdir(exist_ok=True)
            (mount.directory / f"parts/p{i % 5}.js").write_text(f"export const p = {i};\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        (session.src / "css/site.css").write_text("a { color: blue; }\n", encoding="utf-8")  # the sentinel
        session.wait_for_rebuilds(2)
        burst, sentinel = session.rebuilds()
        assert burst.startswith("changed 7 files:"), burst  # core.js, parts/, p0..p4.js
        assert sentinel.startswith("changed css/site.css:")
        served = (session.out / path_of(session, "vendor/lit/core.js")).read_text()
        assert served == "export const version = 99;\n"


def test_a_mount_inside_src_is_watched_once_under_both_names(tmp_path: Path) -> None:
    files: Tree = {"css/site.css": "a { color: red; }\n", "third_party/lit/core.js": "export const v = 1;\n"}
    src = tmp_path / "src"
    mount = Mount("vendor/lit/", src / "third_party/lit")
    with watching(tmp_path, files, mounts=(mount,), exclude=("third_party/",)) as session:
        assert (
            "vendor/lit/core.js" in session.manifest() and "third_party/lit/core.js" not in session.manifest()
        )
        (src / "third_party/lit/core.js").write_text("export const v = 2;\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        (src / "css/site.css").write_text("a { color: blue; }\n", encoding="utf-8")  # the sentinel
        session.wait_for_rebuilds(2)
        assert [line.split(":")[0] for line in session.rebuilds()] == [
            "changed vendor/lit/core.js",
            "changed css/site.css",
        ]
    config = Config(source=src, output=tmp_path / "out", mounts=(mount,))
    outside = MountedTree.of(Mount("vendor/x/", tmp_path / "node_modules/x"))
    nested = MountedTree.of(Mount("vendor/y/", tmp_path / "node_modules/x/node_modules/y"))
    inside = MountedTree.of(mount)
    assert list(_outermost(config, [nested, inside, outside])) == [outside.directory]


def test_a_workspace_package_linked_into_node_modules_is_watched_where_it_really_is(tmp_path: Path) -> None:
    # npm workspaces: node_modules/@app/ui -> ../../packages/ui. Mounted both as the link (one mount) and,
    # through a folder that contains the link, under node_modules (another): one save updates both names.
    age(write_tree(tmp_path / "packages/ui", {"button.js": "export const b = 1;\n"}))
    (tmp_path / "node_modules/@app").mkdir(parents=True)
    (tmp_path / "node_modules/@app/ui").symlink_to("../../packages/ui", target_is_directory=True)
    mounts = (
        Mount("vendor/", tmp_path / "node_modules"),
        Mount("ui/", tmp_path / "node_modules/@app/ui"),
    )
    with watching(tmp_path, {"css/site.css": "a {}\n"}, mounts=mounts) as session:
        before = session.manifest()
        assert {"ui/button.js", "vendor/@app/ui/button.js"} <= before.keys()
        (tmp_path / "packages/ui/button.js").write_text("export const b = 2;\n", encoding="utf-8")
        session.wait_for_manifest(
            lambda m: all(
                m[k]["hash"] != before[k]["hash"] for k in ("ui/button.js", "vendor/@app/ui/button.js")
            ),
            "both names of the linked file rebuilt",
        )


def test_a_file_in_src_linked_to_a_mounted_file_follows_its_saves(tmp_path: Path) -> None:
    mount = lit_mount(tmp_path)
    src = tmp_path / "src"
    (src / "js").mkdir(parents=True)
    (src / "js/lit-core.js").symlink_to(mount.directory / "core.js")
    with watching(tmp_path, {"css/site.css": "a {}\n"}, mounts=(mount,)) as session:
        (mount.directory / "core.js").write_text("export const version = 7;\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        for name in ("js/lit-core.js", "vendor/lit/core.js"):
            assert (session.out / path_of(session, name)).read_text() == "export const version = 7;\n", name


def test_a_symlink_in_a_mount_that_leads_outside_stops_the_build_and_removing_it_recovers(
    tmp_path: Path,
) -> None:
    mount = lit_mount(tmp_path)
    secret = write_tree(tmp_path / "secret", {"key.js": "export const key = 'hunter2';\n"})
    with watching(tmp_path, APP, mounts=(mount,)) as session:
        manifest_bytes = (session.out / "manifest.json").read_bytes()
        (mount.directory / "leak").symlink_to(secret, target_is_directory=True)
        wait_for(lambda: session.errors(), "an error line")
        assert "symlink leads outside the source root and the mounts" in session.errors()[0]
        assert (session.out / "manifest.json").read_bytes() == manifest_bytes
        (mount.directory / "leak").unlink()
        (mount.directory / "core.js").write_text("export const version = 3;\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        assert not any("hunter2" in p.read_text() for p in session.out.rglob("*.js"))


def test_a_mount_folder_deleted_while_watching_is_an_error_until_it_is_back(tmp_path: Path) -> None:
    mount = lit_mount(tmp_path)
    with watching(tmp_path, APP, mounts=(mount,)) as session:
        manifest_bytes = (session.out / "manifest.json").read_bytes()
        shutil.rmtree(mount.directory)
        wait_for(lambda: session.errors(), "an error line")
        assert "mount 'vendor/lit/'" in session.errors()[0] and "is not a directory" in session.errors()[0]
        assert (session.out / "manifest.json").read_bytes() == manifest_bytes
        # `npm install` brings it back with other bytes: the watcher finds the folder again and rebuilds.
        staged = write_tree(tmp_path / "staging/lit", {**LIT, "core.js": "export const version = 4;\n"})
        os.rename(staged, mount.directory)
        session.wait_for_manifest(
            lambda m: (
                "vendor/lit/core.js" in m
                and (session.out / str(m["vendor/lit/core.js"]["path"])).read_text()
                == "export const version = 4;\n"
            ),
            "the mount rebuilt once it is back",
        )
        # And it is watched again: a save in it rebuilds.
        (mount.directory / "core.js").write_text("export const version = 5;\n", encoding="utf-8")
        session.wait_for_manifest(
            lambda m: (
                (session.out / str(m["vendor/lit/core.js"]["path"])).read_text()
                == "export const version = 5;\n"
            ),
            "a save in the mount once it is back",
        )


def test_a_mount_folder_moved_away_which_sends_no_event_is_an_error_and_moving_it_back_rebuilds(
    tmp_path: Path,
) -> None:
    mount = lit_mount(tmp_path)
    with watching(tmp_path, APP, mounts=(mount,)) as session:
        os.rename(mount.directory, tmp_path / "lit-away")
        wait_for(lambda: session.errors(), "an error line")
        assert "mount 'vendor/lit/'" in session.errors()[0]
        (tmp_path / "lit-away/core.js").write_text("export const version = 6;\n", encoding="utf-8")
        os.rename(tmp_path / "lit-away", mount.directory)
        session.wait_for_manifest(
            lambda m: (
                (session.out / str(m["vendor/lit/core.js"]["path"])).read_text()
                == "export const version = 6;\n"
            ),
            "the mount rebuilt once it is back",
        )


def install(node_modules: Path, name: str, package: dict[str, object], files: Tree) -> Path:
    folder = write_tree(node_modules / name, {"package.json": json.dumps({"name": name, **package}), **files})
    return age(folder)


def test_packages_mounted_by_the_import_map_are_watched_and_a_new_dependency_is_too(tmp_path: Path) -> None:
    nm = tmp_path / "node_modules"
    lib = install(nm, "lib", {"type": "module", "exports": "./lib.js"}, {"lib.js": "export const a = 1;\n"})
    install(nm, "dep", {"type": "module", "exports": "./dep.js"}, {"dep.js": "export const d = 1;\n"})
    files: Tree = {"js/app.js": 'import { a } from "lib";\n'}
    with watching(tmp_path, files, importmap_packages=("lib",), node_modules=nm) as session:
        before = session.manifest()
        (lib / "lib.js").write_text("export const a = 2;\n", encoding="utf-8")
        session.wait_for_manifest(
            lambda m: m["vendor/lib/lib.js"]["hash"] != before["vendor/lib/lib.js"]["hash"], "lib.js"
        )
        assert "vendor/dep/dep.js" not in session.manifest()
        # `npm install dep` in lib: its package.json changes, the map now mounts dep, and dep is watched.
        (lib / "package.json").write_text(
            json.dumps(
                {"name": "lib", "type": "module", "exports": "./lib.js", "dependencies": {"dep": "1"}}
            ),
            encoding="utf-8",
        )
        session.wait_for_manifest(lambda m: "vendor/dep/dep.js" in m, "the new dependency mounted")
        (nm / "dep/dep.js").write_text("export const d = 2;\n", encoding="utf-8")
        session.wait_for_manifest(
            lambda m: (
                (session.out / str(m["vendor/dep/dep.js"]["path"])).read_text() == "export const d = 2;\n"
            ),
            "a save in the new dependency",
        )
        assert not session.errors(), session.errors()


def test_the_filter_names_a_mounted_file_by_its_logical_path_with_the_mounts_own_filters(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    mount = Mount("vendor/lit/", tmp_path / "nm/lit", exclude=("*.ts", "/package.json"))
    config = Config(source=src, output=tmp_path / "out", exclude=("*.map",))
    paths = path_filter(
        config, [MountedTree.of(mount), MountedTree.of(Mount("vendor/p/", tmp_path / "nm/p"), package=True)]
    )
    nm = str((tmp_path / "nm").resolve())
    assert paths.changed(f"{nm}/lit/a/b.js", is_directory=False) == ["vendor/lit/a/b.js"]
    assert paths.changed(f"{nm}/lit/a", is_directory=True) == ["vendor/lit/a/"]
    assert paths.changed(f"{nm}/lit", is_directory=True) == ["vendor/lit/"]  # the folder itself
    for skipped in ("lit/x.ts", "lit/package.json", "lit/x.js.map", "lit/.x/y.js", "lit/x.js~"):
        assert paths.changed(f"{nm}/{skipped}", is_directory=False) == [], skipped
    # An importmap package's package.json is what its map entries come from: news for the whole mount.
    assert paths.changed(f"{nm}/p/package.json", is_directory=False) == ["vendor/p/"]
    assert paths.changed(f"{nm}/p/sub/package.json", is_directory=False) == ["vendor/p/sub/package.json"]


# -- the seam --------------------------------------------------------------------------------------------


def test_the_loop_builds_once_and_then_once_per_injected_batch_and_leaves_its_state_for_the_next_build(
    tmp_path: Path,
) -> None:
    src = age(write_tree(tmp_path / "src", SITE))
    out = tmp_path / "out"
    config = Config(source=src, output=out, compress=False, cache_dir=tmp_path / "cache")
    lines: list[str] = []

    def edits() -> Iterator[Sequence[str]]:
        # Each edit is aged too (to a new mtime): only the records of the rebuilds themselves know it.
        (src / "css/theme.css").write_text("a { color: navy; }\n", encoding="utf-8")
        os.utime(src / "css/theme.css", (time.time() - 60, time.time() - 60))
        yield ["css/theme.css"]
        (src / "img/logo.png").unlink()
        (src / "css/main.css").write_text("body { margin: 0; }\n", encoding="utf-8")
        os.utime(src / "css/main.css", (time.time() - 60, time.time() - 60))
        yield ["css/main.css", "img/logo.png"]

    state = watch_loop(config, edits(), lines.append)
    assert isinstance(state, BuildState)
    assert lines[0].startswith("built 5 files")
    assert lines[1].startswith("changed css/theme.css: 2 written,")
    assert lines[2].startswith("changed css/main.css, img/logo.png: 1 written,")
    assert "img/logo.png" not in read_manifest(out)
    # The last rebuild's records were saved in the cache: a plain build now reads nothing at all.
    report = build(config)
    assert (report.written, report.read) == (0, 0)


def test_batches_gather_a_burst_until_the_window_passes_quietly(tmp_path: Path) -> None:
    import queue

    changes: queue.Queue[str] = queue.Queue()
    for name in ("a.css", "b.css", "a.css"):
        changes.put(name)
    stop = threading.Event()
    stream = batches(changes, 0.05, stop)
    assert next(stream) == ["a.css", "b.css"]
    stop.set()
    assert list(stream) == []


def test_a_tree_that_never_goes_quiet_still_gets_its_batches(tmp_path: Path) -> None:
    import queue

    changes: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    def busy() -> None:
        i = 0
        while not stop.is_set():
            changes.put(f"log{i % 3}.txt")
            i += 1
            time.sleep(0.005)

    writer = threading.Thread(target=busy, daemon=True)
    writer.start()
    try:
        for window in (0.05, 0.0):
            stream = batches(changes, window, stop, max_seconds=0.2)
            assert set(next(stream)) <= {"log0.txt", "log1.txt", "log2.txt"}
    finally:
        stop.set()
        writer.join()


def test_the_filter_skips_out_the_cache_and_dot_names_but_not_well_known(tmp_path: Path) -> None:
    src = tmp_path / "src"
    config = Config(source=src, output=src / "dist", cache_dir=src / "cache", exclude=("*.scss",))
    paths = path_filter(config)
    root = str(src.resolve())
    assert paths.changed(f"{root}/css/app.css", is_directory=False) == ["css/app.css"]
    assert paths.changed(f"{root}/.well-known/security.txt", is_directory=False) == [
        ".well-known/security.txt"
    ]
    for skipped in ("dist/manifest.json", "dist", "cache/x", ".git/HEAD", "css/.app.css.swp", "a.scss", "b~"):
        assert paths.changed(f"{root}/{skipped}", is_directory=skipped == "dist") == [], skipped
    assert paths.changed(str(tmp_path / "elsewhere.css"), is_directory=False) == []


# -- the command: signals --------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_the_command_cleanly_with_exit_code_0(tmp_path: Path, signum: int) -> None:
    src = write_tree(tmp_path / "src", SITE)
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assetpipe",
            "watch",
            "-s",
            str(src),
            "-o",
            str(out),
            "--cache-dir",
            str(cache),
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (out / "manifest.json").exists() or proc.poll() is not None, "the first build")
        # An edit immediately before the signal: it may land before, during or after the rebuild.
        for i in range(50):
            (src / f"img/burst{i}.svg").write_text(f"<svg>{i}</svg>", encoding="utf-8")
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "stopped"
    assert stdout == ""
    assert temp_files(src, out, cache) == []
    assert (out / "manifest.json").exists()


def test_a_second_sigint_during_the_first_build_stops_at_once_still_with_exit_code_0(tmp_path: Path) -> None:
    src = write_tree(
        tmp_path / "src",
        {f"img/i{i}/icon{j}.svg": f"<svg>{i}.{j}</svg>" for i in range(30) for j in range(50)},
    )
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "assetpipe",
        "watch",
        "-s",
        str(src),
        "-o",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    proc = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # printed just before the first build starts
        assert first.startswith("watching "), first
        # The first is deferred to the end of the build, a second one stops it at once. The pause only keeps
        # the kernel from merging two pending SIGINTs into one; if the build wins the race, it ends normally.
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT * 3)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "stopped"
    assert temp_files(src, out, tmp_path / "cache") == []


def test_a_change_seen_by_a_failed_rebuild_is_still_built_by_the_next_good_one(tmp_path: Path) -> None:
    src = age(write_tree(tmp_path / "src", SITE))
    out = tmp_path / "out"
    config = Config(source=src, output=out, compress=False, cache_dir=tmp_path / "cache")
    lines: list[str] = []

    def edits() -> Iterator[Sequence[str]]:
        # One batch brings a good change to js/util.js and a broken css/main.css; the fix of main.css comes
        # alone. The util.js change (another folder) must not be lost with the failed build's batch.
        (src / "js/util.js").write_text("export const x = 2;\n", encoding="utf-8")
        (src / "css/main.css").write_text('@import "nope.css";\n', encoding="utf-8")
        yield ["js/util.js", "css/main.css"]
        (src / "css/main.css").write_text('@import "theme.css";\n', encoding="utf-8")
        yield ["css/main.css"]

    watch_loop(config, edits(), lines.append)
    assert lines[1].startswith(f"error: {src}/css/main.css:1:")
    util = read_manifest(out)["js/util.js"]["path"]
    assert (out / str(util)).read_text(encoding="utf-8") == "export const x = 2;\n"


def test_a_long_session_keeps_the_first_build_record_and_only_the_latest_rebuilds(tmp_path: Path) -> None:
    src = age(write_tree(tmp_path / "src", SITE))
    out = tmp_path / "out"
    config = Config(source=src, output=out, compress=False, cache_dir=tmp_path / "cache")

    def edits() -> Iterator[Sequence[str]]:
        for i in range(6):
            (src / "css/theme.css").write_text(f"a {{ color: #00000{i}; }}\n", encoding="utf-8")
            yield ["css/theme.css"]

    watch_loop(config, edits(), lambda line: None)
    records = sorted((out / ".assetpipe" / "builds").glob("*.json"))
    assert len(records) == 2  # the first build's and the latest rebuild's, not one per save


def test_the_change_line_names_only_published_paths_not_an_editors_temporary_file(tmp_path: Path) -> None:
    src = age(write_tree(tmp_path / "src", SITE))
    config = Config(source=src, output=tmp_path / "out", compress=False, cache_dir=tmp_path / "cache")
    lines: list[str] = []

    def edits() -> Iterator[Sequence[str]]:
        # sed -i writes css/sedFIsWxT, then renames it over the file: the watcher sees both names.
        (src / "css/theme.css").write_text("a { color: teal; }\n", encoding="utf-8")
        yield ["css/sedFIsWxT", "css/theme.css"]

    watch_loop(config, edits(), lines.append)
    assert lines[1].startswith("changed css/theme.css: ")


# -- work per save is proportional to the change ---------------------------------------------------------


def test_with_compression_a_one_file_save_compresses_only_that_file_and_a_touch_rewrites_nothing(
    tmp_path: Path,
) -> None:
    files: Tree = {f"css/part{i}.css": f".p{i} {{ color: red }}\n" * 30 for i in range(300)}
    src = age(write_tree(tmp_path / "src", files))
    out = tmp_path / "out"
    config = Config(source=src, output=out, cache_dir=tmp_path / "cache", gzip_backend="zlib", jobs=1)
    lines: list[str] = []
    manifests: list[tuple[int, int]] = []

    def manifest_stat() -> tuple[int, int]:
        st = (out / "manifest.json").stat()
        return st.st_ino, st.st_mtime_ns

    def edits() -> Iterator[Sequence[str]]:
        (src / "css/part7.css").write_text(".p7 { color: blue }\n" * 30, encoding="utf-8")
        yield ["css/part7.css"]
        manifests.append(manifest_stat())
        os.utime(src / "css/part8.css")  # touched, bytes unchanged
        yield ["css/part8.css"]
        manifests.append(manifest_stat())

    watch_loop(config, edits(), lines.append)

    assert lines[1].strip().startswith("then 600 siblings compressed"), lines  # the first build's
    assert lines[2].startswith("changed css/part7.css: 1 written,"), lines
    # The second pass compresses the one new output (two encodings), and looks at no other sibling.
    assert lines[3].strip().startswith("then 2 siblings compressed, 0 from the cache"), lines
    assert lines[4].startswith("changed css/part8.css: 0 written,"), lines
    assert len(lines) == 5, "a touch leaves nothing to compress"
    assert manifests[1] == manifests[0], "a touch that changes no output does not rewrite the manifest"
    manifest = read_manifest(out)
    assert all(set(entry["encodings"]) == {"br", "gzip"} for entry in manifest.values())  # type: ignore[arg-type]


def test_an_output_edited_in_out_during_a_session_is_restored_by_the_next_rebuild(tmp_path: Path) -> None:
    with watching(tmp_path) as session:
        theme = session.out / path_of(session, "css/theme.css")
        good = theme.read_bytes()
        with open(theme, "r+b") as fh:  # same size, in place: only the watcher on OUT can tell
            fh.write(b"X" * len(good))
        wait_for(lambda: theme.read_bytes() != good, "the edit")
        time.sleep(0.2)  # let the watcher on OUT deliver the event before the save below
        (session.src / "js/util.js").write_text("export const x = 2;\n", encoding="utf-8")
        session.wait_for_rebuilds(1)
        wait_for(lambda: theme.read_bytes() == good, "the edited output restored")
