"""The no-op seal: a build that OUT already serves is answered from stats, and nothing else ever is.

Every test ages its sources first (an hour old, as a checkout usually is): a file or folder newer than the
record's racy window is never vouched for by a stat, so with fresh files every build takes the full path.
A folder's ctime must be as old, and no call can set a ctime: so every build here runs an hour after the
tree was made (the record's clock is moved on; ``real_clock`` keeps it for the tests of the racy rule).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import brotli
import pytest

from assetpipe import pipeline
from assetpipe.config import Config, Mount
from assetpipe.errors import AssetpipeError
from assetpipe.manifest import Manifest
from assetpipe.noop import seal_path
from assetpipe.pipeline import build
from assetpipe.sources import scan
from assetpipe.state import state_path
from assetpipe.verify import verify
from tests.conftest import write_tree

SITE = {
    "css/app.css": "body { background: url(../img/logo.svg) }\n" + ".pad { margin: 0 }\n" * 40,
    "css/print.css": "@media print { .pad { margin: 1cm } }\n" * 20,
    "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'>" + "<rect/>" * 80 + "</svg>\n",
    "js/app.js": "export const answer = 42;\n" * 30,
    "sw.js": "self.addEventListener('fetch', () => {});\n" * 20,
}
HOUR_AGO = time.time() - 3600


@pytest.fixture(autouse=True)
def an_hour_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds run (and records are made) an hour after the files they read were written, as in a checkout."""
    monkeypatch.setattr(pipeline, "now_ns", lambda: time.time_ns() + 3600 * 10**9)


@pytest.fixture
def real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "now_ns", time.time_ns)


def config(tmp_path: Path, **changes: object) -> Config:
    base = Config(
        source=tmp_path / "src", output=tmp_path / "out", cache_dir=tmp_path / "cache",
        gzip_backend="zlib", jobs=1,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def age(root: Path) -> None:
    """Every file and folder under ``root`` (and ``root``) an hour old, as in a checkout."""
    for folder, dirs, files in os.walk(root):
        for name in files + dirs:
            os.utime(Path(folder) / name, (HOUR_AGO, HOUR_AGO))
    os.utime(root, (HOUR_AGO, HOUR_AGO))


def site(tmp_path: Path, files: dict[str, str] | None = None) -> Config:
    write_tree(tmp_path / "src", SITE if files is None else files)
    age(tmp_path / "src")
    return config(tmp_path)


class BuiltInFull(Exception):
    pass


def refuse(*args: object, **kwargs: object) -> None:
    raise BuiltInFull


@pytest.fixture
def full_path_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the full build path fail loudly: the seal alone must answer."""
    monkeypatch.setattr(pipeline, "_build_locked", refuse)


def served(out: Path) -> dict[str, dict[str, bytes]]:
    """Per logical path, what each encoding decodes to, as a server picks siblings by existence."""
    manifest = Manifest.load(out / "manifest.json")
    found = {}
    for logical, entry in manifest.assets.items():
        path = out / entry.path
        got = {"identity": path.read_bytes()}
        if Path(f"{path}.br").exists():
            got["br"] = brotli.decompress(Path(f"{path}.br").read_bytes())
        if Path(f"{path}.gz").exists():
            got["gzip"] = gzip.decompress(Path(f"{path}.gz").read_bytes())
        found[logical] = got
    return found


def rebuilt_in_full(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Build once more, telling whether the full path ran (it is called through, not replaced)."""
    calls = []
    real = pipeline._build_locked

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(pipeline, "_build_locked", spy)
        build(cfg)
    return bool(calls)


# -- the no-op itself ------------------------------------------------------------------------------------


def test_a_rebuild_of_unchanged_sources_is_answered_by_the_seal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = site(tmp_path)
    build(cfg)
    before = {p: p.stat() for p in (tmp_path / "out").rglob("*") if p.is_file() and ".assetpipe" not in p.parts}

    assert not rebuilt_in_full(cfg, monkeypatch)
    after = {p: p.stat() for p in (tmp_path / "out").rglob("*") if p.is_file() and ".assetpipe" not in p.parts}
    assert {p: (s.st_ino, s.st_mtime_ns) for p, s in after.items()} == {
        p: (s.st_ino, s.st_mtime_ns) for p, s in before.items()
    }
    assert verify(tmp_path / "out").ok


def test_the_seals_report_says_what_the_full_no_op_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = site(tmp_path, {**SITE, "css/broken.css": ".x { background: url(missing.png) }\n"})
    cfg = replace(cfg, broken_references="warn")
    build(cfg)
    seal = seal_path(state_path(tmp_path / "cache", (tmp_path / "out").resolve()))
    seal.unlink()
    full = build(cfg)  # the full path's no-op, which leaves the seal again
    assert seal.exists()
    monkeypatch.setattr(pipeline, "_build_locked", refuse)
    quick = build(cfg)

    assert quick.warnings == full.warnings and any("missing.png" in w for w in quick.warnings)
    assert quick.outcomes == full.outcomes == {name: ("reused",) for name in full.manifest.assets}
    assert quick.summary().split(" in ")[0] == full.summary().split(" in ")[0]
    assert (quick.files, quick.bytes_in, quick.bytes_out, quick.read, quick.written) == (
        full.files, full.bytes_in, full.bytes_out, 0, 0,
    )  # fmt: skip
    assert quick.manifest == full.manifest  # read from OUT when asked
    assert quick.build_id is None and not quick.manifest_changed


# -- anything that changed: the full path runs, and OUT serves the new build -------------------------------


def _edit(tmp_path: Path) -> None:
    (tmp_path / "src/css/app.css").write_text("body { color: red }\n" * 50)


def _add(tmp_path: Path) -> None:
    (tmp_path / "src/css/new.css").write_text(".new { color: blue }\n")


def _remove(tmp_path: Path) -> None:
    (tmp_path / "src/css/print.css").unlink()


def _add_folder(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"fonts/sub/a.woff2": "woff2" * 20})


