"""sources: what a scan publishes, by the one hidden-name rule, and symlinks that must not be followed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assetpipe.config import Config, Mount
from assetpipe.errors import ConfigError, EscapesSource, SourceError
from assetpipe.sources import check_layout, scan, scan_with_memo
from tests.conftest import Tree, write_tree


def scanned(src: Path, tmp_path: Path) -> list[str]:
    return [a.logical_path for a in scan(Config(source=src, output=tmp_path / "out"))]


def test_dot_names_are_skipped_at_any_depth_but_well_known_is_published(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source(
        {
            "a.css": "",
            ".env": "SECRET=1",
            "css/.cache/x.css": "",
            ".well-known/security.txt": "Contact: x\n",
            "docs/.well-known/x.txt": "",
            ".well-known/.hidden": "",
        }
    )
    assert scanned(src, tmp_path) == [".well-known/security.txt", "a.css", "docs/.well-known/x.txt"]


def test_a_symlink_to_a_hidden_file_is_refused_naming_the_link(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".secrets/key.txt": "k", "a.css": ""})
    (src / "key.txt").symlink_to(src / ".secrets" / "key.txt")
    with pytest.raises(EscapesSource, match="hidden file or folder") as info:
        scan(Config(source=src, output=tmp_path / "out"))
    assert info.value.path == "key.txt"


def test_a_symlink_into_well_known_is_published_under_its_own_name(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    src = make_source({".well-known/security.txt": "Contact: x\n"})
    (src / "security.txt").symlink_to(src / ".well-known" / "security.txt")
    assert scanned(src, tmp_path) == [".well-known/security.txt", "security.txt"]


def test_a_symlink_out_of_the_source_is_refused(make_source: Callable[[Tree], Path], tmp_path: Path) -> None:
    src = make_source({"a.css": ""})
    (tmp_path / "outside.txt").write_text("x")
    (src / "b.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "src-sibling").mkdir()
    (src / "c").symlink_to(tmp_path / "src-sibling")  # a name that merely starts like SRC's
    with pytest.raises(EscapesSource, match="outside the source root"):
        scan(Config(source=src, output=tmp_path / "out"))


def test_a_source_behind_a_symlink_loop_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ConfigError, match="cannot resolve source directory"):
        check_layout(Config(source=tmp_path / "a" / "src", output=tmp_path / "out"))


def test_a_rescan_told_of_a_change_rereads_a_folder_that_holds_a_link_to_the_changed_file(
    tmp_path: Path,
) -> None:
    # A watcher names the target (b/real.css), never the link in a/: a/ must not come from the memo.
    src = write_tree(tmp_path / "src", {"a/x.css": "a{}", "b/real.css": "b{}"})
    (src / "a/link.css").symlink_to("../b/real.css")
    config = Config(source=src, output=tmp_path / "out")
    _, memo = scan_with_memo(config)
    (src / "b/real.css").write_text("b { color: blue }")
    assets, _ = scan_with_memo(config, memo=memo, touched=["b/real.css"])
    sizes = {a.logical_path: a.size for a in assets}
    assert sizes["a/link.css"] == sizes["b/real.css"] == len("b { color: blue }")


# -- mounts -------------------------------------------------------------------------------------------
def mounted(tmp_path: Path, *mounts: Mount, **kw: object) -> list[tuple[str, str]]:
    config = Config(source=tmp_path / "src", output=tmp_path / "out", mounts=mounts, **kw)  # type: ignore[arg-type]
    return [(a.logical_path, str(Path(a.source).relative_to(tmp_path))) for a in scan(config)]


def test_a_mount_is_read_under_its_prefix_with_its_own_filters_and_the_configs(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"js/app.js": ""})
    write_tree(tmp_path / "nm/lit", {"index.js": "", "index.d.ts": "", "x/a.js": "", "x/a.js.map": "",
                                     ".npmignore": ""})
    mount = Mount("vendor/lit/", tmp_path / "nm/lit", exclude=("*.ts",))
    assert mounted(tmp_path, mount, exclude=("*.map",)) == [
        ("js/app.js", "src/js/app.js"),
        ("vendor/lit/index.js", "nm/lit/index.js"),
        ("vendor/lit/x/a.js", "nm/lit/x/a.js"),
    ]


def test_a_symlink_in_a_mount_may_lead_into_another_mount_or_the_source_but_nowhere_else(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path / "src", {"js/shared.js": ""})
    write_tree(tmp_path / "packages/ui", {"ui.js": ""})
    write_tree(tmp_path / "nm", {"real.js": ""})
    (tmp_path / "nm" / "ui").symlink_to(tmp_path / "packages" / "ui")  # an npm workspace link
    (tmp_path / "nm" / "shared.js").symlink_to(tmp_path / "src" / "js" / "shared.js")
    mounts = (Mount("vendor/", tmp_path / "nm"), Mount("ui-src/", tmp_path / "packages"))
    assert [name for name, _ in mounted(tmp_path, *mounts)] == [
        "js/shared.js", "ui-src/ui/ui.js", "vendor/real.js", "vendor/shared.js", "vendor/ui/ui.js"
    ]
    (tmp_path / "elsewhere.js").write_text("")
    (tmp_path / "nm" / "evil.js").symlink_to(tmp_path / "elsewhere.js")
    with pytest.raises(EscapesSource, match="outside the source root and the mounts") as info:
        mounted(tmp_path, *mounts)
    assert info.value.path == f"vendor/evil.js ({tmp_path / 'nm' / 'evil.js'})"


def test_two_files_on_one_logical_path_are_an_error_naming_both(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"vendor/lit/index.js": "mine"})
    write_tree(tmp_path / "nm/lit", {"index.js": "theirs"})
    with pytest.raises(SourceError, match="two files have this logical path") as info:
        mounted(tmp_path, Mount("vendor/lit/", tmp_path / "nm/lit"))
    assert info.value.path == "vendor/lit/index.js"
    assert str(tmp_path / "nm/lit/index.js") in info.value.message


@pytest.mark.parametrize(
    ("where", "problem"),
    [("missing", "is not a directory"), ("out/sub", "overlaps the output directory"),
     (".", "overlaps the output directory"), ("src/..", "overlaps the output directory")],
)
def test_a_mount_that_is_missing_or_overlaps_out_is_a_config_error(
    tmp_path: Path, where: str, problem: str
) -> None:
    write_tree(tmp_path / "src", {"a.js": ""})
    (tmp_path / "out" / "sub").mkdir(parents=True)
    with pytest.raises(ConfigError, match=problem):
        mounted(tmp_path, Mount("v/", tmp_path / where))


def test_a_mount_containing_the_source_is_refused(tmp_path: Path) -> None:
    write_tree(tmp_path / "proj/src", {"a.js": ""})
    config = Config(source=tmp_path / "proj/src", output=tmp_path / "out", mounts=(Mount("v/", tmp_path / "proj"),))
    with pytest.raises(ConfigError, match="contains the source directory"):
        scan(config)


def test_a_rescan_with_what_a_watcher_saw_restats_saved_files_and_relists_for_new_gone_or_linked_ones(
    make_source: Callable[[Tree], Path], tmp_path: Path
) -> None:
    from assetpipe.sources import scan_with_memo

    src = make_source({f"css/s{i}.css": f"a{i}{{}}" for i in range(50)} | {"js/a.js": "1"})
    cfg = Config(source=src, output=tmp_path / "out")
    _, memo = scan_with_memo(cfg)

    def rescan(touched: set[str]) -> dict[str, tuple[int, int]]:
        nonlocal memo
        assets, memo = scan_with_memo(cfg, memo=memo, touched=touched)
        return {a.logical_path: (a.size, a.inode) for a in assets}

    (src / "css/s7.css").write_text("a much longer rule{}")  # saved in place: the folder is as it was
    seen = rescan({"css/s7.css"})
    assert seen["css/s7.css"][0] == len("a much longer rule{}") and len(seen) == 51
    (src / "css/new.css").write_text("n{}")
    (src / "css/s3.css").unlink()
    seen = rescan({"css/new.css", "css/s3.css"})
    assert "css/new.css" in seen and "css/s3.css" not in seen and len(seen) == 51
    (src / "css/s4.css").unlink()
    (src / "css/s4.css").symlink_to("s5.css")  # the same name, now a link to a sibling
    seen = rescan({"css/s4.css"})
    assert seen["css/s4.css"] == seen["css/s5.css"]
    assert {a.logical_path for a in scan(cfg)} == set(seen)
