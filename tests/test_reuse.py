"""Reuse: an output (or sibling) is reused only while OUT holds exactly what the last build wrote there."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import brotli

from assetpipe.config import Config
from assetpipe.manifest import Manifest
from assetpipe.pipeline import build
from assetpipe.verify import verify
from tests.conftest import write_tree

SITE = {
    "css/app.css": "body { background: url(../img/logo.svg) }\n" + ".pad { margin: 0 }\n" * 40,
    "img/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'>" + "<rect/>" * 80 + "</svg>\n",
    "sw.js": "self.addEventListener('fetch', () => {});\n" * 20,
}


def config(tmp_path: Path) -> Config:
    return Config(source=tmp_path / "src", output=tmp_path / "out", cache_dir=tmp_path / "cache", gzip_backend="zlib", jobs=1)


def same_size_garbage(path: Path) -> None:
    """Overwrite ``path`` in place with other bytes of the same size (same inode, new mtime)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.write(b"X" * size)


def served(out: Path, logical: str) -> dict[str, bytes]:
    """What each encoding of ``logical`` decodes to, as a server would pick them by file existence."""
    entry = Manifest.load(out / "manifest.json").entry(logical)
    path = out / entry.path
    found = {"identity": path.read_bytes()}
    if Path(f"{path}.br").exists():
        found["br"] = brotli.decompress(Path(f"{path}.br").read_bytes())
    if Path(f"{path}.gz").exists():
        found["gzip"] = gzip.decompress(Path(f"{path}.gz").read_bytes())
    return found


def test_a_hashed_output_changed_in_place_with_the_same_size_is_restored_by_the_next_build(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", SITE)
    build(config(tmp_path))
    out = tmp_path / "out"
    entry = Manifest.load(out / "manifest.json").entry("css/app.css")
    good = (out / entry.path).read_bytes()
    same_size_garbage(out / entry.path)
    assert not verify(out).ok

    report = build(config(tmp_path))

    assert (out / entry.path).read_bytes() == good
    assert report.written == 1
    assert verify(out).ok


def test_a_sibling_changed_in_place_is_restored_by_the_next_build(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", SITE)
    build(config(tmp_path))
    out = tmp_path / "out"
    entry = Manifest.load(out / "manifest.json").entry("css/app.css")
    sibling = out / entry.encodings["br"].path
    good = sibling.read_bytes()
    same_size_garbage(sibling)

    build(config(tmp_path))

    assert sibling.read_bytes() == good
    assert verify(out).ok


def test_a_build_into_an_out_without_a_manifest_replaces_partial_files_left_under_its_names(
    tmp_path: Path,
) -> None:
    # Into an OUT with no manifest, free names are written in place (files.write_new). A build killed
    # there leaves partial files under the real names: the next one must never take them for its own.
    write_tree(tmp_path / "src", SITE)
    build(config(tmp_path))
    out = tmp_path / "out"
    entry = Manifest.load(out / "manifest.json").entry("css/app.css")
    good = served(out, "css/app.css")
    (out / "manifest.json").unlink()
    for name in (entry.path, entry.encodings["br"].path, entry.encodings["gzip"].path):
        with open(out / name, "r+b") as fh:
            fh.truncate(7)  # cut short, as by a kill mid-write

    build(config(tmp_path))

    assert served(out, "css/app.css") == good
    assert verify(out).ok


def test_a_stray_sibling_dropped_beside_an_output_is_checked_and_removed(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", SITE)
    build(config(tmp_path))
    out = tmp_path / "out"
    entry = Manifest.load(out / "manifest.json").entry("img/logo.svg")
    (out / entry.encodings["gzip"].path).unlink()
    # A server would pick this just because it exists; it is not the compression of the file.
    (out / entry.encodings["gzip"].path).write_bytes(gzip.compress(b"other bytes"))

    build(config(tmp_path))

    assert served(out, "img/logo.svg")["gzip"] == (out / entry.path).read_bytes()
    assert verify(out).ok


def test_a_no_op_rebuild_writes_nothing_and_reads_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", SITE)
    past = 1_600_000_000
    for path in (tmp_path / "src").rglob("*"):
        os.utime(path, (past, past))
    build(config(tmp_path))
    out = tmp_path / "out"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and ".assetpipe" not in p.parts}

    report = build(config(tmp_path))

    assert (report.read, report.written, report.compressed, report.cache_hits) == (0, 0, 0, 0)
    assert not report.manifest_changed
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and ".assetpipe" not in p.parts}
    assert after == before


def test_repair_restores_an_output_corrupted_with_its_size_and_mtime_kept(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", SITE)
    for path in (tmp_path / "src").rglob("*"):
        os.utime(path, (1_600_000_000, 1_600_000_000))  # past the record's 2 s racy window
    build(config(tmp_path))
    out = tmp_path / "out"
    entry = Manifest.load(out / "manifest.json").entry("css/app.css")
    target = out / entry.path
    sibling = out / entry.encodings["gzip"].path
    good, good_sibling = target.read_bytes(), sibling.read_bytes()
    for path in (target, sibling):
        st = path.stat()
        same_size_garbage(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # a stat that looks untouched
    build(config(tmp_path))
    assert target.read_bytes() != good, "an ordinary rebuild trusts the stat; --repair is for this"

    cli = subprocess.run(
        [sys.executable, "-m", "assetpipe", "build", "--source", str(tmp_path / "src"), "--output", str(out),
         "--cache-dir", str(tmp_path / "cache"), "--gzip-backend", "zlib", "--repair", "--quiet"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert cli.returncode == 0, cli.stderr
    assert target.read_bytes() == good
    assert sibling.read_bytes() == good_sibling
    assert verify(out).ok


def test_a_first_build_into_an_output_holding_wrong_bytes_under_the_right_name_replaces_them(
    tmp_path: Path,
) -> None:
    write_tree(tmp_path / "src", SITE)
    build(config(tmp_path))
    out = tmp_path / "out"
    entry = Manifest.load(out / "manifest.json").entry("css/app.css")
    same_size_garbage(out / entry.path)
    # Another machine (or a lost cache directory) has no record: nothing in OUT is taken on trust.
    other = Config(source=tmp_path / "src", output=out, cache_dir=tmp_path / "other-cache", gzip_backend="zlib")

    build(other)

    assert verify(out).ok


def test_a_watchers_view_of_out_names_an_output_touched_through_itself_or_any_sibling(tmp_path: Path) -> None:
    from assetpipe.reuse import OutView

    view = OutView.of(tmp_path, ["css/a.1.css.br", "robots.txt.2.gz", "js/b.3.js"])
    assert not view.untouched("css/a.1.css")  # through its .br sibling
    assert not view.untouched("robots.txt.2.gz")  # an output whose own name ends in a codec suffix
    assert not view.untouched("robots.txt.2")  # ...whose .gz sibling that name also is
    assert not view.untouched("js/b.3.js")
    assert view.untouched("css/other.4.css")
    assert OutView.of(tmp_path, []).untouched("css/a.1.css")  # nothing happened in OUT
    assert not OutView.of(tmp_path, None).untouched("css/other.4.css")  # no watcher: look at everything