def _add_with_its_folders_mtime_put_back(tmp_path: Path) -> None:
    """As ``rsync -t`` or ``tar`` leave it: a new file, and its folder's mtime as it was."""
    (tmp_path / "src/css/new.css").write_text(".new { color: blue }\n")
    os.utime(tmp_path / "src/css", (HOUR_AGO, HOUR_AGO))


def _rename(tmp_path: Path) -> None:
    (tmp_path / "src/js/app.js").rename(tmp_path / "src/js/main.js")


def _same_size_same_mtime_in_a_new_file(tmp_path: Path) -> None:
    """Replaced by rename with other bytes of the same size and the old mtime: only the inode moved."""
    path = tmp_path / "src/js/app.js"
    st = path.stat()
    new = path.with_name("app.js.tmp")
    new.write_text("export const answer = 43;\n" * 30)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    new.replace(path)
    os.utime(path.parent, (HOUR_AGO, HOUR_AGO))  # even with its folder's mtime put back


@pytest.mark.parametrize(
    "change",
    [_edit, _add, _add_with_its_folders_mtime_put_back, _remove, _add_folder, _rename,
     _same_size_same_mtime_in_a_new_file],
)
def test_a_change_to_the_sources_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change) -> None:  # type: ignore[no-untyped-def]
    cfg = site(tmp_path)
    build(cfg)
    change(tmp_path)

    assert rebuilt_in_full(cfg, monkeypatch)
    want = {a.logical_path for a in scan(cfg)}
    assert set(Manifest.load(tmp_path / "out/manifest.json").assets) == want
    for logical, encodings in served(tmp_path / "out").items():
        source = (tmp_path / "src" / logical).read_bytes()
        if logical.endswith((".js", ".svg")) or logical == "css/print.css":
            assert set(encodings.values()) == {source}, logical
    age(tmp_path / "src")
    build(cfg)  # sealed again, with every source old enough to be vouched for by its stat
    assert not rebuilt_in_full(cfg, monkeypatch)


def test_a_source_newer_than_the_racy_window_is_never_vouched_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_clock: None) -> None:
    cfg = site(tmp_path)
    path = tmp_path / "src/js/app.js"
    os.utime(path)  # now: within the record's racy window
    build(cfg)
    st = path.stat()
    with open(path, "r+b") as fh:  # same inode, same size, and the same mtime put back
        fh.write(b"export const answer = 43;\n" * 30)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    assert rebuilt_in_full(cfg, monkeypatch)
    entry = Manifest.load(tmp_path / "out/manifest.json").entry("js/app.js")
    assert (tmp_path / "out" / entry.path).read_bytes() == path.read_bytes()


def test_any_setting_changed_means_a_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = site(tmp_path)
    build(cfg)
    for changed in (
        replace(cfg, base_url="https://cdn.example.com/static/"),
        replace(cfg, unhashed=("js/**",)),
        replace(cfg, brotli=False),
        replace(cfg, min_size=10),
    ):
        assert rebuilt_in_full(changed, monkeypatch), changed
        assert not rebuilt_in_full(changed, monkeypatch), changed
        assert verify(tmp_path / "out").ok


def test_a_budget_tightened_fails_the_no_op(tmp_path: Path) -> None:
    from assetpipe.budgets import parse_budgets

    cfg = site(tmp_path)
    build(cfg)
    build(cfg)
    with pytest.raises(AssetpipeError, match="budget"):
        build(replace(cfg, budgets=parse_budgets({"total": "1 kB"}, None)))


def test_a_failing_build_fails_again_rather_than_pass_as_a_no_op(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    build(cfg)
    (tmp_path / "src/css/app.css").write_text(".x { background: url(nowhere.png) }\n")
    for _ in range(2):
        with pytest.raises(AssetpipeError, match=r"nowhere\.png"):
            build(cfg)


# -- OUT changed behind the build's back: repaired, never taken as served ---------------------------------


def _output_rewritten(out: Path) -> None:
    entry = Manifest.load(out / "manifest.json").entry("js/app.js")
    path = out / entry.path
    with open(path, "r+b") as fh:
        fh.write(b"X" * path.stat().st_size)


def _sibling_removed(out: Path) -> None:
    entry = Manifest.load(out / "manifest.json").entry("js/app.js")
    (out / f"{entry.path}.br").unlink()


def _sibling_rewritten(out: Path) -> None:
    entry = Manifest.load(out / "manifest.json").entry("js/app.js")
    (out / f"{entry.path}.gz").write_bytes(gzip.compress(b"alert('other code')"))


def _stray_sibling(out: Path) -> None:
    entry = Manifest.load(out / "manifest.json").entry("js/app.js")
    (out / f"{entry.path}.zst").write_bytes(b"not what the manifest describes")


def _unhashed_rewritten(out: Path) -> None:
    (out / "sw.js").write_text("// tampered\n")


def _manifest_rewritten(out: Path) -> None:
    (out / "manifest.json").write_text('{"version": 1}')


def _output_removed(out: Path) -> None:
    entry = Manifest.load(out / "manifest.json").entry("css/app.css")
    (out / entry.path).unlink()


@pytest.mark.parametrize(
    "damage",
    [_output_rewritten, _sibling_removed, _sibling_rewritten, _stray_sibling, _unhashed_rewritten,
     _manifest_rewritten, _output_removed],
)  # fmt: skip
def test_out_changed_behind_the_builds_back_is_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage) -> None:  # type: ignore[no-untyped-def]
    cfg = site(tmp_path)
    build(cfg)
    good = served(tmp_path / "out")
    damage(tmp_path / "out")

    assert rebuilt_in_full(cfg, monkeypatch)
    assert served(tmp_path / "out") == good
    assert verify(tmp_path / "out").ok


def test_a_snippet_removed_is_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = replace(site(tmp_path), snippets_dir=tmp_path / "snippets")
    build(cfg)
    snippets = sorted(p.name for p in (tmp_path / "snippets").iterdir())
    assert not rebuilt_in_full(cfg, monkeypatch)
    (tmp_path / "snippets" / snippets[0]).unlink()

    assert rebuilt_in_full(cfg, monkeypatch)
    assert sorted(p.name for p in (tmp_path / "snippets").iterdir()) == snippets


def test_a_change_in_a_mount_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path / "lib", {"dist/lib.js": "export const lib = 1;\n" * 20})
    age(tmp_path / "lib")
    cfg = replace(site(tmp_path), mounts=(Mount("vendor/lib/", tmp_path / "lib"),))
    build(cfg)
    assert not rebuilt_in_full(cfg, monkeypatch)
    (tmp_path / "lib/dist/lib.js").write_text("export const lib = 2;\n" * 20)

    assert rebuilt_in_full(cfg, monkeypatch)
    entry = Manifest.load(tmp_path / "out/manifest.json").entry("vendor/lib/dist/lib.js")
    assert b"lib = 2" in (tmp_path / "out" / entry.path).read_bytes()


def test_without_compression_the_no_op_holds_and_a_change_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = replace(site(tmp_path), compress=False)
    build(cfg)
    assert not rebuilt_in_full(cfg, monkeypatch)
    _output_rewritten(tmp_path / "out")
    assert rebuilt_in_full(cfg, monkeypatch)
    assert verify(tmp_path / "out").ok


def test_a_file_symlink_in_the_sources_leaves_no_seal_and_builds_correctly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = site(tmp_path)
    (tmp_path / "src/js/alias.js").symlink_to("app.js")
    age(tmp_path / "src")
    build(cfg)
    assert not seal_path(state_path(tmp_path / "cache", (tmp_path / "out").resolve())).exists()
    assert rebuilt_in_full(cfg, monkeypatch)


# -- the seal is a cache file: whatever is in it, the build stays right ---------------------------------


def _seal_file(tmp_path: Path) -> Path:
    return seal_path(state_path(tmp_path / "cache", (tmp_path / "out").resolve()))


@pytest.mark.parametrize(
    "poison",
    [
        b"",
        b"\xff\xfe garbage",
        b"[]",
        b'{"version": 1}',
        b'{"version": 1, "key": "x", "recorded_ns": 0, "directories": 5, "suffixes": [], "out": [],'
        b' "manifest": null, "others": [], "totals": [0, 0, 0, {}, [], []]}',
        b'{"version": 1, "key": "x", "recorded_ns": "soon", "directories": [], "suffixes": [], "out": [],'
        b' "manifest": null, "others": [], "totals": [0, 0, 0, {}, [], []]}',
        b"[" * 100_000,
    ],
)
def test_a_garbled_seal_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, poison: bytes) -> None:
    cfg = site(tmp_path)
    build(cfg)
    _seal_file(tmp_path).write_bytes(poison)
    _edit(tmp_path)

    assert rebuilt_in_full(cfg, monkeypatch)
    assert verify(tmp_path / "out").ok


def test_a_seal_of_other_shapes_with_the_right_key_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = site(tmp_path)
    build(cfg)
    data = json.loads(_seal_file(tmp_path).read_bytes())
    dirs = data["directories"]
    _edit(tmp_path)
    for key, value in (
        ("directories", [[1, 2, 3]]),
        ("directories", [["/", None, "x"]]),
        ("out", [["a", [1, 2, 3], "not a list"]]),
        ("out", [[None, None, [None, None, None]]]),
        ("suffixes", [".br", 7]),
        ("directories", [{"a": 1, "b": 2, "c": 3}]),  # a JSON object where a list belongs
        ("directories", [dirs[0], [10**30, *dirs[1][1:]], *dirs[2:]]),  # a number where a path belongs
        ("out", [{"a": 1, "b": 2, "c": 3}]),
    ):
        _seal_file(tmp_path).write_text(json.dumps({**data, key: value}))
        assert rebuilt_in_full(cfg, monkeypatch), (key, value)
        _edit(tmp_path)


def test_the_seal_is_refused_after_the_assetpipe_version_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = site(tmp_path)
    build(cfg)
    monkeypatch.setattr(pipeline, "__version__", "99.0")
    assert rebuilt_in_full(cfg, monkeypatch)


def test_watch_and_repair_builds_never_take_the_seal(tmp_path: Path, full_path_refused: None) -> None:
    cfg = site(tmp_path)
    with pytest.raises(BuiltInFull):
        build(cfg, repair=True)
    with pytest.raises(BuiltInFull):
        build(cfg, defer_compression=True)


def test_the_command_line_no_op_prints_the_same_summary_and_json(tmp_path: Path) -> None:
    from assetpipe.state import RACY_NS

    site(tmp_path)
    time.sleep(RACY_NS / 1e9 + 0.1)  # these builds run now: the folders' ctimes must be older than the window

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "assetpipe", "build", "-s", "src", "-o", "out", "--cache-dir", "cache",
             "--gzip-backend", "zlib", *args],
            cwd=tmp_path, capture_output=True, text=True, check=True,
        )  # fmt: skip

    def without_times(result: subprocess.CompletedProcess[str]) -> tuple[object, str]:
        data = json.loads(result.stdout)
        del data["summary"]["seconds"]
        return data, re.sub(r" in [0-9.]+s", "", result.stderr)

    first = run("--json")
    sealed = _seal_file(tmp_path).read_bytes()
    quick = run("--json", "--verbose")
    assert _seal_file(tmp_path).read_bytes() == sealed  # answered by the seal: a full build seals anew
    _seal_file(tmp_path).unlink()
    full = run("--json", "--verbose")  # the full path's no-op

    assert without_times(quick) == without_times(full)
    data = json.loads(quick.stdout)
    assert sorted(f["logical_path"] for f in data["files"]) == sorted(SITE)
    assert [f["path"] for f in json.loads(first.stdout)["files"]] == [f["path"] for f in data["files"]]
    assert "0 written, 0 read" in quick.stderr


def test_a_deeply_nested_build_record_is_ignored_too(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    build(cfg)
    state_path(tmp_path / "cache", (tmp_path / "out").resolve()).write_bytes(b"[" * 100_000)
    _edit(tmp_path)

    build(cfg)
    assert verify(tmp_path / "out").ok


# -- found by a hostile review: each of these passed as a no-op before it was fixed -----------------------


def _link(path: Path, target: str) -> None:
    """``path`` a symlink to ``target``, replacing the one there, with its folder's times put back."""
    if path.is_symlink():
        path.unlink()
    path.symlink_to(target)
    os.utime(path.parent, (HOUR_AGO, HOUR_AGO))


@pytest.mark.parametrize("where", ["source", "mount"])
def test_a_folder_given_through_a_symlink_that_now_leads_elsewhere_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:  # type: ignore[no-untyped-def]
    """``current -> releases/1`` retargeted to ``releases/2`` (a deploy, pnpm's node_modules/.pnpm): the
    Config names the link, and the folder it leads to is another one, whose files the build must serve."""
    for n in (1, 2):
        write_tree(tmp_path / f"releases/{n}", {"js/app.js": f"export const release = {n};\n" * 20})
        write_tree(tmp_path / "src", SITE)
    age(tmp_path)
    _link(tmp_path / "current", "releases/1")
    if where == "source":
        cfg = config(tmp_path, source=tmp_path / "current")  # as a library caller passes it: not resolved
        logical = "js/app.js"
    else:
        cfg = config(tmp_path, mounts=(Mount("vendor/", tmp_path / "current"),))
        logical = "vendor/js/app.js"
    build(cfg)
    assert not rebuilt_in_full(cfg, monkeypatch)
    _link(tmp_path / "current", "releases/2")

    assert rebuilt_in_full(cfg, monkeypatch)
    entry = Manifest.load(tmp_path / "out/manifest.json").entry(logical)
    assert (tmp_path / "out" / entry.path).read_text().startswith("export const release = 2;")


def test_a_relative_source_is_the_one_in_the_working_directory_of_each_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in (1, 2):
        write_tree(tmp_path / f"p{n}/src", {"js/app.js": f"export const project = {n};\n" * 20})
    age(tmp_path)
    cfg = config(tmp_path, source=Path("src"))
    monkeypatch.chdir(tmp_path / "p1")
    build(cfg)
    monkeypatch.chdir(tmp_path / "p2")

    assert rebuilt_in_full(cfg, monkeypatch)
    entry = Manifest.load(tmp_path / "out/manifest.json").entry("js/app.js")
    assert (tmp_path / "out" / entry.path).read_text().startswith("export const project = 2;")


_KILLED_IN_PUBLISH = """
import os, signal, sys
from collections.abc import Iterator
from pathlib import Path
from assetpipe import publish
from assetpipe.config import Config
from assetpipe.pipeline import build

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

publish.record_build = die  # everything written and staged, nothing swapped in or named yet
root = Path(sys.argv[1])
build(Config(source=root / "src", output=root / "out", cache_dir=root / sys.argv[2], gzip_backend="zlib",
             jobs=1, unhashed=("css/**",)))
"""


@pytest.mark.parametrize("its_cache", ["cache", "another-cache"])
def test_a_build_killed_while_publishing_leaves_no_seal_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, its_cache: str) -> None:  # type: ignore[no-untyped-def]
    """A build with other settings, SIGKILLed with its staged set in OUT: the next build cleans up after it
    (as the full path does), rather than pass as a no-op on a seal made before it, even when the killed
    build kept its records in another cache directory (and so could not remove this seal)."""
    cfg = site(tmp_path)
    build(cfg)
    good = served(tmp_path / "out")
    child = [sys.executable, "-c", _KILLED_IN_PUBLISH, str(tmp_path), its_cache]
    killed = subprocess.run(child, check=False)
    assert killed.returncode == -9
    staging = tmp_path / "out/.assetpipe/staging"
    assert (staging / "css/app.css").exists()

    assert rebuilt_in_full(cfg, monkeypatch)
    assert not staging.exists()
    assert served(tmp_path / "out") == good
    assert not rebuilt_in_full(cfg, monkeypatch)


def test_the_no_op_does_not_repeat_the_remote_caches_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The remote is asked only when something is compressed: a no-op has nothing to warn about."""
    pytest.importorskip("boto3")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "no-such-file"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    cfg = replace(site(tmp_path), cache_url="s3://bucket/cache")
    first = build(cfg)  # compressed, and so asked the remote, which is not there
    assert any("remote cache" in w for w in first.warnings)
    quick = build(cfg)
    _seal_file(tmp_path).unlink()
    full = build(cfg)  # the full path's no-op

    assert quick.warnings == full.warnings == []


def test_every_source_is_vouched_for_when_a_mount_shares_a_folder_with_src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mount of SRC's own vendor/ (its files all excluded by the mount's filter): the scan's listings of
    the two walks have one key, and the file SRC's walk published must still be vouched for by its stat."""
    cfg = site(tmp_path, {"vendor/a.js": "export const a = 1;\n" * 20})
    cfg = replace(cfg, mounts=(Mount("vendor/", tmp_path / "src/vendor", exclude=("a.js",)),))
    build(cfg)
    path = tmp_path / "src/vendor/a.js"
    with open(path, "r+b") as fh:  # saved in place: its folder does not change
        fh.write(b"export const a = 2;\n" * 20)

    assert rebuilt_in_full(cfg, monkeypatch)
    entry = Manifest.load(tmp_path / "out/manifest.json").entry("vendor/a.js")
    assert (tmp_path / "out" / entry.path).read_bytes() == path.read_bytes()


def test_a_snippet_edited_in_place_with_its_mtime_put_back_is_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full path writes every snippet on every build; the seal must notice any edit the full path
    would undo, and only a ctime tells an edit in place from none."""
    cfg = replace(site(tmp_path), snippets_dir=tmp_path / "snippets")
    build(cfg)
    snippet = sorted((tmp_path / "snippets").iterdir())[0]
    good, st = snippet.read_bytes(), snippet.stat()
    with open(snippet, "r+b") as fh:
        fh.write(b"#" * len(good))
    os.utime(snippet, ns=(st.st_atime_ns, st.st_mtime_ns))

    assert rebuilt_in_full(cfg, monkeypatch)
    assert snippet.read_bytes() == good


def test_a_seal_that_vouches_for_nothing_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A seal restored from a poisoned or foreign cache, with the right key, naming no folder, no output
    and no manifest.json (as if it were absent): OUT emptied since must be built, not taken as served."""
    cfg = site(tmp_path)
    build(cfg)
    data = json.loads(_seal_file(tmp_path).read_bytes())
    forged = {**data, "directories": [], "out": [], "manifest": None, "others": []}
    _seal_file(tmp_path).write_text(json.dumps(forged))
    shutil.rmtree(tmp_path / "out")

    assert rebuilt_in_full(cfg, monkeypatch)
    assert set(Manifest.load(tmp_path / "out/manifest.json").assets) == set(SITE)
    assert verify(tmp_path / "out").ok


@pytest.mark.parametrize("left_out", ["src", "src/css"])
def test_a_seal_that_leaves_out_a_source_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left_out: str) -> None:
    """Only the listed folders' stats prove that no file came or went and their files' that none changed:
    a seal must list SRC and all its folders, and vouch for every source."""
    cfg = site(tmp_path)
    build(cfg)
    data = json.loads(_seal_file(tmp_path).read_bytes())
    folder = str((tmp_path / left_out).resolve())
    directories = [d for d in data["directories"] if d[0] != folder]
    assert len(directories) == len(data["directories"]) - 1
    _seal_file(tmp_path).write_text(json.dumps({**data, "directories": directories}))
    if left_out == "src":
        (tmp_path / "src/new.css").write_text(".new { color: blue }\n")  # only SRC's own stat moves
    else:
        _edit(tmp_path)  # in place: only css/app.css's own stat moves

    assert rebuilt_in_full(cfg, monkeypatch)
    assert set(Manifest.load(tmp_path / "out/manifest.json").assets) == {a.logical_path for a in scan(cfg)}
    for logical, encodings in served(tmp_path / "out").items():
        if logical.startswith(("css/print", "new", "js/")):  # no references: served as they are
            assert set(encodings.values()) == {(tmp_path / "src" / logical).read_bytes()}, logical
    if left_out == "src/css":
        assert served(tmp_path / "out")["css/app.css"]["identity"] == (tmp_path / "src/css/app.css").read_bytes()


def test_a_seal_without_the_sibling_names_is_refused_when_the_build_compresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = site(tmp_path)
    build(cfg)
    data = json.loads(_seal_file(tmp_path).read_bytes())
    data["suffixes"], data["out"] = [], [[name, stat, []] for name, stat, _ in data["out"]]
    _seal_file(tmp_path).write_text(json.dumps(data))
    _stray_sibling(tmp_path / "out")

    assert rebuilt_in_full(cfg, monkeypatch)
    assert verify(tmp_path / "out").ok


def test_a_seal_that_is_a_fifo_does_not_hang_the_build(tmp_path: Path) -> None:
    site(tmp_path)
    seal = _seal_file(tmp_path)
    seal.parent.mkdir(parents=True)
    os.mkfifo(seal)
    code = (
        "import sys; from pathlib import Path; from assetpipe.config import Config; from assetpipe.pipeline import build;"
        "r = Path(sys.argv[1]); build(Config(source=r / 'src', output=r / 'out', cache_dir=r / 'cache', jobs=1,"
        " gzip_backend='zlib'))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    assert verify(tmp_path / "out").ok


def test_a_caller_that_asks_for_the_builds_state_gets_it_from_a_no_op_too(tmp_path: Path) -> None:
    cfg = site(tmp_path)
    build(cfg)
    got = []
    build(cfg, changed=got.append)
    assert len(got) == 1 and set(got[0].files) == set(SITE)


@pytest.mark.parametrize(
    "changes",
    [{}, {"compress": False}, {"brotli": False}, {"brotli": False, "gzip": False}, {"zstd": True}],
)
def test_the_sibling_names_a_seal_must_cover_are_the_ones_the_full_path_checks(tmp_path: Path, changes: dict) -> None:  # type: ignore[type-arg]
    from assetpipe.compress import policy_for

    cfg = config(tmp_path, **changes)
    assert bool(pipeline._suffixes(cfg)) == (policy_for(cfg) is not None)


@pytest.fixture
def coarse_fs(tmp_path: Path) -> Iterator[Path]:
    """A filesystem whose timestamps have whole seconds (ext4 with 128-byte inodes, like ext3), mounted
    from an image; skipped where it cannot be (needs root, mkfs.ext4 and a loop device)."""
    image, where = tmp_path / "coarse.img", tmp_path / "coarse"
    where.mkdir()
    with open(image, "wb") as fh:
        fh.truncate(32 * 2**20)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", str(image)], capture_output=True, check=False)
    mounted = made.returncode == 0 and subprocess.run(
        ["mount", "-o", "loop", str(image), str(where)], capture_output=True, check=False
    ).returncode == 0
    if not mounted:
        pytest.skip("cannot make and mount an ext4 image with second timestamps here (needs root and loop)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_file_added_in_the_tick_the_build_listed_its_folder_is_built(coarse_fs: Path, monkeypatch: pytest.MonkeyPatch, real_clock: None) -> None:
    """On a filesystem with one-second timestamps: a file added to a folder, and the folder's mtime put back
    (``rsync -a``), in the second the build listed it. Its ctime cannot move either: only the full path,
    which lists the folder again, sees the file."""
    folder = coarse_fs / "src/css"
    for _ in range(5):  # all of it within one second of the clock; again if a second began in between
        time.sleep(1 - time.time() % 1 + 0.01)
        shutil.rmtree(coarse_fs / "src", ignore_errors=True)
        shutil.rmtree(coarse_fs / "out", ignore_errors=True)
        cfg = site(coarse_fs)
        build(cfg)
        before = folder.stat()
        _add_with_its_folders_mtime_put_back(coarse_fs)
        after = folder.stat()
        if (after.st_mtime_ns, after.st_ctime_ns) == (before.st_mtime_ns, before.st_ctime_ns):
            break
    else:
        pytest.skip("could not make the change within one second of the build")

    assert rebuilt_in_full(cfg, monkeypatch)
    assert "css/new.css" in Manifest.load(coarse_fs / "out/manifest.json").assets
